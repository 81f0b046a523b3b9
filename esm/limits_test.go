package esm_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
)

// AWS's defaults and limits: a consumer group unique to each mapping, one
// topic per mapping unless allowed (and then warned about), AWS's group id
// characters, and what needs provisioned mode warned about without it.
func TestAWSDefaultsAndLimits(t *testing.T) {
	t.Parallel()
	target := &esm.HandlerTarget{Handler: &recorder{}}
	one := esm.Config{Brokers: []string{"b:1"}, Topics: []string{"t"}}
	a, err := esm.New(one, target)
	if err != nil {
		t.Fatal(err)
	}
	b, err := esm.New(one, target)
	if err != nil {
		t.Fatal(err)
	}
	if a.Group() == b.Group() || !strings.HasPrefix(a.Group(), esm.DefaultGroup+"-") {
		t.Fatalf("default groups %q and %q: want unique ones", a.Group(), b.Group())
	}
	if w := a.Warnings(); len(w) != 0 {
		t.Fatalf("a deployable mapping warned: %q", w)
	}

	for _, cfg := range []esm.Config{
		{Brokers: []string{"b:1"}, Topics: []string{"t", "u"}},
		{Brokers: []string{"b:1"}, Topics: []string{"t"}, Group: "has space"},
		{Brokers: []string{"b:1"}, Topics: []string{"t"}, Group: strings.Repeat("g", 201)},
	} {
		if _, err := esm.New(cfg, target); !errors.Is(err, esm.ErrInvalidOption) {
			t.Errorf("%+v: %v, want ErrInvalidOption", cfg, err)
		}
	}
	if _, err := esm.New(one, target, esm.WithMaxRecordAge(90500*time.Millisecond)); !errors.Is(err, esm.ErrInvalidOption) {
		t.Errorf("a record age not in whole seconds: %v", err)
	}

	controls := []esm.Option{esm.WithMaxRetryAttempts(3), esm.WithMaxRecordAge(time.Minute), esm.WithBisectBatchOnFunctionError(true),
		esm.WithReportBatchItemFailures(true), esm.WithOnFailureTopic("dlq"), esm.WithBatchingWindow(1500 * time.Millisecond)}
	multi := esm.Config{Brokers: []string{"b:1"}, Topics: []string{"t", "u"}, AllowMultipleTopics: true}
	m, err := esm.New(multi, target, controls...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"topics", "batching window", "BisectBatchOnFunctionError", "DestinationConfig OnFailure",
		"ReportBatchItemFailures", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts"}
	got := strings.Join(m.Warnings(), "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("warnings lack %q:\n%s", w, got)
		}
	}
	multi.Provisioned = true
	m, err = esm.New(multi, target, controls...)
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Warnings(); len(w) != 2 || !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, "topics") }) {
		t.Errorf("provisioned: warnings %q, want only the topics and the window", w)
	}
}
