// Package eventpattern matches JSON documents against the event patterns
// of Lambda event filtering (FilterCriteria): the subset of the EventBridge
// pattern language that Lambda's "Filter rule syntax" documents.
//
// A pattern is a JSON object. A field maps to a nested pattern (the
// document's field must be an object that matches it) or to an array of
// rules, any of which may match; all fields must match (and). "$or" maps
// to an array of patterns, any of which may match. A rule is a literal
// (string, number, boolean or null: equals), or an object with one
// operator: "prefix", "suffix" (a string, or {"equals-ignore-case": s}),
// "equals-ignore-case", "anything-but" (a literal, an array of literals,
// or {"prefix": s} / {"suffix": s}), "numeric" (comparisons "=", "<",
// "<=", ">", ">=" and their operands, one or two of them), "exists"
// (true or false). A document's field that is an array matches when any
// element does. Anything else is a *SyntaxError naming where.
package eventpattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Pattern is a compiled event pattern. It is safe for concurrent use.
type Pattern struct {
	root *object
}

// SyntaxError is a pattern that does not compile: Path says where
// ("value.device_ID[0]"), Reason what is wrong.
type SyntaxError struct {
	Path, Reason string
}

func (e *SyntaxError) Error() string {
	if e.Path == "" {
		return "event pattern: " + e.Reason
	}
	return "event pattern at " + e.Path + ": " + e.Reason
}

type object struct {
	fields map[string]*field
	or     []*object
}

// field is a nested pattern or a list of rules.
type field struct {
	nested *object
	rules  []rule
}

type ruleKind int

const (
	kEquals ruleKind = iota
	kNull
	kPrefix
	kSuffix
	kIgnoreCase
	kPrefixIgnoreCase
	kSuffixIgnoreCase
	kAnythingBut
	kAnythingButPrefix
	kAnythingButSuffix
	kNumeric
	kExists
)

type rule struct {
	kind   ruleKind
	lit    any // kEquals: string, float64 or bool
	s      string
	not    []any // kAnythingBut: literals
	cmp    []cmpOp
	exists bool
}

type cmpOp struct {
	op string
	v  float64
}

// Compile parses a pattern.
func Compile(pattern string) (*Pattern, error) {
	d := json.NewDecoder(strings.NewReader(pattern))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, &SyntaxError{Reason: "not JSON: " + err.Error()}
	}
	if d.More() {
		return nil, &SyntaxError{Reason: "text after the pattern"}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &SyntaxError{Reason: "not a JSON object"}
	}
	root, err := compileObject(m, "")
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

// Fields returns the pattern's top-level field names, those under "$or"
// included.
func (p *Pattern) Fields() []string {
	var out []string
	var walk func(o *object)
	walk = func(o *object) {
		for k := range o.fields {
			out = append(out, k)
		}
		for _, alt := range o.or {
			walk(alt)
		}
	}
	walk(p.root)
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func compileObject(m map[string]any, path string) (*object, error) {
	if len(m) == 0 {
		return nil, &SyntaxError{Path: path, Reason: "empty object"}
	}
	o := &object{fields: map[string]*field{}}
	for k, v := range m {
		p := join(path, k)
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return nil, &SyntaxError{Path: p, Reason: "$or takes an array of at least two patterns"}
			}
			for i, a := range alts {
				am, ok := a.(map[string]any)
				if !ok {
					return nil, &SyntaxError{Path: fmt.Sprintf("%s[%d]", p, i), Reason: "not an object"}
				}
				alt, err := compileObject(am, path)
				if err != nil {
					return nil, err
				}
				o.or = append(o.or, alt)
			}
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			n, err := compileObject(v, p)
			if err != nil {
				return nil, err
			}
			o.fields[k] = &field{nested: n}
		case []any:
			if len(v) == 0 {
				return nil, &SyntaxError{Path: p, Reason: "empty rule array"}
			}
			f := &field{}
			for i, r := range v {
				cr, err := compileRule(r, fmt.Sprintf("%s[%d]", p, i))
				if err != nil {
					return nil, err
				}
				f.rules = append(f.rules, cr)
			}
			o.fields[k] = f
		default:
			return nil, &SyntaxError{Path: p, Reason: "a field takes an object or an array of rules"}
		}
	}
	return o, nil
}

