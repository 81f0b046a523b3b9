package serde

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/internal/flight"
	"github.com/kafkalambda/kafka-lambda-go/internal/retry"
)

// schemaInfo is an immutable snapshot of one registered schema.
type schemaInfo struct {
	id      int
	version int
	text    string
	typ     string // "AVRO", "PROTOBUF" or "JSON"
	refs    []Reference
}

func infoOf(s Schema) *schemaInfo {
	typ := avroFormat // the registry leaves the type out for Avro
	if s.Type != "" {
		typ = strings.ToUpper(s.Type)
	}
	return &schemaInfo{id: s.ID, version: s.Version, text: s.Text, typ: typ, refs: s.References}
}

// defaultRetry is WithRetry's default.
var defaultRetry = retry.Policy{Attempts: 5, Initial: 50 * time.Millisecond, Max: time.Second}

// client is a codec's view of the registry: caches, coalescing, retries.
type client struct {
	r     Registry
	retry retry.Policy
	ttl   time.Duration // for latest

	byID      cowMap[int, *schemaInfo]
	byVersion cowMap[string, *schemaInfo] // subject\x00version
	ids       cowMap[string, *schemaInfo] // registrations and lookups
	latest    cowMap[string, latestEntry]
	group     flight.Group[any]
}

type latestEntry struct {
	info    *schemaInfo
	fetched time.Time
}

func newClient(r Registry, p retry.Policy, ttl time.Duration) *client {
	return &client{r: r, retry: p, ttl: ttl}
}

// schemaByID returns the schema with the given id, which must be of type typ
// ("AVRO", "PROTOBUF" or "JSON"; ErrFormatMismatch if not). Ids are
// immutable, so a hit is final; a failure is not remembered.
func (c *client) schemaByID(ctx context.Context, id int, typ string) (*schemaInfo, error) {
	s, err := c.fetchByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.typ != typ {
		return nil, errf(ErrFormatMismatch, nil, "schema id %d is %s, not %s", id, s.typ, typ)
	}
	return s, nil
}

// fetchByID is schemaByID of any type.
func (c *client) fetchByID(ctx context.Context, id int) (*schemaInfo, error) {
	if s, ok := c.byID.load(id); ok {
		return s, nil
	}
	if id <= 0 {
		return nil, errf(ErrUnknownSchema, nil, "schema id %d", id)
	}
	v, err := c.do(ctx, "id\x00"+strconv.Itoa(id), func(ctx context.Context) (any, error) {
		s, err := c.r.SchemaByID(ctx, id)
		if err != nil {
			return nil, err
		}
		info := infoOf(s)
		info.id = id
		c.byID.store(id, info)
		return info, nil
	})
	if err != nil {
		return nil, fmt.Errorf("get schema id %d: %w", id, err)
	}
	return v.(*schemaInfo), nil
}

// schemaByVersion returns one version of a subject (used for references).
func (c *client) schemaByVersion(ctx context.Context, subject string, version int) (*schemaInfo, error) {
	key := subject + "\x00" + strconv.Itoa(version)
	if s, ok := c.byVersion.load(key); ok {
		return s, nil
	}
	v, err := c.do(ctx, "ver\x00"+key, func(ctx context.Context) (any, error) {
		s, err := c.r.SchemaByVersion(ctx, subject, version)
		if err != nil {
			return nil, err
		}
		info := infoOf(s)
		c.byVersion.store(key, info)
		return info, nil
	})
	if err != nil {
		return nil, fmt.Errorf("get subject %q version %d: %w", subject, version, err)
	}
	return v.(*schemaInfo), nil
}

// register registers (create) or finds (lookup) a schema under subject and
// remembers the answer for the life of the codec. withVersion asks for the
// version too (references need it; a Confluent registry's answer to a
// registration does not carry it).
func (c *client) register(ctx context.Context, create bool, subject, text, typ string, refs []Reference, withVersion bool) (*schemaInfo, error) {
	key := registrationKey(create, subject, text, refs)
	if s, ok := c.ids.load(key); ok && (!withVersion || s.version > 0) {
		return s, nil
	}
	want := Schema{Type: typ, Text: text, References: refs}
	v, err := c.do(ctx, "reg\x00"+key, func(ctx context.Context) (any, error) {
		var info *schemaInfo
		if create {
			s, err := c.r.Register(ctx, subject, want)
			if err != nil {
				return nil, err
			}
			info = &schemaInfo{id: s.ID, version: s.Version, text: text, typ: typ, refs: refs}
		}
		if !create || (withVersion && info.version <= 0) {
			s, err := c.r.Lookup(ctx, subject, want)
			if err != nil {
				return nil, err
			}
			info = &schemaInfo{id: s.ID, version: s.Version, text: text, typ: typ, refs: refs}
		}
		c.ids.store(key, info)
		return info, nil
	})
	if err != nil {
		verb := "register"
		if !create {
			verb = "look up"
		}
		return nil, fmt.Errorf("%s schema under subject %q: %w", verb, subject, err)
	}
	return v.(*schemaInfo), nil
}

