package failclass_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Order is the Avro record of the registry rows.
type Order struct {
	ID string `avro:"id"`
}

const orderSchema = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`

// orderID1 is Order{ID: "o-1"} in the Confluent wire format with schema
// id 1: magic byte 0, the id (big-endian), the Avro body (zig-zag length 3,
// "o-1").
var orderID1 = []byte{0, 0, 0, 0, 1, 6, 'o', '-', '1'}

// registry starts an srfake registry, closed when the test ends, with
// Order's schema as id 1 when seeded.
func registry(t *testing.T, seeded bool) *srfake.Registry {
	t.Helper()
	r := srfake.New()
	t.Cleanup(r.Close)
	if seeded {
		r.SeedSchema("orders-value", 1, 1, sr.Schema{Schema: orderSchema, Type: sr.TypeAvro})
	}
	return r
}

// readOrders runs value through a handler that deserializes it with
// serde.Avro against the registry at url and does nothing else.
func readOrders(t *testing.T, url string, value []byte, rn run) seen {
	t.Helper()
	avro, err := serde.Avro[Order](serde.Confluent(srclient.NewSchemaRegistryClient(url)))
	if err != nil {
		t.Fatal(err)
	}
	return invoke(t, serde.String(), serde.Deserializer[Order](avro),
		func(context.Context, *kafkalambda.Record[string, Order]) error { return nil }, value, rn)
}

func registryUnknownID(t *testing.T) seen {
	return readOrders(t, registry(t, false).URL(), orderID1, run{})
}

// registryWrongURL points the deserializer at a path of the registry's
// host that is not the registry's API: its router answers a plain 404.
func registryWrongURL(t *testing.T) seen {
	return readOrders(t, registry(t, true).URL()+"/not-the-registry", orderID1, run{})
}

// registryStatus answers every registry request with status and body
// (JSON when it starts with "{"), as a registry or a proxy in front of it
// would.
func registryStatus(status int, body string) func(t *testing.T) seen {
	return func(t *testing.T) seen {
		r := registry(t, true)
		r.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
			if body[0] == '{' {
				w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			} else {
				w.Header().Set("Content-Type", "text/plain")
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		})
		return readOrders(t, r.URL(), orderID1, run{})
	}
}

func registryRefused(t *testing.T) seen {
	return readOrders(t, "http://"+kafkalambdatest.ClosedAddr(t), orderID1, run{})
}

// registryHangs answers no request until the test ends.
func registryHangs(t *testing.T) seen {
	r := registry(t, true)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) }) // before r.Close, which waits for the requests
	r.Intercept(func(_ http.ResponseWriter, req *http.Request) bool {
		select {
		case <-stop:
		case <-req.Context().Done():
		}
		return true
	})
	return readOrders(t, r.URL(), orderID1, run{deadline: 2 * time.Second})
}

func deserBadMagic(t *testing.T) seen {
	return readOrders(t, registry(t, true).URL(), []byte{1, 0, 0, 0, 1, 6, 'o', '-', '1'}, run{})
}

func deserTruncated(t *testing.T) seen {
	return readOrders(t, registry(t, true).URL(), []byte{0, 0, 0}, run{})
}

// deserAvroBody: the string's length is -1 (zig-zag 1).
func deserAvroBody(t *testing.T) seen {
	return readOrders(t, registry(t, true).URL(), []byte{0, 0, 0, 0, 1, 1, 'o'}, run{})
}

// deserNotAllowed reads id 1 with the order schema bundled, only id 2
// allowed: no registry is asked.
func deserNotAllowed(t *testing.T) seen {
	avro, err := serde.Avro[Order](serde.Bundled(serde.Schema{Type: "AVRO", Text: orderSchema, ID: 2}, serde.WithAllowedIDs("2")))
	if err != nil {
		t.Fatal(err)
	}
	return invoke(t, serde.String(), serde.Deserializer[Order](avro),
		func(context.Context, *kafkalambda.Record[string, Order]) error { return nil }, orderID1, run{})
}

// deserNoCase reads an Order (id 1) through a Union whose one case is
// another record type.
func deserNoCase(t *testing.T) seen {
	r := serde.Confluent(srclientFor(registry(t, true)))
	refunds, err := serde.Avro[Order](r)
	if err != nil {
		t.Fatal(err)
	}
	u, err := serde.Union[Order](r, serde.Case[Order]("shop.Refund", refunds, nil))
	if err != nil {
		t.Fatal(err)
	}
	return invoke(t, serde.String(), u,
		func(context.Context, *kafkalambda.Record[string, Order]) error { return nil }, orderID1, run{})
}

func deserJSON(t *testing.T) seen {
	return invoke(t, serde.String(), serde.Deserializer[Order](serde.JSON[Order]()),
		func(context.Context, *kafkalambda.Record[string, Order]) error { return nil }, []byte(`{"id":`), run{})
}

// srclientFor returns a registry client of r.
func srclientFor(r *srfake.Registry) *srclient.SchemaRegistryClient {
	return srclient.NewSchemaRegistryClient(r.URL())
}
