package kafkalambda_test

import (
	"bytes"
	"fmt"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
)

// A Parser parses one event after another into the same memory: keep
// nothing of an event past the next Parse without copying it.
func ExampleParser() {
	var ps kafkalambda.Parser
	var kept [][]byte
	for _, value := range []string{"Zmlyc3Q=", "c2Vjb25k"} { // "first", "second"
		payload := []byte(`{"eventSource":"aws:kafka","records":{"t-0":[` +
			`{"topic":"t","partition":0,"offset":1,"value":"` + value + `"}]}}`)
		ev, err := ps.Parse(payload)
		if err != nil {
			panic(err)
		}
		v := ev.Partitions[0].Records[0].Value
		fmt.Printf("%s\n", v)
		kept = append(kept, bytes.Clone(v)) // a copy outlives the next Parse
	}
	fmt.Printf("kept %s and %s\n", kept[0], kept[1])
	// Output:
	// first
	// second
	// kept first and second
}
