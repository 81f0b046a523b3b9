package kafkalambda_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kafkalambda/kafka-lambda-go/kafkalambda"
	"github.com/kafkalambda/kafka-lambda-go/serde"
)

// keepingProducer keeps every message it is given, as the franz-go client
// does until the brokers answer, and reports none until Report: what it
// reads at Report time is what it would have written.
type keepingProducer struct {
	mu   sync.Mutex
	msgs []*kafkalambda.Message
	ds   []kafkalambda.Delivery
	more chan struct{} // closed and replaced when a message comes
}

func newKeepingProducer() *keepingProducer { return &keepingProducer{more: make(chan struct{})} }

func (p *keepingProducer) Produce(_ context.Context, m *kafkalambda.Message, d kafkalambda.Delivery) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	p.ds = append(p.ds, d)
	close(p.more)
	p.more = make(chan struct{})
	return nil
}
func (*keepingProducer) Purge() {} // keeps them: the worst a Producer may do
func (*keepingProducer) Close() {}

// await returns once n messages have been given in all.
func (p *keepingProducer) await(n int) {
	for {
		p.mu.Lock()
		got, more := len(p.msgs), p.more
		p.mu.Unlock()
		if got >= n {
			return
		}
		<-more
	}
}

// report reads messages [from, to) as they stand now, and then reports them
// delivered.
func (p *keepingProducer) report(from, to int) []string {
	p.mu.Lock()
	msgs, ds := p.msgs[from:to], p.ds[from:to]
	p.mu.Unlock()
	read := make([]string, len(msgs))
	for i, m := range msgs {
		read[i] = fmt.Sprintf("%s %q=%q %v", m.Topic, m.Key, m.Value, m.Headers)
	}
	for _, d := range ds {
		d.Done(nil)
	}
	return read
}

// What Send is given — bytes a Bytes or String serializer passes through,
// header slices and values — may be reused by the caller as soon as Send
// returns: the producer, which keeps the message until it is delivered,
// reads what was sent.
func TestSendKeepsNothingOfTheCaller(t *testing.T) {
	p := newKeepingProducer()
	bytesOut := kafkalambda.NewOutput("bytes", serde.Bytes(), serde.Bytes())
	stringOut := kafkalambda.NewOutput("strings", serde.String(), serde.String())
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
			buf := make([]byte, 0, 64)
			hdrs := make([]kafkalambda.Header, 1)
			for i := range 3 {
				buf = fmt.Appendf(buf[:0], "key-%d|value-%d", i, i)
				hdrs[0] = kafkalambda.Header{Key: "n", Value: buf[len(buf)-1:]}
				if err := bytesOut.Send(ctx, buf[:5], buf[6:], hdrs...); err != nil {
					return err
				}
				str := string(buf)
				if err := stringOut.Send(ctx, str[:5], str[6:]); err != nil {
					return err
				}
				if err := bytesOut.SendTombstone(ctx, buf[:5]); err != nil {
					return err
				}
			}
			clear(buf[:cap(buf)]) // the caller's memory, reused
			return nil
		}, kafkalambda.WithProducer(p), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		p.await(9)
		done <- p.report(0, 9)
	}()
	if _, err := h.Invoke(context.Background(), jsonEvent(1)); err != nil {
		t.Fatal(err)
	}
	got := <-done
	var want []string
	for i := range 3 {
		want = append(want,
			fmt.Sprintf(`bytes "key-%d"="value-%d" [{n [%d]}]`, i, i, '0'+i),
			fmt.Sprintf(`strings "key-%d"="value-%d" []`, i, i),
			fmt.Sprintf(`bytes "key-%d"="" []`, i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the producer read\n%q\nwant\n%q", got, want)
	}
}

// The memory of an invocation whose flush gave up on messages the producer
// still holds is never handed to a later invocation: the held messages
// read what was sent, after the next invocation has sent its own, and their
// late reports count for nothing.
func TestSendMemoryOfAnAbandonedInvocationIsNotReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newKeepingProducer()
		out := kafkalambda.NewOutput("out", serde.Bytes(), serde.Bytes())
		tag := byte('a')
		h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
			func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
				for i := range 300 { // past the first chunks of sendRefs
					k := bytes.Repeat([]byte{tag}, 1+i%7)
					if err := out.Send(ctx, k, k, kafkalambda.Header{Key: "h", Value: k}); err != nil {
						return err
					}
				}
				return nil
			}, kafkalambda.WithProducer(p), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
			kafkalambda.WithDeadlineMargin(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := h.Invoke(ctx, jsonEvent(1)); err == nil {
			t.Fatal("an invocation whose messages were never reported succeeded")
		}
		// The next invocation's messages are reported at once.
		tag = 'b'
		go func() {
			p.await(600)
			p.report(300, 600)
		}()
		if _, err := h.Invoke(context.Background(), jsonEvent(1)); err != nil {
			t.Fatal(err)
		}
		for i, m := range p.report(0, 300) {
			k := bytes.Repeat([]byte{'a'}, 1+i%7)
			if want := fmt.Sprintf("out %q=%q [{h %v}]", k, k, k); m != want {
				t.Fatalf("held message %d of the abandoned invocation reads %s, want %s", i, m, want)
			}
		}
	})
}

