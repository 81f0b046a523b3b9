package kafkalambda

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// Start makes a Handler with NewHandler and runs it with aws-lambda-go's
// lambda.StartWithOptions, passing the lambda.Options given with
// WithLambdaOptions. It enables SIGTERM delivery (lambda.WithEnableSIGTERM)
// so that the handler's producer is flushed and closed when the execution
// environment shuts down. Like lambda.Start, it does not return.
//
// If NewHandler fails, the error is written to stderr and every invocation
// returns it, so that the misconfiguration shows in the function's logs
// and results.
func Start[K, V any](keys serde.Deserializer[K], values serde.Deserializer[V],
	process func(ctx context.Context, r *Record[K, V]) error, opts ...Option) {
	h, err := NewHandler(keys, values, process, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		lambda.StartWithOptions(failing{err})
		return
	}
	lambdaOpts := append(h.eng.cfg.lambdaOpts[:len(h.eng.cfg.lambdaOpts):len(h.eng.cfg.lambdaOpts)],
		lambda.WithEnableSIGTERM(h.Close))
	lambda.StartWithOptions(h, lambdaOpts...)
}

// failing answers every invocation with the error NewHandler gave.
type failing struct{ err error }

func (f failing) Invoke(context.Context, []byte) ([]byte, error) { return nil, f.err }
