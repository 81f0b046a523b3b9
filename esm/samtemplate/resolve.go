package samtemplate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// resolver evaluates the intrinsic functions a local run can: Ref to a
// parameter (its override, else its Default) or AWS::NoValue, Fn::If with
// the template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or,
// Condition), Fn::Sub over parameters, Fn::Join, Fn::Split, Fn::Select and
// Fn::FindInMap. Anything else (Fn::GetAtt, a Ref to a resource or to a
// pseudo parameter, Fn::ImportValue, ...) is unresolved: the value is
// reported at its path and left out. So is a string Fn::Sub or Fn::Join
// would make past maxString, or past the budget maxSpent.
type resolver struct {
	params     map[string]param
	conditions map[string]any
	mappings   map[string]any
	resources  map[string]any
	conds      map[string]condState
	notes      []Finding
	noted      map[string]bool
	spent      int // bytes of strings Fn::Sub and Fn::Join have made
}

// maxString bounds one string Fn::Sub or Fn::Join makes, and maxSpent all
// they make for one mapping, so that a hostile template (a Sub whose
// variable is a Sub, ten times over) cannot make gigabytes from a
// kilobyte. A string past them is unresolved. CloudFormation's own
// template limit is 1 MB; no value of a mapping comes near 64 KiB.
const (
	maxString = 64 << 10
	maxSpent  = 1 << 20
)

// spend charges n bytes of made string to the budget.
func (r *resolver) spend(n int) error {
	if n > maxString {
		return unres("makes a string over %d bytes", maxString)
	}
	if r.spent += n; r.spent > maxSpent {
		return unres("the template's Fn::Sub and Fn::Join make more than %d bytes in all", maxSpent)
	}
	return nil
}

type param struct {
	value any // string, or []any of strings for list types
	ok    bool
}

type condState struct {
	done, value, busy bool
	err               error
}

// noValue is what Ref AWS::NoValue resolves to: the key or list element
// holding it is dropped.
type noValue struct{}

func isNoValue(v any) bool { _, ok := v.(noValue); return ok }

// unresolved is why a value could not be resolved.
type unresolved struct{ why string }

func (u *unresolved) Error() string { return u.why }

func unres(format string, args ...any) error { return &unresolved{why: fmt.Sprintf(format, args...)} }

func newResolver(doc map[string]any, overrides map[string]string) (*resolver, error) {
	r := &resolver{
		params:     map[string]param{},
		conditions: asMap(doc["Conditions"]),
		mappings:   asMap(doc["Mappings"]),
		resources:  asMap(doc["Resources"]),
		conds:      map[string]condState{},
		noted:      map[string]bool{},
	}
	decl := asMap(doc["Parameters"])
	for name := range overrides {
		if _, ok := decl[name]; !ok {
			return nil, fmt.Errorf("samtemplate: %w: override of %q, which the template's Parameters do not declare", ErrInvalidOption, name)
		}
	}
	for name, d := range decl {
		def := asMap(d)
		raw, ok := overrides[name]
		if !ok {
			dv, has := def["Default"]
			if !has {
				r.params[name] = param{}
				continue
			}
			raw, ok = scalarString(dv)
			if !ok {
				return nil, fmt.Errorf("%w: Parameters.%s.Default is a %s, not a string", ErrTemplate, name, kindName(dv))
			}
		} else if allowed, has := def["AllowedValues"].([]any); has {
			found := false
			for _, a := range allowed {
				if s, _ := scalarString(a); s == raw {
					found = true
				}
			}
			if !found {
				// The value is left out: it may be a NoEcho secret.
				return nil, fmt.Errorf("samtemplate: %w: the override of %s is not one of Parameters.%s.AllowedValues %v", ErrInvalidOption, name, name, allowed)
			}
		}
		typ, _ := def["Type"].(string)
		if typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<") {
			var list []any
			for _, p := range strings.Split(raw, ",") {
				list = append(list, strings.TrimSpace(p))
			}
			r.params[name] = param{value: list, ok: true}
			continue
		}
		r.params[name] = param{value: raw, ok: true}
	}
	return r, nil
}

// note records f once per path.
func (r *resolver) note(path, format string, args ...any) {
	if r.noted[path] {
		return
	}
	r.noted[path] = true
	r.notes = append(r.notes, Finding{Path: path, Message: fmt.Sprintf(format, args...)})
}

