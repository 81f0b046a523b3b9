package serde

import "context"

// written is what a serializer writes with for one Target: the subject,
// the schema id, and the codec's own writer state W (an Avro schema, a
// Protobuf header-and-indexes prefix, a compiled JSON Schema).
type written[W any] struct {
	subject string
	ref     schemaRef
	w       W
}

// targets is the per-Target cache and lookup that every registry
// serializer shares; a codec supplies the three steps that differ.
type targets[W any] struct {
	c      *client
	cfg    *config
	format string // the registry schema type: "AVRO", "PROTOBUF", "JSON"

	// subject names t's subject (with cfg's strategy and the codec's
	// record name).
	subject func(ctx context.Context, t Target) (string, error)
	// latest makes W for info, the subject's latest version
	// (WithUseLatest).
	latest func(ctx context.Context, subject string, info *schemaInfo) (W, error)
	// own registers, or looks up (WithAutoRegister(false)), the codec's
	// own schema under subject and makes W for it.
	own func(ctx context.Context, subject string) (ref schemaRef, w W, err error)

	cache cowMap[Target, *written[W]]
}

// get returns what to write to t with: without WithUseLatest, the codec's
// own schema, registered or looked up once per Target; with it, the latest
// version of the subject, kept while it stays the latest (re-read after
// the TTL: client.latestOf). Failures are not cached.
func (ts *targets[W]) get(ctx context.Context, t Target) (*written[W], error) {
	if tg, ok := ts.cache.load(t); ok {
		if !ts.cfg.useLatest {
			return tg, nil
		}
		latest, err := ts.c.latestOf(ctx, tg.subject, ts.format)
		if err != nil {
			return nil, err
		}
		if latest.ref() == tg.ref {
			return tg, nil
		}
	}
	subject, err := ts.subject(ctx, t)
	if err != nil {
		return nil, err
	}
	tg := &written[W]{subject: subject}
	if ts.cfg.useLatest {
		info, err := ts.c.latestOf(ctx, subject, ts.format)
		if err != nil {
			return nil, err
		}
		if tg.w, err = ts.latest(ctx, subject, info); err != nil {
			return nil, err
		}
		tg.ref = info.ref()
	} else if tg.ref, tg.w, err = ts.own(ctx, subject); err != nil {
		return nil, err
	}
	ts.cache.store(t, tg)
	return tg, nil
}
