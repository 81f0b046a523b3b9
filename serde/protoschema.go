package serde

import (
	"slices"
	"strings"
)

// protoNames is what the Protobuf deserializer needs from a writer schema's
// .proto text: the tree of message names in declaration order, so that
// message indexes can be turned into a full name. It is not a full parser:
// it reads packages, messages (with nested messages, map fields, whose
// synthetic XxxEntry messages count as nested messages as protoc and the
// registry count them, and proto2 groups), and skips everything else by
// balancing braces. A full .proto compiler would pull a large dependency
// into every Lambda binary for one lookup.
type protoNames struct {
	pkg  string
	msgs []*protoMsg
}

type protoMsg struct {
	fullName string
	children []*protoMsg
}

const maxProtoDepth = 100

// sorted lists the full names of every message of the file, nested ones
// (map entries too) included, sorted: an AWS Glue message index is a
// place in this list.
func (f *protoNames) sorted() []string {
	var out []string
	var walk func(ms []*protoMsg)
	walk = func(ms []*protoMsg) {
		for _, m := range ms {
			out = append(out, m.fullName)
			walk(m.children)
		}
	}
	walk(f.msgs)
	slices.Sort(out)
	return out
}

// resolve returns the message the indexes name, or nil.
func (f *protoNames) resolve(indexes []int) *protoMsg {
	level := f.msgs
	var m *protoMsg
	for _, i := range indexes {
		if i < 0 || i >= len(level) {
			return nil
		}
		m = level[i]
		level = m.children
	}
	return m
}

// pathOf returns the message indexes of the message with the given full
// name, or nil if the schema has none.
func (f *protoNames) pathOf(fullName string) []int {
	var walk func(level []*protoMsg, path []int) []int
	walk = func(level []*protoMsg, path []int) []int {
		for i, m := range level {
			p := append(path[:len(path):len(path)], i)
			if m.fullName == fullName {
				return p
			}
			if r := walk(m.children, p); r != nil {
				return r
			}
		}
		return nil
	}
	return walk(f.msgs, nil)
}

type protoTok struct {
	kind byte // 'i' identifier or number, 's' string, 'p' punctuation
	s    string
}

func tokenizeProto(text string) ([]protoTok, error) {
	var toks []protoTok
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(text) && text[i+1] == '/':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, errf(ErrInvalidSchema, nil, "protobuf schema: unterminated comment")
			}
			i += 2 + end + 2
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(text) && text[j] != c {
				if text[j] == '\\' {
					j++
				}
				if j < len(text) && text[j] == '\n' {
					return nil, errf(ErrInvalidSchema, nil, "protobuf schema: newline in string")
				}
				j++
			}
			if j >= len(text) {
				return nil, errf(ErrInvalidSchema, nil, "protobuf schema: unterminated string")
			}
			toks = append(toks, protoTok{'s', text[i : j+1]})
			i = j + 1
		case isIdentByte(c):
			j := i
			for j < len(text) && (isIdentByte(text[j]) || text[j] == '.') {
				j++
			}
			toks = append(toks, protoTok{'i', text[i:j]})
			i = j
		default:
			toks = append(toks, protoTok{'p', text[i : i+1]})
			i++
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isIdentStart(s string) bool {
	return s != "" && (s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))
}

// scope kinds while parsing.
const (
	scopeFile = iota
	scopeMessage
	scopeGroupable // oneof or extend: may declare groups for its owner
	scopeOther     // enum, service, rpc, option aggregate, ...
)

type protoScope struct {
	kind   int
	owner  *protoMsg // the message a group here belongs to; nil for the file
	prefix string    // full-name prefix for messages declared here
}

