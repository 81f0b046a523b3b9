package serde

import (
	"errors"
	"net"
	"strings"
	"unicode/utf8"
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

// temporary marks a failure that an adapter in this package (Confluent)
// knows may go away: an HTTP 408, 429 or 5xx answer, a transport error.
// The codecs retry it. To a caller of the adapter itself it is ErrRegistry
// (errors.Is matches it, and the message says so).
type temporary struct{ err error }

func (t *temporary) Error() string        { return ErrRegistry.Error() + ": " + t.err.Error() }
func (t *temporary) Unwrap() error        { return t.err }
func (t *temporary) Is(target error) bool { return target == ErrRegistry }

// classify says what a Registry call's error means, following the
// Registry contract: the sentinel to report, whether trying again may
// help, and the cause to put in the chain.
//
//   - A failure an adapter of this package marked temporary: ErrRegistry,
//     retried.
//   - An error that holds ErrUnknownSchema, ErrRegistry (ErrRegistryAuth
//     too), ErrInvalidSchema or ErrIncompatible: that sentinel, final.
//     Adapters put what the registry answered this way, and so do the
//     codecs' own checks ("no versions").
//   - A net.Error (transport failures, timeouts, context.DeadlineExceeded
//     from a call that its context cut short): ErrRegistry, retried.
//   - Anything else: ErrRegistry, final, its text trimmed to one line.
func classify(err error) (sentinel error, retryable bool, cause error) {
	var t *temporary
	if errors.As(err, &t) {
		return ErrRegistry, true, t.err
	}
	for _, s := range []error{ErrUnknownSchema, ErrRegistry, ErrInvalidSchema, ErrIncompatible} {
		if errors.Is(err, s) {
			return s, false, err
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ErrRegistry, true, err
	}
	return ErrRegistry, false, describe(err, "%s", oneLine(err.Error()))
}