func literal(v any, path string) (any, error) {
	switch v := v.(type) {
	case string, bool:
		return v, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, &SyntaxError{Path: path, Reason: "number out of range"}
		}
		return f, nil
	}
	return nil, &SyntaxError{Path: path, Reason: "not a string, number or boolean"}
}

func compileRule(v any, path string) (rule, error) {
	if v == nil {
		return rule{kind: kNull}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		lit, err := literal(v, path)
		return rule{kind: kEquals, lit: lit}, err
	}
	if len(m) != 1 {
		return rule{}, &SyntaxError{Path: path, Reason: "a rule object takes exactly one operator"}
	}
	for op, arg := range m {
		p := path + "." + op
		switch op {
		case "prefix", "suffix":
			s, ok := arg.(string)
			if ok {
				return rule{kind: map[string]ruleKind{"prefix": kPrefix, "suffix": kSuffix}[op], s: s}, nil
			}
			if im, ok := arg.(map[string]any); ok && len(im) == 1 {
				if s, ok := im["equals-ignore-case"].(string); ok {
					return rule{kind: map[string]ruleKind{"prefix": kPrefixIgnoreCase, "suffix": kSuffixIgnoreCase}[op], s: strings.ToLower(s)}, nil
				}
			}
			return rule{}, &SyntaxError{Path: p, Reason: "takes a string or {\"equals-ignore-case\": string}"}
		case "equals-ignore-case":
			s, ok := arg.(string)
			if !ok {
				return rule{}, &SyntaxError{Path: p, Reason: "takes a string"}
			}
			return rule{kind: kIgnoreCase, s: strings.ToLower(s)}, nil
		case "exists":
			b, ok := arg.(bool)
			if !ok {
				return rule{}, &SyntaxError{Path: p, Reason: "takes true or false"}
			}
			return rule{kind: kExists, exists: b}, nil
		case "anything-but":
			switch a := arg.(type) {
			case []any:
				if len(a) == 0 {
					return rule{}, &SyntaxError{Path: p, Reason: "empty list"}
				}
				r := rule{kind: kAnythingBut}
				for i, x := range a {
					lit, err := literal(x, fmt.Sprintf("%s[%d]", p, i))
					if err != nil {
						return rule{}, err
					}
					r.not = append(r.not, lit)
				}
				return r, nil
			case map[string]any:
				if len(a) == 1 {
					if s, ok := a["prefix"].(string); ok {
						return rule{kind: kAnythingButPrefix, s: s}, nil
					}
					if s, ok := a["suffix"].(string); ok {
						return rule{kind: kAnythingButSuffix, s: s}, nil
					}
				}
				return rule{}, &SyntaxError{Path: p, Reason: "takes a literal, a list of literals, {\"prefix\": s} or {\"suffix\": s}"}
			default:
				lit, err := literal(a, p)
				if err != nil {
					return rule{}, err
				}
				return rule{kind: kAnythingBut, not: []any{lit}}, nil
			}
		case "numeric":
			return compileNumeric(arg, p)
		}
		return rule{}, &SyntaxError{Path: p, Reason: "unknown operator (Lambda's filter rule syntax does not document it)"}
	}
	panic("unreachable")
}

