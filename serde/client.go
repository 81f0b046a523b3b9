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

// schemaRef names one registered schema: a Confluent schema id, or an AWS
// Glue schema version id (guid). Exactly one is set in a ref read from a
// record; the zero ref means unknown.
//
// cguid marks guid as a Confluent schema GUID (read from a schema id
// header, magic byte 1) rather than an AWS Glue schema version id.
type schemaRef struct {
	id    int
	guid  uuid
	cguid bool
}

// String names the ref in error messages.
func (r schemaRef) String() string {
	if r == bundledKey {
		return "the bundled schema"
	}
	if r.cguid {
		return "schema guid " + r.guid.String()
	}
	if r.guid != (uuid{}) {
		return "schema version id " + r.guid.String()
	}
	return "schema id " + strconv.Itoa(r.id)
}

// schemaInfo is an immutable snapshot of one registered schema.
type schemaInfo struct {
	id      int
	guid    uuid // the AWS Glue schema version id; zero for Confluent
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
	g, _ := parseUUID(s.GUID)
	return &schemaInfo{id: s.ID, guid: g, version: s.Version, text: s.Text, typ: typ, refs: s.References}
}

// ref is the name of info in the registry it came from.
func (s *schemaInfo) ref() schemaRef { return schemaRef{id: s.id, guid: s.guid} }

// defaultRetry is WithRetry's default.
var defaultRetry = retry.Policy{Attempts: 5, Initial: 50 * time.Millisecond, Max: time.Second}

// client is a codec's view of the registry: caches, coalescing, retries.
type client struct {
	r       Registry
	glue    glueKind         // r, when it is an AWS Glue registry; nil for Confluent
	bundled *bundledRegistry // r, when it is Bundled
	// glueWire: the codec writes AWS Glue's wire format (a Glue registry,
	// or a bundled schema whose write id is a Glue schema version id);
	// compress: zlib bodies (Glue's WithGlueCompression)
	glueWire, compress bool
	retry              retry.Policy
	ttl                time.Duration // for latest

	byID      cowMap[schemaRef, *schemaInfo]
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
	c := &client{r: r, retry: p, ttl: ttl}
	switch r := r.(type) {
	case glueKind:
		c.glue, c.glueWire, c.compress = r, true, r.compresses()
	case *bundledRegistry:
		c.bundled, c.glueWire = r, r.glue
	}
	return c
}

// key is the ref the codec caches what it knows of ref's schema under:
// ref itself, except with a Bundled registry, which checks ref against its
// allowed ids (ErrSchemaNotAllowed) and maps every id to one key. The
// codecs call it before they look in a cache of theirs.
func (c *client) key(ref schemaRef) (schemaRef, error) {
	if c.bundled == nil {
		return ref, nil
	}
	return c.bundled.key(ref)
}

// schemaByID returns the schema with the given id, which must be of type typ
// ("AVRO", "PROTOBUF" or "JSON"; ErrFormatMismatch if not). Ids are
// immutable, so a hit is final; a failure is not remembered.
func (c *client) schemaByID(ctx context.Context, ref schemaRef, typ string) (*schemaInfo, error) {
	s, err := c.fetchByID(ctx, ref)
	if err != nil {
		return nil, err
	}
	if s.typ != typ {
		return nil, errf(ErrFormatMismatch, nil, "%s is %s, not %s", ref, s.typ, typ)
	}
	return s, nil
}

// fetchByID is schemaByID of any type.
//
// A ref of the other registry's kind (a Glue schema version id for a
// Confluent registry, a Confluent id for a Glue one) is ErrFormatMismatch:
// the record was written through another registry.
func (c *client) fetchByID(ctx context.Context, ref schemaRef) (*schemaInfo, error) {
	if s, ok := c.byID.load(ref); ok {
		return s, nil
	}
	if c.bundled != nil { // no call to make, nothing to cache
		if ref != c.bundled.cacheKey() {
			if _, err := c.bundled.key(ref); err != nil {
				return nil, err
			}
		}
		return c.bundled.info, nil
	}
	var byGUID GUIDRegistry
	switch {
	case ref.cguid && c.glue != nil:
		return nil, errf(ErrFormatMismatch, nil, "%s is a Confluent schema GUID, and the codec's registry is AWS Glue", ref)
	case ref.cguid:
		g, ok := c.r.(GUIDRegistry)
		if !ok {
			return nil, errf(ErrUnknownSchema, nil, "%s: the codec's registry does not look schemas up by GUID (it does not implement GUIDRegistry)", ref)
		}
		byGUID = g
	case ref.guid != (uuid{}) && c.glue == nil:
		return nil, errf(ErrFormatMismatch, nil, "%s is an AWS Glue schema version id, and the codec's registry is a Confluent one", ref)
	case ref.guid == (uuid{}) && c.glue != nil:
		return nil, errf(ErrFormatMismatch, nil, "%s is a Confluent schema id, and the codec's registry is AWS Glue", ref)
	case ref.guid == (uuid{}) && ref.id <= 0:
		return nil, errf(ErrUnknownSchema, nil, "%s", ref)
	}
	v, err := c.do(ctx, "id\x00"+ref.String(), func(ctx context.Context) (any, error) {
		var s Schema
		var err error
		switch {
		case byGUID != nil:
			s, err = byGUID.SchemaByGUID(ctx, ref.guid.String())
		case c.glue != nil:
			s, err = c.glue.schemaByVersionID(ctx, ref.guid)
		default:
			s, err = c.r.SchemaByID(ctx, ref.id)
		}
		if err != nil {
			return nil, err
		}
		info := infoOf(s)
		if byGUID != nil {
			info.guid = ref.guid // keeps the id the registry gave, for writers
		} else {
			info.id, info.guid = ref.id, ref.guid
		}
		c.byID.store(ref, info)
		return info, nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	return v.(*schemaInfo), nil
}

// appendPrefix appends the wire header for ref to dst: Confluent's for a
// Confluent registry, AWS Glue's (uncompressed; finish compresses) for a
// Glue one.
func (c *client) appendPrefix(dst []byte, ref schemaRef) []byte {
	if c.glueWire {
		return appendGlueHeader(dst, glueNone, ref.guid)
	}
	return appendHeader(dst, ref.id)
}

// finish makes the final bytes of a record written after appendPrefix:
// for a Glue registry that compresses, the body zlib-compressed.
func (c *client) finish(out []byte) ([]byte, error) {
	if !c.glueWire {
		return out, nil
	}
	return glueFrame(out, c.compress)
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
			info = registered(s, text, typ, refs)
		}
		if !create || (withVersion && info.version <= 0) {
			s, err := c.r.Lookup(ctx, subject, want)
			if err != nil {
				return nil, err
			}
			info = registered(s, text, typ, refs)
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

// registered is what the client keeps of a registration or lookup.
func registered(s Schema, text, typ string, refs []Reference) *schemaInfo {
	g, _ := parseUUID(s.GUID)
	return &schemaInfo{id: s.ID, guid: g, version: s.Version, text: text, typ: typ, refs: refs}
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
