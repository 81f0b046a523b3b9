package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/app"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/pipeline"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/settle"
	"github.com/kafkalambda/kafka-lambda-go/examples/tradesettle/tradepb"
)

// The ksqlDB statements cannot run here (no ksqlDB), so this test reads them
// and checks that every name they share with the function agrees with it:
// topics, formats, the Protobuf message and its field numbering, the
// settlement columns and the disposition strings.

// sqlToken is one token of ksqlDB SQL: a word (upper-cased, as ksqlDB
// treats unquoted identifiers), a 'string', a `quoted` identifier (case
// kept) or a punctuation character.
type sqlToken struct {
	kind byte // 'w' word, 's' string, 'q' quoted identifier, 'p' punctuation
	text string
}

func tokenize(t *testing.T, sql string) []sqlToken {
	t.Helper()
	var toks []sqlToken
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				t.Fatal("unterminated /* comment")
			}
			i += end + 4
		case unicode.IsSpace(rune(c)):
			i++
		case c == '\'' || c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(sql); j++ {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j++
						continue
					}
					break
				}
				b.WriteByte(sql[j])
			}
			if j >= len(sql) {
				t.Fatalf("unterminated %c at byte %d", c, i)
			}
			kind := byte('s')
			if c == '`' {
				kind = 'q'
			}
			toks = append(toks, sqlToken{kind, b.String()})
			i = j + 1
		case c == '_' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] == '@' || unicode.IsLetter(rune(sql[j])) || unicode.IsDigit(rune(sql[j]))) {
				j++
			}
			toks = append(toks, sqlToken{'w', strings.ToUpper(sql[i:j])})
			i = j
		default:
			toks = append(toks, sqlToken{'p', string(c)})
			i++
		}
	}
	return toks
}

// statement is one CREATE statement: its kind and name, WITH properties,
// declared columns (name → type) and SELECT items (alias → expression).
type statement struct {
	kind, name string
	props      map[string]string
	columns    map[string]string
	selects    []selectItem
	tokens     []sqlToken
}

type selectItem struct {
	alias string
	expr  []sqlToken
}

func (it selectItem) exprText() string {
	var parts []string
	for _, tk := range it.expr {
		parts = append(parts, tk.text)
	}
	return strings.Join(parts, " ")
}

func parseScript(t *testing.T, path string) map[string]*statement {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*statement{}
	var cur []sqlToken
	for _, tk := range tokenize(t, string(data)) {
		if tk.kind == 'p' && tk.text == ";" {
			if st := parseStatement(t, cur); st != nil {
				out[st.name] = st
			}
			cur = nil
			continue
		}
		cur = append(cur, tk)
	}
	if len(cur) > 0 {
		t.Fatalf("%s: statement without a closing semicolon", path)
	}
	return out
}

func parseStatement(t *testing.T, toks []sqlToken) *statement {
	t.Helper()
	if len(toks) < 3 || toks[0].text != "CREATE" {
		return nil
	}
	st := &statement{kind: toks[1].text, name: toks[2].text, props: map[string]string{}, columns: map[string]string{}, tokens: toks}
	i := 3
	// Declared columns: ( name TYPE [KEY|PRIMARY KEY], ... )
	if i < len(toks) && toks[i].text == "(" {
		for i++; i < len(toks) && toks[i].text != ")"; i++ {
			name := toks[i].text
			st.columns[name] = toks[i+1].text
			for i < len(toks) && toks[i].text != "," && toks[i].text != ")" {
				i++
			}
			if toks[i].text == ")" {
				break
			}
		}
		i++
	}
	if i < len(toks) && toks[i].text == "WITH" {
		for i += 2; i < len(toks) && toks[i].text != ")"; i++ {
			if toks[i].text == "," {
				continue
			}
			if toks[i+1].text != "=" {
				t.Fatalf("%s: WITH property %s without =", st.name, toks[i].text)
			}
			st.props[toks[i].text] = toks[i+2].text
			i += 2
		}
		i++
	}
	if i < len(toks) && toks[i].text == "AS" && toks[i+1].text == "SELECT" {
		depth := 0
		var item selectItem
		for i += 2; i < len(toks); i++ {
			tk := toks[i]
			switch {
			case tk.text == "(":
				depth++
			case tk.text == ")":
				depth--
			}
			if depth == 0 && (tk.text == "," || tk.text == "FROM") {
				st.selects = append(st.selects, item)
				item = selectItem{}
				if tk.text == "FROM" {
					break
				}
				continue
			}
			if depth == 0 && tk.text == "AS" {
				item.alias = toks[i+1].text
				i++
				continue
			}
			item.expr = append(item.expr, tk)
		}
	}
	return st
}

