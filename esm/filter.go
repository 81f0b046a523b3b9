package esm

import (
	"unicode/utf8"

	"github.com/kafkalambda/kafka-lambda-go/esm/internal/eventpattern"
)

// Filter limits, as AWS documents them for an event source mapping: five
// filters by default, ten with a quota increase.
const (
	DefaultMaxFilters = 5
	MaxFilters        = 10
)

// WithFilterCriteria sets the mapping's FilterCriteria: each pattern is a
// Filter's Pattern, in the event pattern syntax of Lambda event filtering,
// and a record is delivered when it matches any of them. As AWS allows for
// Kafka, a pattern may name only the record's "value": a value that is
// JSON is matched as the decoded document (`{"value": {"device_ID":
// [{"prefix": "AB"}]}}`), any other UTF-8 value as a plain string
// (`{"value": [{"anything-but": ["error"]}]}`); a value that is not UTF-8
// matches no pattern, and a null value has no "value" field. A record that
// matches none is not delivered; it counts as handled (Stats.RecordsFiltered)
// and its offset is committed with its batch. Default: none, every record
// is delivered. More than DefaultMaxFilters patterns is warned about (AWS
// needs a quota increase), more than MaxFilters refused, as is a pattern
// that does not compile (a typed *eventpattern error naming where).
func WithFilterCriteria(patterns ...string) Option {
	return func(s *settings) {
		if len(patterns) > MaxFilters {
			s.bad("%d filters: AWS takes at most %d", len(patterns), MaxFilters)
		}
		if len(patterns) > DefaultMaxFilters {
			s.warn("%d filters: AWS takes %d unless its quota is raised (to at most %d)", len(patterns), DefaultMaxFilters, MaxFilters)
		}
		s.filters = nil
		for i, p := range patterns {
			c, err := eventpattern.Compile(p)
			if err != nil {
				s.bad("filter %d: %w", i, err)
				continue
			}
			for _, f := range c.Fields() {
				if f != "value" {
					s.bad("filter %d: field %q: Kafka event source mappings filter on \"value\" only", i, f)
				}
			}
			s.filters = append(s.filters, c)
		}
	}
}

// matches reports whether r passes the filters: any of them matches its
// value.
func matches(filters []*eventpattern.Pattern, r *rec) bool {
	doc := map[string]any{}
	if v := r.raw.Value; v != nil {
		if !utf8.Valid(v) {
			return false
		}
		if j, ok := eventpattern.Decode(v); ok {
			doc["value"] = j
		} else {
			doc["value"] = string(v)
		}
	}
	for _, f := range filters {
		if f.Match(doc) {
			return true
		}
	}
	return false
}

// filter removes from j the records that match none of the filters and
// counts them handled: they stay under their part's commit position, so
// the batch's commit covers them. It returns how many it removed.
func (e *runEnv) filter(j *job) int {
	if len(e.set.filters) == 0 {
		return 0
	}
	n := 0
	for i := range j.parts {
		p := &j.parts[i]
		kept := p.recs[:0:0]
		for _, r := range p.recs {
			if matches(e.set.filters, r) {
				kept = append(kept, r)
				continue
			}
			r.ps.handled(1)
			n++
		}
		p.recs = kept
	}
	if n > 0 {
		e.stats.filtered.Add(int64(n))
		e.log.Debug("esm: records filtered out", "records", n)
	}
	return n
}
