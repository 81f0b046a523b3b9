package serde

import (
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/riferrei/srclient"
)

// maxText bounds how much of a registry's or a library's message enters
// an error.
const maxText = 200

// oneLine makes text from a registry (or a library) fit in an error
// message: trimmed, line breaks and other control characters turned into
// spaces, at most maxText bytes (cut on a rune boundary, marked
// with "...").
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "(no message)"
	}
	cut := len(s) > maxText
	if cut {
		n := maxText
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if cut {
		s += "..."
	}
	return s
}

// urlHint ends the message of an answer that a Schema Registry would not
// give, so that the reader checks the configuration first.
const urlHint = "is the registry URL right?"

// classify maps a registry client error to a sentinel, says whether trying
// again may help, and returns the cause to report: a *described (its text
// says what the registry answered, with registry text through oneLine;
// srclient's error, whose text is the raw body, stays in the chain for
// errors.As), or err itself when it already holds one of this package's
// sentinels.
//
// srclient v0.7.3 reports a non-2xx answer in one of two ways. When the
// body decodes as a JSON object it returns srclient.Error with the body's
// error_code and message; the HTTP status itself is lost. Otherwise (HTML,
// plain text, empty) it returns an error whose text is the HTTP status line,
// "404 Not Found". Transport errors (refused connection, DNS, TLS,
// srclient's HTTP timeout) come as *url.Error. A 2xx answer that is not the
// JSON it expects comes as an encoding/json error.
//
// Only a Confluent error code says what the registry meant: 404xx (40401
// subject, 40402 version, 40403 schema not found, 40404-40407 soft
// deleted, ...) is ErrUnknownSchema, 409 and 409xx (40901 incompatible) is
// ErrIncompatible, 422 and 422xx (42201 invalid schema, ...) is
// ErrInvalidSchema. The same statuses without such a code are not the
// registry's answer (a wrong host, path prefix or proxy), so they are
// ErrRegistry: the bare code 404 too, which is what Confluent's web layer
// answers for a path it does not serve. 401 and 403, with or without a code,
// are ErrRegistryAuth. 408, 429 and 5xx, with or without a code, and
// transport errors are ErrRegistry and retried. Anything else is ErrRegistry
// and not retried.
func classify(err error) (sentinel error, retryable bool, cause error) {
	for _, s := range []error{ErrUnknownSchema, ErrRegistry, ErrInvalidSchema, ErrIncompatible} {
		if errors.Is(err, s) {
			return s, false, err
		}
	}
	var se srclient.Error
	if errors.As(err, &se) {
		return classifyCode(se.Code, oneLine(se.Message), err)
	}
	if status, ok := statusLine(err.Error()); ok {
		return classifyStatus(status, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Op == "parse" {
		return ErrRegistry, false, describe(err, "%s: %s", oneLine(err.Error()), urlHint)
	}
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return ErrRegistry, true, err
	}
	var syn *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &te) {
		return ErrRegistry, false, describe(err, "the answer is not Schema Registry JSON (%s): %s", oneLine(err.Error()), urlHint)
	}
	return ErrRegistry, false, describe(err, "%s", oneLine(err.Error()))
}

// classifyCode classifies a JSON error body with error_code code.
func classifyCode(code int, msg string, err error) (error, bool, error) {
	status := code // Confluent's own codes are the HTTP status and two digits
	if code >= 10000 && code <= 59999 {
		status = code / 100
	}
	said := describe(err, "the registry answered error code %d: %s", code, msg)
	switch {
	case status == 401 || status == 403:
		return ErrRegistryAuth, false, said
	case status == 408 || status == 429 || status >= 500 && status <= 599:
		return ErrRegistry, true, said
	case status == 404 && code != 404:
		return ErrUnknownSchema, false, said
	case status == 409:
		return ErrIncompatible, false, said
	case status == 422:
		return ErrInvalidSchema, false, said
	case code == 0:
		return ErrRegistry, false, describe(err, "an HTTP error without a Schema Registry error code (%s): %s", msg, urlHint)
	case code == 404:
		return ErrRegistry, false, describe(err, "error code 404 (%s) is not a Schema Registry 404xx code: %s", msg, urlHint)
	}
	return ErrRegistry, false, said
}

// classifyStatus classifies an HTTP error whose body was not JSON.
func classifyStatus(status int, err error) (error, bool, error) {
	line := oneLine(err.Error())
	switch {
	case status == 401 || status == 403:
		return ErrRegistryAuth, false, describe(err, "HTTP %s", line)
	case status == 408 || status == 429 || status >= 500:
		return ErrRegistry, true, describe(err, "HTTP %s", line)
	}
	return ErrRegistry, false, describe(err, "HTTP %s without a Schema Registry error code: %s", line, urlHint)
}

// statusLine reads the HTTP status from the text srclient gives a non-JSON
// error answer: the status line, "503 Service Unavailable".
func statusLine(msg string) (int, bool) {
	if len(msg) < 3 || len(msg) > 3 && msg[3] != ' ' {
		return 0, false
	}
	n, err := strconv.Atoi(msg[:3])
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return n, true
}