func compileNumeric(arg any, path string) (rule, error) {
	a, ok := arg.([]any)
	if !ok || (len(a) != 2 && len(a) != 4) {
		return rule{}, &SyntaxError{Path: path, Reason: "takes [op, number] or [op, number, op, number]"}
	}
	r := rule{kind: kNumeric}
	for i := 0; i < len(a); i += 2 {
		op, ok := a[i].(string)
		if !ok || (op != "=" && op != "<" && op != "<=" && op != ">" && op != ">=") || (len(a) == 4 && op == "=") {
			return rule{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", path, i), Reason: "not a comparison (=, <, <=, >, >=; = stands alone)"}
		}
		n, ok := a[i+1].(json.Number)
		if !ok {
			return rule{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", path, i+1), Reason: "not a number"}
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			return rule{}, &SyntaxError{Path: fmt.Sprintf("%s[%d]", path, i+1), Reason: "number out of range"}
		}
		r.cmp = append(r.cmp, cmpOp{op, f})
	}
	if len(r.cmp) == 2 {
		lo, hi := r.cmp[0], r.cmp[1]
		if !strings.HasPrefix(lo.op, ">") || !strings.HasPrefix(hi.op, "<") || lo.v > hi.v {
			return rule{}, &SyntaxError{Path: path, Reason: "a range is [\">\" or \">=\", low, \"<\" or \"<=\", high]"}
		}
	}
	return r, nil
}

// Match reports whether doc, a decoded JSON document (as encoding/json
// decodes into any, numbers as float64 or json.Number), matches p.
func (p *Pattern) Match(doc map[string]any) bool {
	return p.root.match(doc)
}

func (o *object) match(doc map[string]any) bool {
	for k, f := range o.fields {
		v, present := doc[k]
		if !f.match(v, present) {
			return false
		}
	}
	if len(o.or) == 0 {
		return true
	}
	for _, alt := range o.or {
		if alt.match(doc) {
			return true
		}
	}
	return false
}

func (f *field) match(v any, present bool) bool {
	if f.nested != nil {
		m, ok := v.(map[string]any)
		return present && ok && f.nested.match(m)
	}
	for _, r := range f.rules {
		if r.kind == kExists {
			if r.exists == (present && !isEmptyArray(v)) {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		if arr, ok := v.([]any); ok {
			for _, x := range arr {
				if r.match(x) {
					return true
				}
			}
			continue
		}
		if r.match(v) {
			return true
		}
	}
	return false
}

func isEmptyArray(v any) bool {
	a, ok := v.([]any)
	return ok && len(a) == 0
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func equal(lit, v any) bool {
	switch l := lit.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == l
	case bool:
		b, ok := v.(bool)
		return ok && b == l
	case float64:
		f, ok := number(v)
		return ok && f == l
	}
	return false
}

func (r *rule) match(v any) bool {
	if _, isObject := v.(map[string]any); isObject {
		return false // rules apply to leaves
	}
	s, isString := v.(string)
	switch r.kind {
	case kEquals:
		return equal(r.lit, v)
	case kNull:
		return v == nil
	case kPrefix:
		return isString && strings.HasPrefix(s, r.s)
	case kSuffix:
		return isString && strings.HasSuffix(s, r.s)
	case kIgnoreCase:
		return isString && strings.ToLower(s) == r.s
	case kPrefixIgnoreCase:
		return isString && strings.HasPrefix(strings.ToLower(s), r.s)
	case kSuffixIgnoreCase:
		return isString && strings.HasSuffix(strings.ToLower(s), r.s)
	case kAnythingBut:
		if v == nil {
			return false
		}
		for _, lit := range r.not {
			if equal(lit, v) {
				return false
			}
		}
		return true
	case kAnythingButPrefix:
		return isString && !strings.HasPrefix(s, r.s)
	case kAnythingButSuffix:
		return isString && !strings.HasSuffix(s, r.s)
	case kNumeric:
		f, ok := number(v)
		if !ok {
			return false
		}
		for _, c := range r.cmp {
			if !compare(f, c) {
				return false
			}
		}
		return true
	}
	return false
}

func compare(f float64, c cmpOp) bool {
	switch c.op {
	case "=":
		return f == c.v
	case "<":
		return f < c.v
	case "<=":
		return f <= c.v
	case ">":
		return f > c.v
	}
	return f >= c.v
}

// Decode decodes a JSON document for Match, numbers as json.Number. ok is
// false when data is not one JSON value.
func Decode(data []byte) (v any, ok bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	return v, true
}
