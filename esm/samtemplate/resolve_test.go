package samtemplate_test

import (
	"errors"
	"slices"
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

func FuzzParse(f *testing.F) {
	f.Add([]byte(intrinsics))
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