// parseProtoNames reads the message tree of a .proto schema text.
func parseProtoNames(text string) (*protoNames, error) {
	toks, err := tokenizeProto(text)
	if err != nil {
		return nil, err
	}
	f := &protoNames{}
	stack := []protoScope{{kind: scopeFile}}
	stmt := 0 // index of the first token of the current statement
	add := func(s protoScope, m *protoMsg) {
		if s.owner == nil {
			f.msgs = append(f.msgs, m)
		} else {
			s.owner.children = append(s.owner.children, m)
		}
	}
	join := func(prefix, name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	at := func(i int) protoTok {
		if i < len(toks) {
			return toks[i]
		}
		return protoTok{}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		top := stack[len(stack)-1]
		start := i == stmt
		if t.kind == 'p' {
			switch t.s {
			case ";":
				stmt = i + 1
			case "}":
				if len(stack) == 1 {
					return nil, errf(ErrInvalidSchema, nil, "protobuf schema: unbalanced '}'")
				}
				stack = stack[:len(stack)-1]
				stmt = i + 1
			case "{":
				if len(stack) > maxProtoDepth {
					return nil, errf(ErrInvalidSchema, nil, "protobuf schema: nested deeper than %d", maxProtoDepth)
				}
				kind := scopeOther
				if kw := at(stmt).s; (kw == "oneof" || kw == "extend") && top.kind != scopeOther {
					kind = scopeGroupable
				}
				stack = append(stack, protoScope{kind: kind, owner: top.owner, prefix: top.prefix})
				stmt = i + 1
			}
			continue
		}
		if !start || t.kind != 'i' || top.kind == scopeOther {
			continue
		}
		switch {
		case t.s == "package" && top.kind == scopeFile:
			if n := at(i + 1); n.kind == 'i' {
				f.pkg = n.s
				if len(f.msgs) == 0 {
					stack[0].prefix = n.s
				}
			}
		case t.s == "message" && top.kind != scopeGroupable && isIdentStart(at(i+1).s) && at(i+2).s == "{":
			if len(stack) > maxProtoDepth {
				return nil, errf(ErrInvalidSchema, nil, "protobuf schema: nested deeper than %d", maxProtoDepth)
			}
			m := &protoMsg{fullName: join(top.prefix, at(i+1).s)}
			add(top, m)
			stack = append(stack, protoScope{kind: scopeMessage, owner: m, prefix: m.fullName})
			i += 2
			stmt = i + 1
		case t.s == "map" && top.kind == scopeMessage && at(i+1).s == "<":
			j := i + 2
			for j < len(toks) && toks[j].s != ">" && toks[j].s != ";" {
				j++
			}
			if name := at(j + 1); at(j).s == ">" && isIdentStart(name.s) {
				add(top, &protoMsg{fullName: join(top.prefix, mapEntryName(name.s))})
			}
		default:
			j := i
			if t.s == "optional" || t.s == "required" || t.s == "repeated" {
				j++
			}
			if at(j).s != "group" || top.kind == scopeFile || !isIdentStart(at(j+1).s) {
				continue
			}
			// [label] group Name = N [options] { ... }
			k := j + 2
			for k < len(toks) && toks[k].s != "{" && toks[k].s != ";" {
				k++
			}
			if at(k).s != "{" {
				continue
			}
			if len(stack) > maxProtoDepth {
				return nil, errf(ErrInvalidSchema, nil, "protobuf schema: nested deeper than %d", maxProtoDepth)
			}
			prefix := f.pkg
			if top.owner != nil {
				prefix = top.owner.fullName
			}
			m := &protoMsg{fullName: join(prefix, at(j+1).s)}
			add(top, m)
			stack = append(stack, protoScope{kind: scopeMessage, owner: m, prefix: m.fullName})
			i = k
			stmt = i + 1
		}
	}
	if len(stack) != 1 {
		return nil, errf(ErrInvalidSchema, nil, "protobuf schema: unbalanced '{'")
	}
	return f, nil
}

// mapEntryName is protoc's name for the synthetic message of a map field:
// "my_field" → "MyFieldEntry".
func mapEntryName(field string) string { return camel(field, true) + "Entry" }
