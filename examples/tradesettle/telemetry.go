package main

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// EnvMetricsNamespace is the CloudWatch namespace of the function's
// metrics (Embedded Metric Format lines on stdout); "none" turns them off.
const EnvMetricsNamespace = "TRADESETTLE_METRICS_NAMESPACE"

// telemetry returns the handler options for the function's tracing and
// metrics, read from the environment:
//
//   - tracing when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, e.g. the ADOT collector
//     extension's http://localhost:4318) and OTEL_SDK_DISABLED is not
//     "true": the OpenTelemetry SDK exporting over OTLP/HTTP, configured by
//     the standard OTEL_* variables (OTEL_EXPORTER_OTLP_HEADERS,
//     OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and
//     its _ARG, ...; see otlpHTTP for the exporter's). The handler flushes the spans before each invocation
//     answers, so nothing waits in the batch while Lambda freezes the
//     function;
//   - metrics in CloudWatch's Embedded Metric Format on stdout, namespace
//     TradeSettle unless EnvMetricsNamespace says otherwise.
func telemetry(ctx context.Context, getenv func(string) string) ([]kafkalambda.Option, error) {
	var opts []kafkalambda.Option
	switch ns := getenv(EnvMetricsNamespace); ns {
	case "none":
	case "":
		opts = append(opts, kafkalambda.WithMetrics(&kafkalambda.EMF{Namespace: "TradeSettle"}))
	default:
		opts = append(opts, kafkalambda.WithMetrics(&kafkalambda.EMF{Namespace: ns}))
	}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") ||
		(getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "") {
		return opts, nil
	}
	client, err := newOTLPHTTP(getenv) // reads OTEL_EXPORTER_OTLP_*
	if err != nil {
		return nil, fmt.Errorf("tradesettle: OTLP trace exporter: %w", err)
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("tradesettle: OTLP trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.Environment()) // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	if err != nil {
		return nil, fmt.Errorf("tradesettle: trace resource: %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER: the SDK reads it.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return append(opts, kafkalambda.WithTracing(tp)), nil
}