// value resolves v, found at path. It returns ok false when some part of
// v could not be resolved, after noting why at that part's path.
func (r *resolver) value(v any, path string) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		if fn, arg, ok := single(t); ok && (fn == "Ref" || strings.HasPrefix(fn, "Fn::")) {
			out, err := r.fn(fn, arg, path)
			if err != nil {
				r.note(path, "%s: %v", fn, err)
				return nil, false
			}
			return out, true
		}
		out := make(map[string]any, len(t))
		all := true
		for _, k := range sortedKeys(t) {
			e, ok := r.value(t[k], path+"."+k)
			all = all && ok
			if ok && !isNoValue(e) {
				out[k] = e
			}
		}
		return out, all
	case []any:
		out := make([]any, 0, len(t))
		all := true
		for i, x := range t {
			e, ok := r.value(x, fmt.Sprintf("%s[%d]", path, i))
			all = all && ok
			if ok && !isNoValue(e) {
				out = append(out, e)
			}
		}
		return out, all
	}
	return v, true
}

// fn evaluates one intrinsic function; its arguments are resolved first.
func (r *resolver) fn(name string, arg any, path string) (any, error) {
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, unres("the name is a %s", kindName(arg))
		}
		return r.ref(s)
	case "Fn::If":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			return nil, unres("want [condition, value if true, value if false]")
		}
		c, ok := args[0].(string)
		if !ok {
			return nil, unres("the condition name is a %s", kindName(args[0]))
		}
		on, err := r.condition(c)
		if err != nil {
			return nil, err
		}
		branch := args[2]
		if on {
			branch = args[1]
		}
		return r.strict(branch, path)
	case "Fn::Sub":
		return r.sub(arg, path)
	case "Fn::Join":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, unres("want [delimiter, list]")
		}
		delim, ok := args[0].(string)
		if !ok {
			return nil, unres("the delimiter is a %s", kindName(args[0]))
		}
		list, err := r.strict(args[1], path)
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, unres("joins a %s, not a list", kindName(list))
		}
		parts := make([]string, len(items))
		n := len(delim) * max(len(items)-1, 0)
		for i, it := range items {
			if parts[i], ok = scalarString(it); !ok {
				return nil, unres("element %d is a %s", i, kindName(it))
			}
			n += len(parts[i])
		}
		if err := r.spend(n); err != nil {
			return nil, err
		}
		return strings.Join(parts, delim), nil
	case "Fn::Split":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, unres("want [delimiter, string]")
		}
		delim, ok := args[0].(string)
		if !ok || delim == "" {
			return nil, unres("the delimiter is not a string")
		}
		s, err := r.strictString(args[1], path)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, unres("want [index, list]")
		}
		is, err := r.strictString(args[0], path)
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, unres("index %q is not a number", is)
		}
		list, err := r.strict(args[1], path)
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok || i < 0 || i >= len(items) {
			return nil, unres("index %d out of the list", i)
		}
		return items[i], nil
	case "Fn::FindInMap":
		args, ok := arg.([]any)
		if !ok || len(args) < 3 {
			return nil, unres("want [map, top-level key, second-level key]")
		}
		var keys [3]string
		for i := range keys {
			k, err := r.strictString(args[i], path)
			if err != nil {
				return nil, err
			}
			keys[i] = k
		}
		v, ok := asMap(asMap(r.mappings[keys[0]])[keys[1]])[keys[2]]
		if !ok {
			return nil, unres("Mappings.%s.%s.%s is not in the template", keys[0], keys[1], keys[2])
		}
		return v, nil
	}
	return nil, unres("not resolved locally")
}

// strict resolves v and fails (with the first reason) if any part of it is
// unresolved.
func (r *resolver) strict(v any, path string) (any, error) {
	before := len(r.notes)
	out, ok := r.value(v, path)
	if ok {
		return out, nil
	}
	if len(r.notes) > before {
		f := r.notes[before]
		r.notes = r.notes[:before]
		delete(r.noted, f.Path)
		return nil, unres("%s", f.Message)
	}
	return nil, unres("unresolved")
}

func (r *resolver) strictString(v any, path string) (string, error) {
	out, err := r.strict(v, path)
	if err != nil {
		return "", err
	}
	s, ok := scalarString(out)
	if !ok {
		return "", unres("a %s where a string belongs", kindName(out))
	}
	return s, nil
}

