package serde

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riferrei/srclient"
	"golang.org/x/sync/singleflight"
)

// Registry is the part of a Confluent Schema Registry client that this
// package uses: five calls, all satisfied by *srclient.SchemaRegistryClient
// (github.com/riferrei/srclient v0.7.3).
//
// The codecs put their own layer in front of it (see the package
// documentation, "Registry and caching"): an id → schema cache read without
// locks, one request for concurrent misses of one key, retries of 408/429/5xx
// and transport errors with backoff inside the caller's context deadline, and
// no cached failures. They never call (*srclient.Schema).Codec() or
// JsonSchema(), which race, and never GetLatestSchema, which srclient caches
// forever: "latest" is GetSchemaVersions (never cached by srclient) followed
// by GetSchemaByVersion, re-read after the codec's latest TTL.
//
// Implementations must be safe for concurrent use. Leave srclient's codec
// creation off (its default): with it on, srclient builds an Avro codec for
// every schema it fetches and fails on Protobuf and JSON schemas.
type Registry interface {
	// GetSchema returns the schema with the given global id.
	GetSchema(schemaID int) (*srclient.Schema, error)
	// GetSchemaVersions lists the versions registered under subject.
	GetSchemaVersions(subject string) ([]int, error)
	// GetSchemaByVersion returns one version of a subject.
	GetSchemaByVersion(subject string, version int) (*srclient.Schema, error)
	// CreateSchema registers schema under subject (or finds it registered)
	// and returns it with its id.
	CreateSchema(subject string, schema string, schemaType srclient.SchemaType, references ...srclient.Reference) (*srclient.Schema, error)
	// LookupSchema returns the registered schema under subject that equals
	// schema, with its id and version.
	LookupSchema(subject string, schema string, schemaType srclient.SchemaType, references ...srclient.Reference) (*srclient.Schema, error)
}

var _ Registry = (*srclient.SchemaRegistryClient)(nil)

// schemaInfo is an immutable snapshot of one registered schema.
type schemaInfo struct {
	id      int
	version int
	text    string
	typ     string // "AVRO", "PROTOBUF" or "JSON"
	refs    []srclient.Reference
}

func infoOf(s *srclient.Schema) *schemaInfo {
	typ := avroFormat // the registry leaves schemaType out for Avro
	if t := s.SchemaType(); t != nil && *t != "" {
		typ = strings.ToUpper(string(*t))
	}
	return &schemaInfo{id: s.ID(), version: s.Version(), text: s.Schema(), typ: typ, refs: s.References()}
}

// retryPolicy bounds the retries of one registry call; the caller's context
// deadline bounds them too.
type retryPolicy struct {
	attempts int
	initial  time.Duration
	max      time.Duration
}

var defaultRetry = retryPolicy{attempts: 5, initial: 50 * time.Millisecond, max: time.Second}

// client is a codec's view of the registry: caches, coalescing, retries.
type client struct {
	r     Registry
	retry retryPolicy
	ttl   time.Duration // for latest

	byID      cowMap[int, *schemaInfo]
	byVersion cowMap[string, *schemaInfo] // subject\x00version
	ids       cowMap[string, *schemaInfo] // registrations and lookups
	latest    cowMap[string, latestEntry]
	group     singleflight.Group
}

type latestEntry struct {
	info    *schemaInfo
	fetched time.Time
}

func newClient(r Registry, retry retryPolicy, ttl time.Duration) *client {
	return &client{r: r, retry: retry, ttl: ttl}
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
	v, err := c.do(ctx, "id\x00"+strconv.Itoa(id), func() (any, error) {
		s, err := c.r.GetSchema(id)
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
	v, err := c.do(ctx, "ver\x00"+key, func() (any, error) {
		s, err := c.r.GetSchemaByVersion(subject, version)
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
// version too (references need it; srclient's CreateSchema does not return
// it).
func (c *client) register(ctx context.Context, create bool, subject, text, typ string, refs []srclient.Reference, withVersion bool) (*schemaInfo, error) {
	key := registrationKey(create, subject, text, refs)
	if s, ok := c.ids.load(key); ok && (!withVersion || s.version > 0) {
		return s, nil
	}
	st := srclient.SchemaType(typ)
	v, err := c.do(ctx, "reg\x00"+key, func() (any, error) {
		var info *schemaInfo
		if create {
			s, err := c.r.CreateSchema(subject, text, st, refs...)
			if err != nil {
				return nil, err
			}
			info = &schemaInfo{id: s.ID(), version: s.Version(), text: text, typ: typ, refs: refs}
		}
		if !create || (withVersion && info.version <= 0) {
			s, err := c.r.LookupSchema(subject, text, st, refs...)
			if err != nil {
				return nil, err
			}
			info = &schemaInfo{id: s.ID(), version: s.Version(), text: text, typ: typ, refs: refs}
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

func registrationKey(create bool, subject, text string, refs []srclient.Reference) string {
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
	v, err := c.do(ctx, "latest\x00"+subject, func() (any, error) {
		versions, err := c.r.GetSchemaVersions(subject)
		if err != nil {
			return nil, err
		}
		if len(versions) == 0 {
			return nil, errf(ErrUnknownSchema, nil, "subject %q has no versions", subject)
		}
		sort.Ints(versions)
		s, err := c.r.GetSchemaByVersion(subject, versions[len(versions)-1])
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

// do runs one registry call: concurrent callers with the same key share each
// attempt (singleflight), each caller waits only as long as its own ctx
// allows, retryable failures are retried with jittered exponential backoff
// while attempts and the ctx deadline allow. srclient's calls take no
// context, so an attempt a caller gave up on runs on in the background until
// srclient's own HTTP timeout (5 s by default).
func (c *client) do(ctx context.Context, key string, fn func() (any, error)) (any, error) {
	backoff := c.retry.initial
	var last error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, giveUp(err, last)
		}
		ch := c.group.DoChan(key, fn)
		select {
		case <-ctx.Done():
			return nil, giveUp(ctx.Err(), last)
		case res := <-ch:
			if res.Err == nil {
				return res.Val, nil
			}
			sentinel, retryable, cause := classify(res.Err)
			if !retryable {
				return nil, wrapOnce(sentinel, cause)
			}
			last = cause
			if attempt >= c.retry.attempts {
				return nil, errf(ErrRegistry, cause, "%d attempts failed", attempt)
			}
		}
		sleep := backoff/2 + rand.N(backoff/2+1)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < sleep {
			return nil, errf(ErrRegistry, last, "no time left before the context deadline to retry (attempt %d)", attempt)
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, giveUp(ctx.Err(), last)
		case <-t.C:
		}
		backoff = min(2*backoff, c.retry.max)
	}
}

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

// SubjectNameStrategy names the registry subject under which a serializer
// registers or looks up its schema. recordName is the schema's record name:
// the Avro record's full name, the Protobuf message's full name, or the JSON
// Schema's "title".
type SubjectNameStrategy func(t Target, recordName string) string

// TopicNameStrategy is the default: "<topic>-key" or "<topic>-value".
func TopicNameStrategy(t Target, _ string) string {
	if t.IsKey {
		return t.Topic + "-key"
	}
	return t.Topic + "-value"
}

// RecordNameStrategy uses the record name alone, so one subject spans topics.
func RecordNameStrategy(_ Target, recordName string) string { return recordName }

// TopicRecordNameStrategy is "<topic>-<record name>", for topics that carry
// several record types.
func TopicRecordNameStrategy(t Target, recordName string) string {
	return t.Topic + "-" + recordName
}