// A send from a goroutine that Process left running, once the invocation
// is over, fails: it would be covered by no flush. So it does when the
// invocation itself sent nothing, and when the send has nothing to copy
// (a serializer's own bytes, no headers).
func TestSendAfterTheInvocationFails(t *testing.T) {
	out := kafkalambda.NewOutput("out", serde.String(), serde.String())
	jsonOut := kafkalambda.NewOutput("out", serde.JSON[int](), serde.JSON[int]())
	for _, sends := range []bool{true, false} {
		t.Run(fmt.Sprintf("invocation sent: %v", sends), func(t *testing.T) {
			var late context.Context
			h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
				func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
					late = ctx
					if !sends {
						return nil
					}
					return out.Send(ctx, "k", "v")
				}, kafkalambda.WithProducer(instantProducer{}), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Invoke(context.Background(), jsonEvent(1)); err != nil {
				t.Fatal(err)
			}
			if err := out.Send(late, "k", "v"); !errors.Is(err, kafkalambda.ErrNoInvocation) {
				t.Errorf("a send after the invocation: %v, want ErrNoInvocation", err)
			}
			if err := jsonOut.Send(late, 1, 2); !errors.Is(err, kafkalambda.ErrNoInvocation) {
				t.Errorf("a send of JSON after the invocation: %v, want ErrNoInvocation", err)
			}
		})
	}
}

// A warm function's sends allocate nothing per record: the invocation's
// sendRefs and its copies of what Bytes and String serializers lend and of
// the caller's headers live in memory the invocation before used, and the
// variadic headers stay on the caller's stack.
func TestSendsOfAWarmFunctionShareMemory(t *testing.T) {
	bytesOut := kafkalambda.NewOutput("bytes", serde.Bytes(), serde.Bytes())
	stringOut := kafkalambda.NewOutput("strings", serde.String(), serde.String())
	from := kafkalambda.Header{Key: "from", Value: []byte("in")}
	key, value := []byte("key"), []byte("a settlement of about forty bytes, say.")
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
			for range 500 {
				if err := bytesOut.Send(ctx, key, value, from); err != nil {
					return err
				}
				if err := stringOut.Send(ctx, "key", "value", from, from); err != nil {
					return err
				}
			}
			return nil
		}, kafkalambda.WithProducer(instantProducer{}), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	payload := jsonEvent(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // a deadline, as under Lambda
	defer cancel()
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := h.Invoke(ctx, payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 {
		t.Fatalf("%.0f allocations for an invocation that sends 1,000 records, want a few per invocation", allocs)
	}
}

// latePropagator writes no trace context; for a message carrying a "late"
// header it stops in Inject until released, then reads the header keys
// the message carries.
type latePropagator struct {
	entered, release chan struct{}
	seen             chan []string
}

func (p latePropagator) Inject(_ context.Context, c propagation.TextMapCarrier) {
	if c.Get("late") == "" {
		return
	}
	close(p.entered)
	<-p.release
	p.seen <- c.Keys()
}
func (latePropagator) Extract(ctx context.Context, _ propagation.TextMapCarrier) context.Context {
	return ctx
}
func (latePropagator) Fields() []string { return []string{"x-trace"} }

// A send that began before its invocation ended and is still reading the
// invocation's memory when it ends (here, tracing reading its headers)
// keeps that memory from the next invocation: it reads its own headers
// after the next invocation has sent, and then fails.
func TestALateSendKeepsItsMemory(t *testing.T) {
	prop := latePropagator{entered: make(chan struct{}), release: make(chan struct{}), seen: make(chan []string, 1)}
	out := kafkalambda.NewOutput("out", serde.String(), serde.String())
	late := make(chan error, 1)
	second := false
	h, err := kafkalambda.NewHandler(serde.String(), serde.String(),
		func(ctx context.Context, _ *kafkalambda.Record[string, string]) error {
			if second {
				for range 300 {
					if err := out.Send(ctx, "k", "v", kafkalambda.Header{Key: "second", Value: []byte("2")}); err != nil {
						return err
					}
				}
				return nil
			}
			go func() { late <- out.Send(ctx, "k", "v", kafkalambda.Header{Key: "late", Value: []byte("1")}) }()
			<-prop.entered // the send copied its headers and is in Inject
			return nil
		}, kafkalambda.WithProducer(instantProducer{}), kafkalambda.WithLogger(slog.New(slog.DiscardHandler)),
		kafkalambda.WithTracing(noop.NewTracerProvider()), kafkalambda.WithPropagator(prop))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(context.Background(), jsonEvent(1)); err != nil {
		t.Fatal(err)
	}
	second = true
	if _, err := h.Invoke(context.Background(), jsonEvent(1)); err != nil {
		t.Fatal(err)
	}
	close(prop.release)
	if keys := <-prop.seen; fmt.Sprint(keys) != "[late]" {
		t.Errorf("the late send read the header keys %v, want [late]", keys)
	}
	if err := <-late; !errors.Is(err, kafkalambda.ErrNoInvocation) {
		t.Errorf("the late send: %v, want ErrNoInvocation", err)
	}
}
