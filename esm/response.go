package esm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// parseItemFailures reads a response as a batch item failures document and
// returns, for each reported partition, the offsets it lists, in increasing
// order, each once.
//
// As AWS does: an empty response, null, an object without
// batchItemFailures, a null or empty list all mean success (no failures).
// Anything else that is not
//
//	{"batchItemFailures":[{"itemIdentifier":{"partition":"<topic>-<n>","offset":<n>}}, ...]}
//
// with each partition a key of the event and each offset (a JSON integer) a
// record of that partition in the event, fails the whole batch
// (ErrBadResponse).
func parseItemFailures(payload []byte, j *job) (map[*partState][]int64, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || string(p) == "null" {
		return nil, nil
	}
	if p[0] != '{' {
		return nil, badResponse("not a JSON object: %.60q", p)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(p, &doc); err != nil {
		return nil, badResponse("%v", err)
	}
	list, ok := doc["batchItemFailures"]
	if !ok || string(bytes.TrimSpace(list)) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(list, &items); err != nil {
		return nil, badResponse("batchItemFailures: %v", err)
	}
	failed := map[*partState][]int64{}
	for i, raw := range items {
		var item struct {
			ID *struct {
				Partition *string         `json:"partition"`
				Offset    json.RawMessage `json:"offset"`
			} `json:"itemIdentifier"`
		}
		if err := json.Unmarshal(raw, &item); err != nil {
			return nil, badResponse("batchItemFailures[%d]: %v", i, err)
		}
		if item.ID == nil || item.ID.Partition == nil || item.ID.Offset == nil {
			return nil, badResponse("batchItemFailures[%d]: no itemIdentifier with partition and offset", i)
		}
		// A JSON integer; not a string, not a fraction or exponent.
		off, err := strconv.ParseInt(string(item.ID.Offset), 10, 64)
		if err != nil {
			return nil, badResponse("batchItemFailures[%d]: offset %.30s is not an integer", i, item.ID.Offset)
		}
		ps := findRecord(j, *item.ID.Partition, off)
		if ps == nil {
			return nil, badResponse("batchItemFailures[%d]: %s@%d is not in the batch", i, *item.ID.Partition, off)
		}
		failed[ps] = append(failed[ps], off)
	}
	for ps, offs := range failed {
		slices.Sort(offs)
		failed[ps] = slices.Compact(offs)
	}
	return failed, nil
}

// findRecord returns the partition of j keyed key that holds offset, or nil.
func findRecord(j *job, key string, offset int64) *partState {
	for _, p := range j.parts {
		if p.ps.key != key {
			continue
		}
		for _, r := range p.recs {
			if r.raw.Offset == offset {
				return p.ps
			}
		}
	}
	return nil
}

func badResponse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadResponse, fmt.Sprintf(format, args...))
}
