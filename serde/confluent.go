package serde

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/riferrei/srclient"
)

// Confluent returns the Registry of a Confluent Schema Registry (or a
// compatible one) reached through c, a github.com/riferrei/srclient v0.7.3
// client; it returns nil for a nil c, which the codecs reject with
// ErrInvalidOption. One Registry serves any number of codecs.
//
// # Contexts
//
// srclient's calls take no context. Each call of the returned Registry
// runs the srclient call on a goroutine of its own and returns when the
// call does or when ctx ends, whichever comes first; in the second case it
// returns ctx.Err() at once, and the abandoned srclient call runs on in the
// background until srclient's HTTP client ends it (5 s by default: see
// (*srclient.SchemaRegistryClient).SetTimeout; an *http.Client given with
// srclient.WithClient must have a Timeout, or an abandoned call lasts as
// long as the server keeps it waiting). Its answer is dropped. A ctx that
// has already ended makes no call.
//
// # Errors
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
// transport errors are ErrRegistry and retried by the codecs. Anything else
// is ErrRegistry and not retried. The registry's message enters the error
// trimmed, on one line and cut to 200 bytes; srclient's error, whose text is
// the raw body, stays in the chain for errors.As.
//
// # srclient settings
//
// Leave c's codec creation off (its default): with it on, srclient builds an
// Avro codec for every schema it fetches and fails on Protobuf and JSON
// schemas. The codecs never call (*srclient.Schema).Codec() or JsonSchema(),
// which race, nor GetLatestSchema, which srclient caches forever: "latest"
// is GetSchemaVersions (never cached by srclient), then GetSchemaByVersion.
// c's own caches may stay on: what they hold by id or version never changes.
func Confluent(c *srclient.SchemaRegistryClient) Registry {
	if c == nil {
		return nil
	}
	return confluent{c: c}
}

// confluent adapts *srclient.SchemaRegistryClient to Registry.
type confluent struct {
	c *srclient.SchemaRegistryClient
}

var _ Registry = confluent{}

func (r confluent) SchemaByID(ctx context.Context, id int) (Schema, error) {
	return schemaOf(call(ctx, func() (*srclient.Schema, error) { return r.c.GetSchema(id) }))
}

func (r confluent) SubjectVersions(ctx context.Context, subject string) ([]int, error) {
	return call(ctx, func() ([]int, error) { return r.c.GetSchemaVersions(subject) })
}

func (r confluent) SchemaByVersion(ctx context.Context, subject string, version int) (Schema, error) {
	return schemaOf(call(ctx, func() (*srclient.Schema, error) { return r.c.GetSchemaByVersion(subject, version) }))
}

func (r confluent) Register(ctx context.Context, subject string, s Schema) (Schema, error) {
	typ, refs := srclientType(s.Type), srclientRefs(s.References)
	return schemaOf(call(ctx, func() (*srclient.Schema, error) { return r.c.CreateSchema(subject, s.Text, typ, refs...) }))
}

func (r confluent) Lookup(ctx context.Context, subject string, s Schema) (Schema, error) {
	typ, refs := srclientType(s.Type), srclientRefs(s.References)
	return schemaOf(call(ctx, func() (*srclient.Schema, error) { return r.c.LookupSchema(subject, s.Text, typ, refs...) }))
}

// call runs fn, which cannot be stopped, on a goroutine and waits for it or
// for ctx. The result channel is buffered, so the goroutine of an abandoned
// fn ends when fn does, without a reader. An answer that is there when ctx
// ends is taken. fn's error goes through confluentError.
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		select {
		case r = <-done:
		default:
			return zero, ctx.Err()
		}
	}
	if r.err != nil {
		return zero, confluentError(r.err)
	}
	return r.v, nil
}

// schemaOf converts srclient's answer.
func schemaOf(s *srclient.Schema, err error) (Schema, error) {
	if err != nil {
		return Schema{}, err
	}
	if s == nil {
		return Schema{}, fmt.Errorf("%w: srclient returned no schema and no error", ErrRegistry)
	}
	out := Schema{ID: s.ID(), Version: s.Version(), Text: s.Schema()}
	if t := s.SchemaType(); t != nil {
		out.Type = string(*t)
	}
	if refs := s.References(); len(refs) > 0 {
		out.References = make([]Reference, len(refs))
		for i, r := range refs {
			out.References[i] = Reference{Name: r.Name, Subject: r.Subject, Version: r.Version}
		}
	}
	return out, nil
}

func srclientType(typ string) srclient.SchemaType {
	if typ == "" {
		return srclient.Avro
	}
	return srclient.SchemaType(typ)
}

func srclientRefs(refs []Reference) []srclient.Reference {
	if len(refs) == 0 {
		return nil
	}
	out := make([]srclient.Reference, len(refs))
	for i, r := range refs {
		out[i] = srclient.Reference{Name: r.Name, Subject: r.Subject, Version: r.Version}
	}
	return out
}

// urlHint ends the message of an answer that a Schema Registry would not
// give, so that the reader checks the configuration first.
const urlHint = "is the registry URL right?"

// confluentError says what an srclient error means, as Confluent's doc
// comment ("Errors") lays out: an error holding the sentinel for a final
// answer, or a *temporary for one worth retrying. The cause is a
// *described (its text says what the registry answered, with registry text
// through oneLine; srclient's error stays in the chain), or the transport
// error itself.
func confluentError(err error) error {
	sentinel, retryable, cause := classifyConfluent(err)
	if retryable {
		return &temporary{err: cause}
	}
	return fmt.Errorf("%w: %w", sentinel, cause)
}

func classifyConfluent(err error) (sentinel error, retryable bool, cause error) {
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
