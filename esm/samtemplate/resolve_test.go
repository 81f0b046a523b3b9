package samtemplate_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/esm/samtemplate"
)

const intrinsics = `
Parameters:
  Stage: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "a, b"}
Conditions:
  IsDev: !Equals [dev, !Ref Stage]
  Both: !And [!Condition IsDev, !Not [!Equals [!Ref Stage, prod]]]
  Loop: !Condition Loop
base: &base
  StartingPosition: LATEST
Resources:
  Fn:
    Type: AWS::Lambda::Function
  Other:
    Type: AWS::Lambda::EventSourceMapping
    Condition: Loop
    Properties: {FunctionName: !Ref Nope, Topics: [x]}
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      <<: *base
      FunctionName: !GetAtt Fn.Arn
      SelfManagedEventSource:
        Endpoints:
          KafkaBootstrapServers: !Split [",", !Join [",", [!Select [1, !Ref Names], "c:1"]]]
      Topics:
        - !Sub ["${Prefix}-${Stage}-${!Literal}", {Prefix: !If [Both, t, u]}]
        - !Ref AWS::NoValue
      BatchSize: !GetAtt Sizes.Batch
      MaximumRetryAttempts: !Ref AWS::AccountId
      SelfManagedKafkaEventSourceConfig:
        ConsumerGroupId: !ImportValue shared-group
`

// Intrinsic functions are resolved where they can be, in the short YAML
// forms, and what cannot be is noted at its path and left unset.
func TestIntrinsics(t *testing.T) {
	t.Parallel()
	tm, err := samtemplate.Parse([]byte(intrinsics))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tm.Mapping("Fn")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.BootstrapServers, []string{"b", "c:1"}) || !slices.Equal(m.Topics, []string{"t-dev-${Literal}"}) ||
		m.StartingPosition != "LATEST" || m.BatchSize != nil || m.MaximumRetryAttempts != nil || m.ConsumerGroupID != "" {
		t.Fatalf("%+v", m)
	}
	notes := strings.Join(findings(m.Notes), "\n")
	for _, want := range []string{
		"Resources.Mapping.Properties.BatchSize: Fn::GetAtt: not resolved locally",
		"Resources.Mapping.Properties.MaximumRetryAttempts: Ref: pseudo parameter AWS::AccountId is not known locally",
		"Resources.Mapping.Properties.SelfManagedKafkaEventSourceConfig.ConsumerGroupId: Fn::ImportValue: not resolved locally",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

// A resource whose Condition cannot be evaluated (here it refers to
// itself) is an error naming it, not a guess.
func TestConditionCycle(t *testing.T) {
	t.Parallel()
	tm, err := samtemplate.Parse([]byte(strings.Replace(intrinsics, "FunctionName: !Ref Nope", "FunctionName: !Ref Fn", 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tm.Mapping("Fn")
	if !errors.Is(err, samtemplate.ErrNoEventSource) || !strings.Contains(err.Error(), "Resources.Other.Condition Loop: condition Loop refers to itself") {
		t.Fatalf("%v", err)
	}
}

// Hostile documents fail with ErrTemplate, never a panic or a stack
// overflow.
func TestParseHostile(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", 500) + strings.Repeat("]", 500)
	for _, doc := range []string{"Resources: " + deep, "a: &a [*a]", "Resources: {A: !GetAtt}", "? [a]\n: b"} {
		if _, err := samtemplate.Parse([]byte(doc)); !errors.Is(err, samtemplate.ErrTemplate) {
			t.Errorf("%.40q: %v", doc, err)
		}
	}
}

// subBomb is a template whose one topic is an Fn::Sub of ten ${A}, A an
// Fn::Sub of ten ${A}, ... levels deep over base: 10^levels times base.
// Its topics are the bomb n times.
func subBomb(levels, n int, base string) string {
	v := strconv.Quote(base)
	for range levels {
		v = `{"Fn::Sub": ["` + strings.Repeat("${A}", 10) + `", {"A": ` + v + `}]}`
	}
	topics := strings.TrimSuffix(strings.Repeat(v+",", n), ",")
	return `{"Resources": {"Fn": {"Type": "AWS::Lambda::Function"}, "Mapping": {"Type": "AWS::Lambda::EventSourceMapping",
"Properties": {"FunctionName": {"Ref": "Fn"}, "StartingPosition": "LATEST", "Topics": [` + topics + `]}}}}`
}

// A template whose Fn::Sub nests to make a string of megabytes (or, nine
// deep, a gigabyte) from a kilobyte leaves the topic unresolved, noted at
// its path, instead of running out of memory; so do Subs each within the
// bound that together make more than the template's budget (a list with
// one unresolved element is unresolved whole).
func TestSubBomb(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, path, want string
		resolved              int
	}{
		{"6 deep", subBomb(6, 1, "x"), "Topics[0]", "makes a string over 65536 bytes", 0},
		{"9 deep", subBomb(9, 1, "x"), "Topics[0]", "makes a string over 65536 bytes", 0},
		{"20 of 60 KB", subBomb(4, 20, "xxxxxx"), "Topics[15]", "make more than 1048576 bytes in all", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tm, err := samtemplate.Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			m, err := tm.Mapping("Fn")
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Topics) != tc.resolved {
				t.Errorf("%d topics resolved, want %d", len(m.Topics), tc.resolved)
			}
			path := "Resources.Mapping.Properties." + tc.path
			if !slices.ContainsFunc(m.Notes, func(f samtemplate.Finding) bool {
				return f.Path == path && strings.HasPrefix(f.Message, "Fn::Sub: ") && strings.HasSuffix(f.Message, tc.want)
			}) {
				t.Errorf("no note at %s ending %q:\n%.2000s", path, tc.want, strings.Join(findings(m.Notes), "\n"))
			}
			for _, f := range m.Check(samtemplate.Handler{}) {
				if strings.HasSuffix(f.Path, ".Topics") {
					t.Errorf("finding on unresolved Topics: %.200v", f)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(intrinsics))
	f.Add([]byte(subBomb(9, 1, "x")))
	f.Add([]byte(`{"Resources": {"F": {"Type": "AWS::Lambda::Function"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, err := samtemplate.Parse(data)
		if err != nil {
			return
		}
		for _, fn := range tm.Functions() {
			if m, err := tm.Mapping(fn); err == nil {
				m.Check(samtemplate.Handler{})
				m.Options()
			}
		}
	})
}

// Aliases of aliases expand past any size a template has: refused.
func TestParseAliasBomb(t *testing.T) {
	t.Parallel()
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 8 {
		name := string(rune('b' + i))
		doc += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	if _, err := samtemplate.Parse([]byte(doc + "Resources: *" + prev)); !errors.Is(err, samtemplate.ErrTemplate) {
		t.Fatalf("%v", err)
	}
}

// An override that AllowedValues refuses is named, its value is not: it
// may be a NoEcho password.
func TestOverrideValueNotInError(t *testing.T) {
	t.Parallel()
	const doc = `
Parameters:
  Password: {Type: String, NoEcho: true, AllowedValues: [a, b]}
Resources:
  Fn:
    Type: AWS::Lambda::Function
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {FunctionName: !Ref Fn, Topics: [t], StartingPosition: LATEST}
`
	tm, err := samtemplate.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "hunter2-s3cr3t"
	_, err = tm.Mapping("Fn", samtemplate.WithParameters(map[string]string{"Password": secret}))
	if !errors.Is(err, samtemplate.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "Password") {
		t.Errorf("err = %q: want the parameter named and its value left out", err)
	}
}
