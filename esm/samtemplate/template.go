package samtemplate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Template is a parsed AWS SAM or CloudFormation template. It is read-only
// once parsed and safe for concurrent use.
type Template struct {
	doc map[string]any
}

// Parse reads a template in YAML (with the short forms of the intrinsic
// functions: !Ref, !Sub, !GetAtt, !If, ...) or JSON. It fails with
// ErrTemplate when the document is not a mapping with Resources.
func Parse(data []byte) (*Template, error) {
	doc, err := decode(data)
	if err != nil {
		return nil, err
	}
	if len(asMap(doc["Resources"])) == 0 {
		return nil, fmt.Errorf("%w: no Resources", ErrTemplate)
	}
	return &Template{doc: doc}, nil
}

// Functions returns the logical ids of the template's functions
// (AWS::Serverless::Function and AWS::Lambda::Function), sorted.
func (t *Template) Functions() []string {
	var out []string
	for id, r := range asMap(t.doc["Resources"]) {
		if isFunction(asMap(r)) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func isFunction(r map[string]any) bool {
	typ, _ := r["Type"].(string)
	return typ == "AWS::Serverless::Function" || typ == "AWS::Lambda::Function"
}

// Option chooses what Mapping reads.
type Option func(*options)

type options struct {
	params map[string]string
	event  string
}

// WithParameters overrides the template's Parameters, as
// `sam deploy --parameter-overrides` does: a Ref to a parameter resolves
// to its override, else to its Default. An override must name a declared
// parameter and be one of its AllowedValues. Default: none.
func WithParameters(overrides map[string]string) Option {
	return func(o *options) {
		o.params = maps.Clone(overrides)
	}
}

// WithEvent chooses the event source when the function has several Kafka
// ones: the SAM event's name or the AWS::Lambda::EventSourceMapping
// resource's logical id. Default: the function's only one.
func WithEvent(name string) Option {
	return func(o *options) { o.event = name }
}

// source is one Kafka event source of a function, before its properties
// are read.
type source struct {
	name  string // the SAM event's name, or the mapping resource's logical id
	path  string // where its properties are
	props map[string]any
	sam   bool
	typ   SourceType
}

// Mapping reads the Kafka event source of function (a logical id): a SAM
// event of Type MSK or SelfManagedKafka in its Events, or an
// AWS::Lambda::EventSourceMapping resource whose FunctionName is a Ref or
// Fn::GetAtt of it (or its name) and that has Topics. Resources whose
// Condition is false for the parameters are left out, as CloudFormation
// leaves them out. What the mapping cannot honour is in Mapping.Notes.
func (t *Template) Mapping(function string, opts ...Option) (*Mapping, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	r, err := newResolver(t.doc, o.params)
	if err != nil {
		return nil, err
	}
	resources := asMap(t.doc["Resources"])
	fn := asMap(resources[function])
	if !isFunction(fn) {
		return nil, fmt.Errorf("%w: %q (the template's functions: %s)", ErrFunctionNotFound, function, strings.Join(t.Functions(), ", "))
	}
	if on, err := t.present(r, fn, "Resources."+function); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFunctionNotFound, err)
	} else if !on {
		return nil, fmt.Errorf("%w: %q: its Condition is false with these parameters", ErrFunctionNotFound, function)
	}
	sources, err := t.sources(r, function, fn)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range sources {
		names = append(names, s.name)
	}
	var src *source
	switch {
	case o.event != "":
		i := slices.Index(names, o.event)
		if i < 0 {
			return nil, fmt.Errorf("%w: %s has no Kafka event source %q (it has: %s)", ErrNoEventSource, function, o.event, strings.Join(names, ", "))
		}
		src = &sources[i]
	case len(sources) == 1:
		src = &sources[0]
	case len(sources) == 0:
		return nil, fmt.Errorf("%w: %s has no MSK or SelfManagedKafka event and no AWS::Lambda::EventSourceMapping with Topics", ErrNoEventSource, function)
	default:
		return nil, fmt.Errorf("%w: %s has %d Kafka event sources (%s): choose one", ErrNoEventSource, function, len(sources), strings.Join(names, ", "))
	}
	m, err := read(r, src)
	if err != nil {
		return nil, err
	}
	m.Function = function
	var resolved bool
	m.FunctionTimeout, m.functionTimeoutPath, resolved = t.timeout(r, function, fn)
	if !resolved {
		m.unresolved[timeoutKey] = true
	}
	m.Notes = append(m.Notes, r.notes...)
	return m, nil
}

// present evaluates a resource's Condition.
func (t *Template) present(r *resolver, res map[string]any, path string) (bool, error) {
	c, has := res["Condition"]
	if !has {
		return true, nil
	}
	name, ok := c.(string)
	if !ok {
		return false, fmt.Errorf("%s.Condition is a %s", path, kindName(c))
	}
	on, err := r.condition(name)
	if err != nil {
		return false, fmt.Errorf("%s.Condition %s: %w (give the parameters it needs)", path, name, err)
	}
	return on, nil
}

// sources lists the function's Kafka event sources, sorted by name.
func (t *Template) sources(r *resolver, function string, fn map[string]any) ([]source, error) {
	var out []source
	props := asMap(fn["Properties"])
	events := asMap(props["Events"])
	for _, name := range sortedKeys(events) {
		ev := asMap(events[name])
		typ, _ := ev["Type"].(string)
		if typ != string(MSK) && typ != string(SelfManagedKafka) {
			continue
		}
		out = append(out, source{
			name:  name,
			path:  "Resources." + function + ".Properties.Events." + name + ".Properties",
			props: asMap(ev["Properties"]),
			sam:   true,
			typ:   SourceType(typ),
		})
	}
	fnName, _ := props["FunctionName"].(string)
	resources := asMap(t.doc["Resources"])
	for _, id := range sortedKeys(resources) {
		res := asMap(resources[id])
		if typ, _ := res["Type"].(string); typ != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		p := asMap(res["Properties"])
		if _, kafka := p["Topics"]; !kafka || !refersTo(p["FunctionName"], function, fnName) {
			continue
		}
		on, err := t.present(r, res, "Resources."+id)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoEventSource, err)
		}
		if !on {
			continue
		}
		st := MSK
		if _, smk := p["SelfManagedEventSource"]; smk {
			st = SelfManagedKafka
		}
		out = append(out, source{name: id, path: "Resources." + id + ".Properties", props: p, typ: st})
	}
	return out, nil
}

// refersTo reports whether an event source mapping's FunctionName names
// the function: Ref, Fn::GetAtt .Arn, or its logical id or FunctionName as
// a string.
func refersTo(v any, function, name string) bool {
	switch t := v.(type) {
	case string:
		return t == function || (name != "" && (t == name || strings.HasSuffix(t, ":function:"+name)))
	case map[string]any:
		fn, arg, ok := single(t)
		if !ok {
			return false
		}
		switch fn {
		case "Ref":
			return arg == function
		case "Fn::GetAtt":
			a, _ := arg.([]any)
			return len(a) == 2 && a[0] == function
		}
	}
	return false
}
