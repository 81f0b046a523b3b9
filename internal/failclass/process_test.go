package failclass_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// process runs a handler whose Process is fn.
func process(t *testing.T, fn func(ctx context.Context) error, rn run) seen {
	t.Helper()
	return invoke(t, serde.String(), serde.String(),
		func(ctx context.Context, _ *kafkalambda.Record[string, string]) error { return fn(ctx) }, []byte("v"), rn)
}

func processError(t *testing.T) seen {
	return process(t, func(context.Context) error { return errors.New("order total is negative") }, run{})
}

func processPanic(t *testing.T) seen {
	return process(t, func(context.Context) error {
		var m map[string]int
		m["x"]++ // assignment to entry in nil map
		return nil
	}, run{})
}

func processTransient(t *testing.T) seen {
	return process(t, func(context.Context) error {
		return kafkalambda.Transient(errors.New("pricing service answered 503"))
	}, run{})
}

func processMisconfigured(t *testing.T) seen {
	return process(t, func(context.Context) error {
		return kafkalambda.Misconfigured(errors.New("table settlements does not exist"))
	}, run{})
}

// processNetError calls a service that refuses the connection and returns
// the HTTP client's error, a *url.Error: a net.Error.
func processNetError(t *testing.T) seen {
	url := "http://" + kafkalambdatest.ClosedAddr(t) + "/price"
	return process(t, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("price order: %w", err)
		}
		resp.Body.Close()
		return nil
	}, run{})
}

// processDeadline waits for something that outlives the invocation.
func processDeadline(t *testing.T) seen {
	return process(t, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, run{deadline: time.Second})
}

// sendCannotEncode sends a value that the output's Avro schema (an enum)
// has no symbol for.
func sendCannotEncode(t *testing.T) seen {
	r := registry(t, false)
	side, err := serde.Avro[string](serde.Confluent(srclientFor(r)), serde.WithSchema(`{"type":"enum","name":"Side","symbols":["BUY","SELL"]}`))
	if err != nil {
		t.Fatal(err)
	}
	out := kafkalambda.NewOutput("out", serde.String(), serde.Serializer[string](side))
	return invoke(t, serde.String(), serde.String(), sendTo(out), []byte("HOLD"),
		run{producer: kafkalambdatest.NewMemProducer()})
}

// sendNotRegistered: the output looks its schema up instead of
// registering it, and the registry has no such subject.
func sendNotRegistered(t *testing.T) seen {
	r := registry(t, false)
	orders, err := serde.Avro[Order](serde.Confluent(srclientFor(r)), serde.WithSchema(orderSchema), serde.WithAutoRegister(false))
	if err != nil {
		t.Fatal(err)
	}
	out := kafkalambda.NewOutput("out", serde.String(), serde.Serializer[Order](orders))
	return invoke(t, serde.String(), serde.String(), func(ctx context.Context, r *kafkalambda.Record[string, string]) error {
		return out.Send(ctx, r.Key, Order{ID: r.Value})
	}, []byte("o-1"), run{producer: kafkalambdatest.NewMemProducer()})
}

// sendWrongCtx sends with a ctx of its own.
func sendWrongCtx(t *testing.T) seen {
	out := kafkalambda.NewOutput("out", serde.String(), serde.String())
	return invoke(t, serde.String(), serde.String(), func(_ context.Context, r *kafkalambda.Record[string, string]) error {
		return out.Send(context.Background(), r.Key, r.Value)
	}, []byte("v"), run{producer: kafkalambdatest.NewMemProducer()})
}