func registrationKey(create bool, subject, text string, refs []Reference) string {
	var b strings.Builder
	if create {
		b.WriteString("c\x00")
	} else {
		b.WriteString("l\x00")
	}
	b.WriteString(subject)
	b.WriteByte(0)
	b.WriteString(text)
	for _, r := range refs {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%d", r.Name, r.Subject, r.Version)
	}
	return b.String()
}

// latestOf returns the latest version registered under subject, read again
// once it is older than the codec's TTL. It must be of type typ
// (ErrFormatMismatch if not).
func (c *client) latestOf(ctx context.Context, subject, typ string) (*schemaInfo, error) {
	s, err := c.fetchLatest(ctx, subject)
	if err != nil {
		return nil, err
	}
	if s.typ != typ {
		return nil, errf(ErrFormatMismatch, nil, "latest schema of %q is %s, not %s", subject, s.typ, typ)
	}
	return s, nil
}

// fetchLatest is latestOf of any type.
func (c *client) fetchLatest(ctx context.Context, subject string) (*schemaInfo, error) {
	if e, ok := c.latest.load(subject); ok && time.Since(e.fetched) < c.ttl {
		return e.info, nil
	}
	v, err := c.do(ctx, "latest\x00"+subject, func(ctx context.Context) (any, error) {
		versions, err := c.r.SubjectVersions(ctx, subject)
		if err != nil {
			return nil, err
		}
		if len(versions) == 0 {
			return nil, errf(ErrUnknownSchema, nil, "subject %q has no versions", subject)
		}
		sort.Ints(versions)
		s, err := c.r.SchemaByVersion(ctx, subject, versions[len(versions)-1])
		if err != nil {
			return nil, err
		}
		info := infoOf(s)
		c.latest.store(subject, latestEntry{info: info, fetched: time.Now()})
		return info, nil
	})
	if err != nil {
		return nil, fmt.Errorf("get latest schema of subject %q: %w", subject, err)
	}
	return v.(*schemaInfo), nil
}

// do runs one registry call through retry.Do with the codec's policy:
// concurrent callers with the same key share each attempt (flight.Group),
// each caller waits only as long as its own ctx allows, and retryable
// failures (see classify) are retried with jittered exponential backoff
// while attempts and the ctx deadline allow.
//
// An attempt is shared, so the first caller giving up must not end it: it
// runs with that caller's values, until it returns or every caller waiting
// for it has given up (then its context is canceled; with a Registry that
// cannot stop a call, it runs until the call itself returns, and a success
// is still cached).
func (c *client) do(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	var val any
	err := retry.Do(ctx, c.retry, func(ctx context.Context) (bool, error) {
		v, err := c.group.Do(ctx, key, fn)
		switch {
		case err == nil:
			val = v
			return false, nil
		case ctx.Err() != nil:
			return true, ctx.Err()
		}
		sentinel, retryable, cause := classify(err)
		if retryable {
			return true, cause
		}
		return false, wrapOnce(sentinel, cause)
	})
	var gaveUp *retry.Error
	switch {
	case err == nil:
		return val, nil
	case !errors.As(err, &gaveUp):
		return nil, err
	case gaveUp.Reason == retry.ErrAttempts:
		return nil, errf(ErrRegistry, gaveUp.Last, "%d attempts failed", gaveUp.Attempts)
	case gaveUp.Reason == retry.ErrNoTime:
		return nil, errf(ErrRegistry, gaveUp.Last, "no time left before the context deadline to retry (attempt %d)", gaveUp.Attempts)
	}
	return nil, giveUp(gaveUp.Reason, gaveUp.Last)
}

// giveUp is the error of a caller whose ctx ended: ErrRegistry with the
// context's error and the last failure, if any.
func giveUp(ctxErr, last error) error {
	if last != nil {
		return fmt.Errorf("%w: %w (last error: %w)", ErrRegistry, ctxErr, last)
	}
	return fmt.Errorf("%w: %w", ErrRegistry, ctxErr)
}

// wrapOnce wraps err with sentinel unless err already matches it (errors the
// codec made itself, such as "no versions").
func wrapOnce(sentinel, err error) error {
	if errors.Is(err, sentinel) {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
