// Command rie-function is the Lambda function the Runtime Interface Emulator
// test runs as its bootstrap. For each event it parses with
// kafkalambda.ParseEvent, it appends "<topic>-<partition> <offset>" for every
// record it processes to the file named by $RECORD_LOG. A record whose value
// is "fail" fails the whole invocation (nothing is logged); a record whose
// value is "item-fail" is reported in batchItemFailures the first time it is
// seen, with the records of its partition after it, which are not processed
// then: a response right under both item failure models.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// function remembers the item failures it reported while it stays warm.
type function struct {
	mu       sync.Mutex
	reported map[string]bool
}

func (fn *function) handle(_ context.Context, payload json.RawMessage) (kafkalambda.ItemFailures, error) {
	ev, err := kafkalambda.ParseEvent(payload)
	if err != nil {
		return kafkalambda.ItemFailures{}, err
	}
	for _, p := range ev.Partitions {
		for _, r := range p.Records {
			if string(r.Value) == "fail" {
				return kafkalambda.ItemFailures{}, errors.New("record " + p.Key + " says fail")
			}
		}
	}
	f, err := os.OpenFile(os.Getenv("RECORD_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return kafkalambda.ItemFailures{}, err
	}
	defer f.Close()
	resp := kafkalambda.ItemFailures{BatchItemFailures: []kafkalambda.ItemFailure{}}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	for _, p := range ev.Partitions {
		for i, r := range p.Records {
			id := fmt.Sprintf("%s@%d", p.Key, r.Offset)
			if string(r.Value) == "item-fail" && !fn.reported[id] {
				fn.reported[id] = true
				for _, left := range p.Records[i:] {
					resp.BatchItemFailures = append(resp.BatchItemFailures,
						kafkalambda.ItemFailure{ItemIdentifier: kafkalambda.ItemIdentifier{Partition: p.Key, Offset: left.Offset}})
				}
				break
			}
			if _, err := fmt.Fprintf(f, "%s %d\n", p.Key, r.Offset); err != nil {
				return kafkalambda.ItemFailures{}, err
			}
		}
	}
	return resp, nil
}

func main() {
	fn := &function{reported: map[string]bool{}}
	lambda.Start(fn.handle)
}
