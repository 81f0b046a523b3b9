package samtemplate

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// decode reads a template (YAML, or JSON, which is YAML) into plain values:
// map[string]any, []any, string, int, float64, bool and nil. The short
// forms of the intrinsic functions become their long forms, as
// CloudFormation reads them: !Ref X is {"Ref": X}, !Condition X is
// {"Condition": X}, !GetAtt A.B is {"Fn::GetAtt": ["A", "B"]}, and any
// other !Name v is {"Fn::Name": v}.
func decode(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	if doc.Kind == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrTemplate)
	}
	v, err := (&converter{}).convert(&doc, 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the document is a %s, not a mapping", ErrTemplate, kindName(v))
	}
	return m, nil
}

// maxDepth bounds nesting (and alias chains), so that a hostile document
// cannot exhaust the stack; maxNodes bounds the values made, aliases
// expanded, so that a few aliases of aliases cannot make billions.
const (
	maxDepth = 200
	maxNodes = 100_000
)

type converter struct{ nodes int }

func (c *converter) convert(n *yaml.Node, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: line %d: nested more than %d deep", ErrTemplate, n.Line, maxDepth)
	}
	if c.nodes++; c.nodes > maxNodes {
		return nil, fmt.Errorf("%w: more than %d values, aliases expanded", ErrTemplate, maxNodes)
	}
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("%w: line %d: unknown alias", ErrTemplate, n.Line)
		}
		return c.convert(n.Alias, depth+1)
	case yaml.ScalarNode:
		if isIntrinsicTag(n.Tag) {
			v = n.Value
			break
		}
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrTemplate, n.Line, err)
		}
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			e, err := c.convert(item, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%w: line %d: a key that is not a string", ErrTemplate, k.Line)
			}
			if k.ShortTag() == "!!merge" {
				if err := c.merge(m, val, depth); err != nil {
					return nil, err
				}
				continue
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("%w: line %d: key %q given twice", ErrTemplate, k.Line, k.Value)
			}
			e, err := c.convert(val, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = e
		}
		v = m
	default:
		return nil, fmt.Errorf("%w: line %d: unexpected YAML node", ErrTemplate, n.Line)
	}
	if isIntrinsicTag(n.Tag) {
		return intrinsic(n, v)
	}
	return v, nil
}

// merge applies a "<<" merge key: the keys of the merged mappings that m
// does not have yet.
func (c *converter) merge(m map[string]any, val *yaml.Node, depth int) error {
	src, err := c.convert(val, depth+1)
	if err != nil {
		return err
	}
	var maps []any
	switch s := src.(type) {
	case map[string]any:
		maps = []any{s}
	case []any:
		maps = s
	}
	for _, x := range maps {
		mm, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: line %d: merge of a %s", ErrTemplate, val.Line, kindName(x))
		}
		for k, v := range mm {
			if _, have := m[k]; !have {
				m[k] = v
			}
		}
	}
	return nil
}

// isIntrinsicTag reports whether tag is a local tag such as !Ref (YAML's own
// tags start with "!!").
func isIntrinsicTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") && len(tag) > 1
}

func intrinsic(n *yaml.Node, v any) (any, error) {
	name := n.Tag[1:]
	switch name {
	case "Ref":
		return map[string]any{"Ref": v}, nil
	case "Condition":
		return map[string]any{"Condition": v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("%w: line %d: !GetAtt %q is not Resource.Attribute", ErrTemplate, n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
