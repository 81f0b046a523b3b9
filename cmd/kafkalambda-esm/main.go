// Command kafkalambda-esm runs a local Kafka event source mapping: it
// consumes Kafka topics as a consumer group and invokes a Lambda function
// with the events and semantics of AWS's event source mapping for MSK and
// self-managed Kafka (package github.com/kafkalambda/kafka-lambda-go/esm).
//
// Against a function under the Runtime Interface Emulator or
// `sam local start-lambda`, give its Invoke API endpoint:
//
//	kafkalambda-esm -brokers localhost:9092 -topics orders \
//	    -function-url http://127.0.0.1:9000 -item-failures -on-failure-topic orders-failed
//
//	sam local start-lambda --port 3001 &
//	kafkalambda-esm -brokers localhost:9092 -topics orders \
//	    -function-url http://127.0.0.1:3001 -function-name OrdersFunction
//
// Without -function-url it prints each event to stdout, one JSON document a
// line, and treats it as processed: a way to see exactly what a function
// would get. (When stdout and stderr are both terminals and the progress
// frame is drawn, the events are written above the frame, through stderr,
// so that its redraws do not erase them.)
//
// Progress and per-batch outcomes go to stderr through log/slog
// (-log-level, -log-format). With -progress (the default), records handled
// per second, the lag of each partition and the failures are shown there
// too: on a terminal, a few lines redrawn in place, left as the run's
// summary when it ends; elsewhere, a log line every 10 s when anything
// changed. -progress=false turns them off. SIGINT or SIGTERM stops it after the batches
// in flight (bounded by -shutdown-timeout); a second signal exits at once.
// The exit status is 0 after such a stop, 1 when the mapping fails (the
// brokers cannot be reached or refuse the credentials), 2 on bad flags.
//
// With -stop-when-caught-up it also stops by itself once every partition
// is processed to the end offsets seen when it started, so a script or CI
// job needs no sleep and kill: the exit status is then 0 when every record
// was processed, and 3 when any was sent to the on-failure topic or
// discarded.
//
// With -template and -function it runs the function's Kafka event source
// mapping as a SAM or CloudFormation template describes it (package
// esm/samtemplate): flags given as well override the template, and
// -parameter-overrides sets its parameters as sam does. What it cannot
// honour (secrets, unresolvable intrinsics) is logged by path. -check
// prints instead what would not deploy or would behave differently on
// AWS, and exits 4 when there is something:
//
//	kafkalambda-esm -template template.yaml -function SettleFunction \
//	    -brokers localhost:9092 -function-url http://127.0.0.1:9000
//	kafkalambda-esm -template template.yaml -function SettleFunction -check -item-failures
//
// Secrets can come from the environment instead of flags:
// KAFKA_SASL_PASSWORD and SCHEMA_REGISTRY_PASSWORD.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafkalambda/kafka-lambda-go/esm/progress"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the next signal kills the process
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, runs the mapping until ctx is
// done and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kafkalambda-esm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := defineFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	live := newLive(f.progress, stderr, getenv)
	logger, err := f.logger(live.logWriter())
	if err != nil {
		fmt.Fprintln(stderr, "kafkalambda-esm:", err)
		return 2
	}
	tmpl, err := f.readTemplate(fs)
	if err != nil {
		fmt.Fprintln(stderr, "kafkalambda-esm:", err)
		return 2
	}
	if tmpl.checking() {
		return tmpl.report(f, getenv, stdout, stderr)
	}
	stdoutTerminal, _ := progress.Terminal(stdout, getenv)
	m, err := f.mapping(getenv, live.eventWriter(stdout, stdoutTerminal), logger)
	if err != nil {
		fmt.Fprintln(stderr, "kafkalambda-esm:", err)
		return 2
	}
	tmpl.log(f, m, logger)
	// The mapping logs its own summary when it stops; its error it only
	// returns.
	stopLive := live.start(m, logger)
	err = m.Run(ctx)
	stopLive()
	if err != nil {
		logger.Error("kafkalambda-esm: failed", "err", err)
		return 1
	}
	if st := m.Stats(); f.stopCaughtUp && st.RecordsOnFailure+st.RecordsDiscarded > 0 {
		fmt.Fprintf(stderr, "kafkalambda-esm: %d records sent to the on-failure destination, %d discarded\n", st.RecordsOnFailure, st.RecordsDiscarded)
		return exitGaveUp
	}
	return 0
}

// exitGaveUp is the exit status of a run stopped when caught up in which
// records were given up.
const exitGaveUp = 3