func (r *resolver) ref(name string) (any, error) {
	switch name {
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::Partition":
		return "aws", nil
	}
	if p, ok := r.params[name]; ok {
		if !p.ok {
			return nil, unres("parameter %s has no Default and no override", name)
		}
		return p.value, nil
	}
	if strings.HasPrefix(name, "AWS::") {
		return nil, unres("pseudo parameter %s is not known locally", name)
	}
	return nil, unres("%s is a resource, known only once deployed", name)
}

// sub evaluates Fn::Sub: "string" or ["string", {var: value}]. Each
// variable is resolved once however often it appears, and the string made
// is charged to the budget (spend).
func (r *resolver) sub(arg any, path string) (any, error) {
	s, ok := arg.(string)
	vars := map[string]any{}
	if !ok {
		args, isList := arg.([]any)
		if !isList || len(args) != 2 {
			return nil, unres("want a string or [string, variables]")
		}
		if s, ok = args[0].(string); !ok {
			return nil, unres("the template is a %s", kindName(args[0]))
		}
		vars = asMap(args[1])
	}
	var b strings.Builder
	done := map[string]string{}
	for {
		if b.Len() > maxString {
			return nil, unres("makes a string over %d bytes", maxString)
		}
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			if err := r.spend(b.Len()); err != nil {
				return nil, err
			}
			return b.String(), nil
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, unres("unclosed ${")
		}
		name := s[i+2 : i+j]
		s = s[i+j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		if str, ok := done[name]; ok {
			b.WriteString(str)
			continue
		}
		var v any
		var err error
		if x, isVar := vars[name]; isVar {
			v, err = r.strict(x, path)
		} else if strings.Contains(name, ".") {
			err = unres("${%s} is a resource attribute, known only once deployed", name)
		} else {
			v, err = r.ref(name)
		}
		if err != nil {
			return nil, err
		}
		str, ok := scalarString(v)
		if !ok {
			return nil, unres("${%s} is a %s", name, kindName(v))
		}
		done[name] = str
		b.WriteString(str)
	}
}

// condition evaluates the named condition of the Conditions section.
func (r *resolver) condition(name string) (bool, error) {
	st := r.conds[name]
	switch {
	case st.done:
		return st.value, st.err
	case st.busy:
		return false, unres("condition %s refers to itself", name)
	}
	def, ok := r.conditions[name]
	if !ok {
		return false, unres("condition %s is not in Conditions", name)
	}
	r.conds[name] = condState{busy: true}
	v, err := r.evalCondition(def, "Conditions."+name)
	r.conds[name] = condState{done: true, value: v, err: err}
	return v, err
}

func (r *resolver) evalCondition(v any, path string) (bool, error) {
	fn, arg, ok := single(asMap(v))
	if !ok {
		return false, unres("a condition must be one function, not a %s", kindName(v))
	}
	args, _ := arg.([]any)
	switch fn {
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return false, unres("Condition names a %s", kindName(arg))
		}
		return r.condition(name)
	case "Fn::Equals":
		if len(args) != 2 {
			return false, unres("Fn::Equals wants two values")
		}
		a, err := r.strict(args[0], path)
		if err != nil {
			return false, err
		}
		b, err := r.strict(args[1], path)
		if err != nil {
			return false, err
		}
		as, aok := scalarString(a)
		bs, bok := scalarString(b)
		return aok && bok && as == bs, nil
	case "Fn::Not":
		if len(args) != 1 {
			return false, unres("Fn::Not wants one condition")
		}
		c, err := r.evalCondition(args[0], path)
		return !c, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 {
			return false, unres("%s wants at least two conditions", fn)
		}
		and := fn == "Fn::And"
		for _, a := range args {
			c, err := r.evalCondition(a, path)
			if err != nil {
				return false, err
			}
			if c != and {
				return c, nil
			}
		}
		return and, nil
	}
	return false, unres("%s is not a condition function", fn)
}

// single returns the key and value of a one-key mapping.
func single(m map[string]any) (string, any, bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		return k, v, true
	}
	return "", nil, false
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// scalarString returns a string, number or boolean as CloudFormation
// reads it: as a string.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case int:
		return strconv.Itoa(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}