// protoFields returns the fields of a message by number.
func protoFields(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	var fs []protoreflect.FieldDescriptor
	for i := range md.Fields().Len() {
		fs = append(fs, md.Fields().Get(i))
	}
	slices.SortFunc(fs, func(a, b protoreflect.FieldDescriptor) int { return int(a.Number() - b.Number()) })
	return fs
}

// ksqlType is the ksqlDB column type that a Protobuf scalar maps to.
func ksqlType(k protoreflect.Kind) string {
	switch k {
	case protoreflect.StringKind:
		return "VARCHAR"
	case protoreflect.Int32Kind:
		return "INT"
	case protoreflect.Int64Kind:
		return "BIGINT"
	case protoreflect.DoubleKind:
		return "DOUBLE"
	}
	return k.String()
}

func TestKSQLMatchesTheFunction(t *testing.T) {
	t.Parallel()
	sts := parseScript(t, "ksql/pipeline.sql")
	for _, name := range []string{"STOCKTRADE", "USERS", "USER_TRADES", "TRADE_SETTLEMENT", "SETTLEMENT_COUNTS"} {
		if sts[name] == nil {
			t.Fatalf("no CREATE statement for %s", name)
		}
	}

	t.Run("user_trades is what the function reads", func(t *testing.T) {
		st := sts["USER_TRADES"]
		md := (&tradepb.UserTrade{}).ProtoReflect().Descriptor()
		for prop, want := range map[string]string{
			"KAFKA_TOPIC":            app.InputTopic,
			"KEY_FORMAT":             "KAFKA", // the function reads keys with serde.String
			"VALUE_FORMAT":           "PROTOBUF",
			"VALUE_SCHEMA_FULL_NAME": string(md.FullName()),
		} {
			if got := st.props[prop]; got != want {
				t.Errorf("%s = %q, want %q", prop, got, want)
			}
		}
		if !slices.ContainsFunc(st.tokens, func(tk sqlToken) bool { return tk.text == "JOIN" }) {
			t.Error("user_trades is not a join")
		}
		// The first item is the key (the join column); the others are the
		// value columns, which ksqlDB numbers 1, 2, ... in order.
		if len(st.selects) < 2 || st.selects[0].exprText() != "T . USERID" {
			t.Fatalf("the first select item is %q, want the join column t.userid as the key", st.selects[0].exprText())
		}
		values := st.selects[1:]
		fields := protoFields(md)
		if len(values) != len(fields) {
			t.Fatalf("%d value columns, UserTrade has %d fields", len(values), len(fields))
		}
		// The schema the local pipeline registers in ksqlDB's place has
		// these columns as fields, in this order, with these types.
		ksqlFields := regexp.MustCompile(`(?m)^\s*(string|int32|int64|double)\s+(\w+)\s*=\s*(\d+);`).FindAllStringSubmatch(pipeline.KSQLUserTradeSchema, -1)
		if len(ksqlFields) != len(values) {
			t.Errorf("pipeline.KSQLUserTradeSchema has %d fields, the statement %d value columns", len(ksqlFields), len(values))
		}
		for i, f := range ksqlFields {
			if i < len(values) && (f[2] != values[i].alias || f[3] != fmt.Sprint(i+1)) {
				t.Errorf("pipeline.KSQLUserTradeSchema field %s = %s, the statement's column %d is %s", f[2], f[3], i+1, values[i].alias)
			}
			if i < len(fields) && f[1] != fields[i].Kind().String() {
				t.Errorf("pipeline.KSQLUserTradeSchema field %s is %s, UserTrade's is %s", f[2], f[1], fields[i].Kind())
			}
		}
		if !strings.Contains(pipeline.KSQLUserTradeSchema, "package "+string(md.ParentFile().Package())+";") ||
			!strings.Contains(pipeline.KSQLUserTradeSchema, "message "+string(md.Name())+" {") {
			t.Errorf("pipeline.KSQLUserTradeSchema does not declare %s", md.FullName())
		}

		sources := map[string]*statement{"T": sts["STOCKTRADE"], "U": sts["USERS"]}
		for i, f := range fields {
			it := values[i]
			if int(f.Number()) != i+1 {
				t.Errorf("UserTrade field %s is number %d, want %d (ksqlDB numbers fields in column order)", f.Name(), f.Number(), i+1)
			}
			if it.alias != f.JSONName() || !strings.EqualFold(it.alias, string(f.Name())) {
				t.Errorf("value column %d is %s, UserTrade field %d is %s (json_name %s)", i+1, it.alias, f.Number(), f.Name(), f.JSONName())
			}
			// The column's type, from the source it is selected from.
			expr := it.expr
			if expr[0].text == "AS_VALUE" {
				expr = expr[2 : len(expr)-1]
			}
			if len(expr) != 3 || expr[1].text != "." {
				t.Errorf("value column %s = %q, want a source column", it.alias, it.exprText())
				continue
			}
			if typ := sources[expr[0].text].columns[expr[2].text]; typ != ksqlType(f.Kind()) {
				t.Errorf("value column %s is %s in the source, UserTrade.%s is %s", it.alias, typ, f.Name(), f.Kind())
			}
		}
	})

	t.Run("trade_settlement reads what the function writes", func(t *testing.T) {
		st := sts["TRADE_SETTLEMENT"]
		if got := st.props["KAFKA_TOPIC"]; got != app.OutputTopic {
			t.Errorf("KAFKA_TOPIC = %q, want %q", got, app.OutputTopic)
		}
		if got := st.props["VALUE_FORMAT"]; got != "PROTOBUF" {
			t.Errorf("VALUE_FORMAT = %q, want PROTOBUF", got)
		}
		if len(st.columns) != 0 {
			t.Errorf("columns declared %v; they should be inferred from the registered TradeSettlement", st.columns)
		}
		ts := (&tradepb.TradeSettlement{}).ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(strings.ToLower(st.props["TIMESTAMP"])))
		if ts == nil || ts.Kind() != protoreflect.Int64Kind {
			t.Errorf("TIMESTAMP = %q, want an int64 (milliseconds) field of TradeSettlement", st.props["TIMESTAMP"])
		}
	})

	t.Run("settlement_counts counts every disposition", func(t *testing.T) {
		st := sts["SETTLEMENT_COUNTS"]
		md := (&tradepb.TradeSettlement{}).ProtoReflect().Descriptor()
		counted := map[string]bool{}
		for _, it := range st.selects {
			for i, tk := range it.expr {
				if tk.kind == 'w' && i+1 < len(it.expr) && (it.expr[i+1].text == "=" || it.expr[i+1].text == "LIKE") {
					if md.Fields().ByName(protoreflect.Name(strings.ToLower(tk.text))) == nil {
						t.Errorf("%s compares %s, which TradeSettlement does not have", it.alias, tk.text)
					}
					lit := it.expr[i+2].text
					if it.expr[i+1].text == "=" {
						if !slices.Contains(settle.Dispositions(), lit) {
							t.Errorf("%s counts %q, which is no disposition", it.alias, lit)
						}
						counted[lit] = true
						continue
					}
					re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(lit), "%", ".*") + "$")
					var matched []string
					for _, d := range settle.Dispositions() {
						if re.MatchString(d) {
							matched = append(matched, d)
							counted[d] = true
						}
					}
					if !slices.Equal(matched, []string{settle.SECFlagged}) {
						t.Errorf("%s LIKE %q matches %v, want only %q", it.alias, lit, matched, settle.SECFlagged)
					}
				}
			}
		}
		for _, d := range settle.Dispositions() {
			if !counted[d] {
				t.Errorf("no count of %q", d)
			}
		}
		if !slices.ContainsFunc(st.tokens, func(tk sqlToken) bool { return tk.text == "TUMBLING" }) ||
			!strings.Contains(strings.Join(tokTexts(st.tokens), " "), "SIZE 60 SECONDS") {
			t.Error("settlement_counts is not in 60-second tumbling windows")
		}
		if !strings.Contains(strings.Join(tokTexts(st.tokens), " "), "GROUP BY SYMBOL") {
			t.Error("settlement_counts is not grouped by symbol")
		}
	})
}

func tokTexts(toks []sqlToken) []string {
	out := make([]string, len(toks))
	for i, tk := range toks {
		out[i] = tk.text
	}
	return out
}
