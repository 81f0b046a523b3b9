package main

import (
	"context"
	"io"
	"sync"

	"github.com/kafkalambda/kafka-lambda-go/esm"
)

// printTarget is the target without -function-url: it writes each event to
// w, one JSON document a line, and reports success.
type printTarget struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printTarget) Invoke(_ context.Context, payload []byte) (esm.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(append(payload[:len(payload):len(payload)], '\n')); err != nil {
		return esm.Result{}, err
	}
	return esm.Result{StatusCode: 200}, nil
}
