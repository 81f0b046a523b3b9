package esm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/kafkalambda/kafka-lambda-go/esm"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/kafkalambda/kafkalambdatest"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// printer is a function that prints the records it is invoked with, and
// says when it has seen want of them.
type printer struct {
	want int
	done chan struct{}
}

func (p *printer) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	ev, err := kafkalambda.ParseEvent(payload)
	if err != nil {
		return nil, err
	}
	for _, part := range ev.Partitions {
		for _, r := range part.Records {
			fmt.Printf("%s %s@%d %s=%s\n", ev.Source, part.Key, r.Offset, r.Key, r.Value)
			if p.want--; p.want == 0 {
				close(p.done)
			}
		}
	}
	return nil, nil
}

// Run a function in process on an embedded broker, as the event source
// mapping would invoke it.
func Example() {
	ctx := context.Background()
	cluster, err := kafkalambdatest.StartCluster(ctx, kafkalambdatest.WithTopic("orders", 1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	err = kafkalambdatest.ProduceTo(ctx, cluster, "orders", 0, serde.String(), serde.String(),
		kafkalambdatest.Record[string, string]{Key: "o-1", Value: "new"},
		kafkalambdatest.Record[string, string]{Key: "o-1", Value: "paid"},
		kafkalambdatest.Record[string, string]{Key: "o-2", Value: "new"})
	if err != nil {
		fmt.Println(err)
		return
	}

	fn := &printer{want: 3, done: make(chan struct{})}
	m, err := esm.New(esm.Config{Brokers: cluster.Brokers(), Topics: []string{"orders"}, Group: "example"},
		&esm.HandlerTarget{Handler: fn}, esm.WithBatchingWindow(10*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	result := make(chan error, 1)
	go func() { result <- m.Run(runCtx) }()
	<-fn.done
	stop()
	if err := <-result; err != nil {
		fmt.Println(err)
	}
	fmt.Println("committed:", m.Stats().RecordsCommitted)
	// Output:
	// SelfManagedKafka orders-0@0 o-1=new
	// SelfManagedKafka orders-0@1 o-1=paid
	// SelfManagedKafka orders-0@2 o-2=new
	// committed: 3
}

// A dead-letter handler reads a file of a folder destination
// (WithOnFailureDir) as it would the SQS message, SNS notification or S3
// object AWS sends for a failed batch.
func ExampleParseInvocationRecord() {
	file := []byte(`{"requestContext":{"requestId":"316aa6d0-8154-4a26-8292-db43ed81693a",
		"functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:orders","condition":"RetryAttemptsExhausted",
		"approximateInvokeCount":11},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
		"version":"1.0","timestamp":"2026-12-02T12:00:00.000Z","KafkaBatchInfo":{"batchSize":2,"bootstrapServers":"127.0.0.1:9092",
		"payloadSize":0,"recordsInfo":{"orders-0":{"firstRecordOffset":"41","lastRecordOffset":"42",
		"firstRecordTimestamp":"2026-12-02T11:59:58.000Z","lastRecordTimestamp":"2026-12-02T11:59:59.000Z"}}}}`)
	ir, err := esm.ParseInvocationRecord(file)
	if err != nil {
		fmt.Println(err)
		return
	}
	for key, r := range ir.KafkaBatchInfo.RecordsInfo {
		fmt.Printf("%s: %s offsets %s to %s after %d invocations\n", ir.RequestContext.Condition, key,
			r.FirstRecordOffset, r.LastRecordOffset, ir.RequestContext.ApproximateInvokeCount)
	}
	// Output:
	// RetryAttemptsExhausted: orders-0 offsets 41 to 42 after 11 invocations
}
