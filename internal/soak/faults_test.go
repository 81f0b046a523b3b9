package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafkalambda/kafka-lambda-go/secrets/secretstest"
)

// Kinds of injected faults, as the figures name them.
const (
	fkProduceRetriable = "produce-retriable"  // NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT
	fkProduceInvalid   = "produce-invalid"    // INVALID_RECORD: not retriable
	fkProduceDelay     = "produce-delay"      // answered up to delayMax late
	fkProduceStall     = "produce-stall"      // answered after the function's deadline
	fkOutage           = "broker-outage"      // every connection dropped, new ones refused
	fkUnreachable      = "broker-unreachable" // the same, for the function's producer only
	fkAuthReject       = "sasl-reject"        // the function's credentials refused
	fkRotation         = "secret-rotation"    // new credentials in the secret, the old ones revoked
	fkRegistry5xx      = "registry-5xx"       // 500 or 503
	fkRegistryTimeout  = "registry-timeout"   // no answer until the client gives up
	fkRegistry404      = "registry-404"       // a plain-text 404: the URL is not a registry
	fkSecrets          = "secrets-fail"       // reads answered Throttling, InternalServiceError or AccessDenied
	fkSecretsSlow      = "secrets-slow"       // a window with slow answers
	fkCommit           = "commit-fail"        // OffsetCommit answered REQUEST_TIMED_OUT
)

// plan is what a faulted run injects, drawn from its seed.
type plan struct {
	retriableP, invalidP float64       // per partition of a produce request to the outputs
	delayP               float64       // per produce request to the function's topics
	delayMax             time.Duration // longest ordinary delay
	stallAt              []int         // produce requests (to the function's topics, counted from 1) answered late
	stall                time.Duration // how late: past the function's timeout
	stallGap             time.Duration // at least this long between the end of a stall and the next
	registryFirst        []string      // per registry request path, how its first requests fail
	registryHang         string        // a request path whose first requests fail as registryOutage says
	registryOutage       []string      // no answer, then more 503s in a row than serde retries
	registryP            float64       // after those, the share of requests failed (500, 503)
	registry404          int           // the function's first registry requests, answered a plain 404
	commitP              float64       // share of offset commits failed
	outages              []outage      // in progress order
	unreachableAfter     int           // the first invocation after this outage (index) closes the function's door
	unreachable          time.Duration // for this long
	brokerGap            time.Duration // at least this long between two broker faults (outages, unreachability)
}

// outage is the broker going away once the run has made progress at.
type outage struct {
	at         float64       // share of the input handled
	down       time.Duration // how long the broker is away
	rejectAuth bool          // the function's first authentication afterwards is refused
	rotate     bool          // the secret is rotated to new credentials and the old ones revoked
}

// newPlan draws the faults of a run from rng. timeout is the function's
// timeout: stalls last longer. hang is the registry request that meets an
// outage of the registry: the first fetch of a schema that the function
// meets mid-run. It hangs first (which costs srclient's 5 s HTTP timeout,
// during which every invocation that needs that schema waits for the one
// request in flight), then fails with 503 more times in a row than serde
// tries within one call (5, its default).
//
// Two faults test that a failure that is not a record's fault never gives a
// good record up. The registry answers a plain-text 404 (what a wrong URL
// or path prefix gets, not Confluent's JSON error) to the function's first
// registry404 requests: at the cold start, records fail to deserialize. It
// is bounded by requests, not time, so that a loaded machine, where each
// attempt takes longer, fails no more attempts than a quiet one. And the brokers refuse the function's
// producer (its port closed, its connections dropped) for longer than the
// function's timeout, from the start of the first invocation after the
// second outage, while the mapping, on its own port, goes on invoking the
// function: invocations end at their flush deadline with their sends
// unacknowledged behind "Connection refused". Broker faults (outages,
// unreachability) never overlap and are at least brokerGap apart.
//
// Such faults fail invocations, which the mapping retries. Each kind fails
// a batch's attempts a bounded number of times: the 3 404s fail at most 3
// attempts (each fails at its first registry request); an attempt that
// meets the unreachable brokers lasts until its flush deadline (2.5 s), so
// their 4 s fail at most 3; the registry's outage at most 5 (3 for the 5 s
// of the hang, 2 for the calls that meet its 503s); a broker outage fails
// the attempts in flight, and the
// refused credentials or the rotation after it one more; a stall holds one
// producer's connection, failing the attempt that uses it and at most the
// next one in that environment (each invocation runs in an execution
// environment of its own, see environments, so a fault of one producer
// fails no other invocation). Broker faults never overlap and are
// brokerGap apart, stalls stallGap apart.
//
// A batch that lives through the whole run (one behind a poison record that
// keeps failing it, or one whose attempts a loaded machine makes slow) can
// meet every kind in turn: the bounds add up (plan.failures). AWS's default
// budget with an on-failure topic is 11 attempts (1 +
// esm.RetriesWithOnFailure), less than that sum, and the soak's backoff
// (20 ms doubling to 200 ms) spends 1.5 s between them: a faulted run
// gives the mapping the retries the plan can use up (plan.retries), so
// that a good record given up means the function failed more often than
// the faults explain. The figures show the most failed attempts of a batch
// that starts with a good record.
//
// A fault that fails invocations for longer than the budget — fast ones
// for more than about 1.5 s at AWS's budget and the soak's backoff, or
// about 31 s at esm's default backoff (200 ms to 5 s) — gives good records
// up to the on-failure topic under every policy: that is the mapping's
// retry setting, not something a function can prevent.
func newPlan(rng *rand.Rand, timeout time.Duration, hang string) plan {
	return plan{
		retriableP:     0.04,
		invalidP:       0.006,
		delayP:         0.05,
		delayMax:       300 * time.Millisecond,
		stallAt:        []int{5 + rng.IntN(10), 15 + rng.IntN(10)},
		stall:          timeout + time.Second,
		stallGap:       timeout,
		registryFirst:  []string{"503", "500"},
		registryHang:   hang,
		registryOutage: append([]string{"timeout"}, slices.Repeat([]string{"503"}, 6)...),
		registryP:      0.2,
		registry404:    3,
		commitP:        0.1,
		outages: []outage{
			{at: 0.15 + 0.15*rng.Float64(), down: 1500 * time.Millisecond, rejectAuth: true},
			{at: 0.45 + 0.15*rng.Float64(), down: time.Second, rotate: true},
		},
		unreachableAfter: 1,
		unreachable:      timeout + time.Second,
		brokerGap:        time.Second,
	}
}

// failures is the most attempts of one batch that the plan's faults can
// fail, one kind after the other (see newPlan): the 404s one each; the
// unreachable brokers, and the registry's hang, one per flush deadline
// they span and one more; the registry's 503s after the hang one per call
// they can fill; each broker outage the attempt in flight and the one that
// meets the refused credentials or the rotation; each stall the attempt
// that uses the connection and the next one.
func (p plan) failures(timeout, margin time.Duration) int {
	const (
		hang          = 5 * time.Second // srclient's HTTP timeout: the longest the hung request lasts
		serdeAttempts = 5               // serde's default tries of one registry call (serde.WithRetry)
	)
	flush := timeout - margin
	spanned := func(d time.Duration) int { return int((d+flush-1)/flush) + 1 }
	n := p.registry404
	n += spanned(p.unreachable)
	n += spanned(hang) + (len(p.registryOutage)-1+serdeAttempts-1)/serdeAttempts
	n += 2 * len(p.outages)
	n += 2 * len(p.stallAt)
	return n
}

// retries is the mapping's retry limit in a faulted run with an on-failure
// topic: what the plan's faults can fail in one batch, and drawSlack more
// for the draws that land on it (INVALID_RECORD answers; registry 500s and
// 503s, which fail an attempt when more land in a row than serde tries),
// which no plan bounds.
func (p plan) retries(timeout, margin time.Duration) int {
	return p.failures(timeout, margin) + drawSlack
}

// drawSlack is the failed attempts a batch's retry budget keeps for the
// plan's random faults.
const drawSlack = 5

// injector injects a plan's faults into one cluster, registry and secret
// source, and counts what it injected. Its draws come from one seeded
// source, taken in the order the broker and the registry see requests.
type injector struct {
	plan    plan
	kafka   *kfake.Cluster
	lis     *outageListener
	sm      *secretstest.Server
	rotate  func() (revoked string) // rotates the secret, returns the old user
	fnUser  func() string           // the function's current user
	watched map[[16]byte]string     // topic ids of the function's topics
	done    chan struct{}           // closed at the end: ends every wait
	log     *slog.Logger            // when each timed fault starts and ends

	mu           sync.Mutex
	rng          *rand.Rand
	counts       map[string]int
	produceN     int
	regSeen      map[string]int
	regOn        bool
	authNext     map[string]int  // user → refusals still to inject
	revoked      map[string]bool // users whose every authentication is refused
	sleeping     int             // produce requests held by a delay
	released     chan struct{}   // closed when sleeping drops to 0, if set
	stalls       int             // stalls injected
	stallFree    time.Time       // no stall before then
	unreachArmed chan struct{}   // set: the next invocation closes the function's door, and closes this
	unreached    bool            // the function's door was closed
	brokerBusy   chan struct{}   // while a broker fault is under way; closed as it ends
	brokerFree   time.Time       // no broker fault starts before then
	reopened     chan struct{}   // closed once it is open again
	away         []window        // when the brokers were unreachable for the function
	reg404       int             // registry requests answered 404
	handles      map[string][]*kfake.FaultHandle
	schedDone    chan struct{}
	stopOnce     sync.Once
	errs         []error // what went wrong injecting

	// sends reports whether an invocation of the payload sends (some
	// partition of it starts with a good record): only such an invocation
	// closes the door, so that its sends meet it. Set before the run.
	sends func(payload []byte) bool
}

// fail records that a fault could not be injected (or undone).
func (in *injector) fail(err error) {
	in.mu.Lock()
	in.errs = append(in.errs, err)
	in.mu.Unlock()
}

// newInjector returns the injector of a faulted run on r, its plan and
// its draws from seed. hang is the registry request that hangs once.
func newInjector(r *rig, seed uint64, hang string) *injector {
	rng := rand.New(rand.NewPCG(seed, seed^0xfa17))
	return &injector{
		plan: newPlan(rng, fnTimeout, hang), kafka: r.c.Kafka(), lis: r.lis, sm: r.sm,
		rotate: r.rotate, fnUser: r.fnUser, done: make(chan struct{}), rng: rng, log: r.logs.logger("injector"),
		counts: map[string]int{}, regSeen: map[string]int{}, authNext: map[string]int{}, revoked: map[string]bool{},
	}
}

func (in *injector) count(kind string, n int) {
	in.mu.Lock()
	in.counts[kind] += n
	in.mu.Unlock()
}

// counts returns the faults injected so far, by kind.
func (in *injector) snapshot() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := maps.Clone(in.counts)
	for kind, hs := range in.handles {
		for _, h := range hs {
			out[kind] += h.Hits()
		}
	}
	for _, r := range in.sm.Requests() {
		if r.Status >= 400 {
			out[fkSecrets]++
		}
	}
	return out
}

// draw reports whether a draw from the run's source falls below p.
func (in *injector) draw(p float64) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rng.Float64() < p
}

// install sets up the broker side: produce rejections and delays on the
// output topics, failed offset commits for group, refused authentications.
// outputs are every topic something writes to; fnTopics those the
// function writes to (delays apply to those only).
func (in *injector) install(group string, outputs, fnTopics []string) {
	p := in.plan
	in.handles = map[string][]*kfake.FaultHandle{}
	for _, topic := range outputs {
		in.handles[fkProduceRetriable] = append(in.handles[fkProduceRetriable], in.kafka.Fault(
			kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.NotLeaderForPartition, Count: -1,
				When: func(kmsg.Request) bool { return in.draw(p.retriableP / 2) }},
			kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.RequestTimedOut, Count: -1,
				When: func(kmsg.Request) bool { return in.draw(p.retriableP / 2) }}))
		in.handles[fkProduceInvalid] = append(in.handles[fkProduceInvalid], in.kafka.Fault(
			kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.InvalidRecord, Count: -1,
				When: func(kmsg.Request) bool { return in.draw(p.invalidP) }}))
	}
	in.handles[fkCommit] = append(in.handles[fkCommit], in.kafka.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: group, Err: kerr.RequestTimedOut, Count: -1,
			When: func(kmsg.Request) bool { return in.draw(p.commitP) }}))

	in.watched = map[[16]byte]string{}
	for _, topic := range fnTopics {
		if ti := in.kafka.TopicInfo(topic); ti != nil {
			in.watched[ti.TopicID] = topic
		}
	}
	in.kafka.ControlKey(int16(kmsg.Produce), in.controlProduce)
	in.kafka.ControlKey(int16(kmsg.SASLAuthenticate), in.controlAuth)
}

// controlProduce holds some produce requests to the function's topics:
// briefly, or past the function's deadline. It runs on the broker's
// goroutine and never answers the request itself.
func (in *injector) controlProduce(kr kmsg.Request) (kmsg.Response, error, bool) {
	req, ok := kr.(*kmsg.ProduceRequest)
	if !ok || !in.writesFunctionTopic(req) {
		return nil, nil, false
	}
	in.mu.Lock()
	in.produceN++
	var d time.Duration
	switch {
	case in.stalls < len(in.plan.stallAt) && in.produceN >= in.plan.stallAt[in.stalls] && time.Now().After(in.stallFree):
		// Never one right after another: the function's producer has
		// one connection, answered in order, so back-to-back stalls
		// would starve it for two deadlines and more, failing every
		// batch in flight each time.
		d = in.plan.stall
		in.stalls++
		in.stallFree = time.Now().Add(d + in.plan.stallGap)
		in.counts[fkProduceStall]++
		in.log.Info("soak: fault starts", "produce_stall_ms", d.Milliseconds(), "produce_request", in.produceN)
	case in.rng.Float64() < in.plan.delayP:
		d = time.Duration(1 + in.rng.Int64N(int64(in.plan.delayMax)))
		in.counts[fkProduceDelay]++
	}
	if d > 0 {
		in.sleeping++
	}
	in.mu.Unlock()
	if d > 0 {
		in.kafka.SleepControl(func() {
			defer in.release()
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-in.done:
			}
		})
	}
	return nil, nil, false
}

// release ends the hold of a produce request.
func (in *injector) release() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sleeping--
	if in.sleeping == 0 && in.released != nil {
		close(in.released)
		in.released = nil
	}
}

func (in *injector) writesFunctionTopic(req *kmsg.ProduceRequest) bool {
	for _, t := range req.Topics {
		if _, ok := in.watched[t.TopicID]; ok {
			return true
		}
		for _, name := range in.watched {
			if t.Topic == name {
				return true
			}
		}
	}
	return false
}

// controlAuth refuses the SASL/PLAIN authentications planned to fail, as a
// broker answers wrong credentials.
func (in *injector) controlAuth(kr kmsg.Request) (kmsg.Response, error, bool) {
	req, ok := kr.(*kmsg.SASLAuthenticateRequest)
	if !ok {
		return nil, nil, false
	}
	user := plainUser(req.SASLAuthBytes)
	in.mu.Lock()
	refuse := in.revoked[user] || in.authNext[user] > 0
	if refuse {
		if in.authNext[user] > 0 {
			in.authNext[user]--
		}
		in.counts[fkAuthReject]++
	}
	in.mu.Unlock()
	if !refuse {
		return nil, nil, false
	}
	in.kafka.KeepControl()
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
	msg := "Authentication failed: Invalid username or password"
	resp.ErrorMessage = &msg
	return resp, nil, true
}

// plainUser returns the user of a SASL/PLAIN message (authzid NUL user NUL
// password); never the password.
func plainUser(b []byte) string {
	parts := bytes.SplitN(b, []byte{0}, 3)
	if len(parts) != 3 {
		return ""
	}
	return string(parts[1])
}

// interceptRegistry is the registry's fault interceptor: the function's
// first requests get the plain-text 404 of a
// URL that is not a registry's (Go's http.NotFound, as a server with
// another path prefix answers); then per request path the first requests
// fail as planned, later ones at random; a "timeout" answers nothing until
// the client gives up.
func (in *injector) interceptRegistry(w http.ResponseWriter, r *http.Request) bool {
	key := r.Method + " " + r.URL.Path
	in.mu.Lock()
	if !in.regOn {
		in.mu.Unlock()
		return false
	}
	if in.reg404 < in.plan.registry404 {
		if in.reg404 == 0 {
			in.log.Info("soak: fault starts", "registry_404_requests", in.plan.registry404)
		}
		in.reg404++
		in.counts[fkRegistry404]++
		in.mu.Unlock()
		http.NotFound(w, r)
		return true
	}
	n := in.regSeen[key]
	in.regSeen[key]++
	first := in.plan.registryFirst
	if key == in.plan.registryHang {
		first = in.plan.registryOutage
	}
	kind := ""
	switch {
	case n < len(first):
		kind = first[n]
	case in.rng.Float64() < in.plan.registryP:
		kind = [...]string{"500", "503"}[in.rng.IntN(2)]
	}
	if kind == "timeout" {
		in.counts[fkRegistryTimeout]++
	} else if kind != "" {
		in.counts[fkRegistry5xx]++
	}
	in.mu.Unlock()
	switch kind {
	case "":
		return false
	case "timeout":
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-in.done:
		case <-t.C:
		}
		w.WriteHeader(http.StatusGatewayTimeout)
	default:
		status := http.StatusInternalServerError
		if kind == "503" {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error_code":%d,"message":"soak: injected"}`, status)
	}
	return true
}

// setRegistryFaults turns the registry faults on or off.
func (in *injector) setRegistryFaults(on bool) {
	in.mu.Lock()
	in.regOn = on
	in.mu.Unlock()
}

// failSecrets makes the next secret reads fail: throttled, then an
// internal error (the SDK and the loader retry both). What was injected is
// counted from the endpoint's answers (see snapshot).
func (in *injector) failSecrets(throttled, internal int) {
	in.sm.FailNext(throttled, secretstest.Throttling)
	in.sm.FailNext(internal, secretstest.InternalError)
}

// schedule runs the plan's outages as the run's progress (the share of the
// input handled, from progress) passes each one. It returns at once; the
// outages run in a goroutine until done or ctx ends.
func (in *injector) schedule(ctx context.Context, progress func() float64) {
	in.schedDone = make(chan struct{})
	go func() {
		defer close(in.schedDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i, o := range in.plan.outages {
			for progress() < o.at {
				select {
				case <-ctx.Done():
					return
				case <-in.done:
					return
				case <-tick.C:
				}
			}
			if !in.acquireBroker() {
				return
			}
			in.log.Info("soak: fault starts", "outage", o.at, "down_ms", o.down.Milliseconds(), "progress", progress())
			in.runOutage(ctx, o)
			in.releaseBroker()
			in.log.Info("soak: fault ends", "outage", o.at, "progress", progress())
			if i == in.plan.unreachableAfter {
				// The brokers' unreachability comes next: from the
				// next invocation to start (see beforeInvoke).
				armed := make(chan struct{})
				in.mu.Lock()
				in.unreachArmed = armed
				in.mu.Unlock()
				select {
				case <-armed:
				case <-ctx.Done():
					return
				case <-in.done:
					return
				}
			}
		}
	}()
}

// acquireBroker waits until no broker fault (an outage, the brokers'
// unreachability for the function) is under way and the last one ended
// brokerGap ago, and marks one under way: two never overlap nor come back
// to back, so that a batch meets each on its own (see newPlan). It reports
// false if the plan ended first.
func (in *injector) acquireBroker() bool {
	for {
		in.mu.Lock()
		busy, wait := in.brokerBusy, time.Until(in.brokerFree)
		if busy == nil && wait <= 0 {
			in.brokerBusy = make(chan struct{})
			in.mu.Unlock()
			return true
		}
		in.mu.Unlock()
		t := time.NewTimer(max(wait, 0))
		if busy != nil {
			t.Stop() // wait for the fault under way, then look again
		}
		select {
		case <-busy:
		case <-t.C:
		case <-in.done:
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// releaseBroker marks the broker fault under way ended.
func (in *injector) releaseBroker() {
	in.mu.Lock()
	defer in.mu.Unlock()
	close(in.brokerBusy)
	in.brokerBusy = nil
	in.brokerFree = time.Now().Add(in.plan.brokerGap)
}

// runOutage takes the broker away for o.down, with what o adds around it.
func (in *injector) runOutage(ctx context.Context, o outage) {
	user := in.fnUser()
	if o.rotate {
		old := in.rotate()
		in.mu.Lock()
		in.revoked[old] = true
		in.mu.Unlock()
		in.count(fkRotation, 1)
		in.sm.SetLatency(400 * time.Millisecond)
		in.count(fkSecretsSlow, 1)
		// Right after a rotation, the new version is not readable yet
		// (as while a role's policy propagates): a refusal that the
		// loader does not retry.
		in.sm.FailNext(1, secretstest.AccessDenied)
	}
	if o.rejectAuth {
		in.mu.Lock()
		in.authNext[user]++
		in.mu.Unlock()
	}
	in.failSecrets(2, 1)
	if err := in.lis.setDown(true); err != nil {
		in.fail(fmt.Errorf("take the broker down: %w", err))
		return
	}
	in.count(fkOutage, 1)
	t := time.NewTimer(o.down)
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-in.done:
	}
	t.Stop()
	if err := in.lis.setDown(false); err != nil {
		in.fail(fmt.Errorf("bring the broker back: %w", err))
	}
	if o.rotate {
		time.AfterFunc(2*time.Second, func() { in.sm.SetLatency(0) })
	}
}

// beforeInvoke is called as each invocation starts, with its payload.
// Once the plan has armed it (after the second outage), the first
// invocation to start that sends (in.sends: late in a run, the mapping may
// be retrying only batches that start with poison, which send nothing)
// closes the function's door of the broker before it starts, for the
// plan's time (and not less than brokerGap after the
// outage: the invocation waits, see acquireBroker): the function's producer
// has its connections dropped and its dials refused, while the mapping
// goes on fetching, invoking and committing through its own door. It and
// the invocations that start in the next 1.5 s cannot reach the brokers
// before their deadline.
func (in *injector) beforeInvoke(payload []byte) {
	in.mu.Lock()
	armed := in.unreachArmed
	if armed == nil || in.unreached || in.isDone() || (in.sends != nil && !in.sends(payload)) {
		in.mu.Unlock()
		return
	}
	in.unreached = true
	reopened := make(chan struct{})
	in.reopened = reopened
	in.mu.Unlock()
	defer close(armed) // the scheduler goes on once the door is closed
	if !in.acquireBroker() {
		close(reopened)
		return
	}

	from := time.Now()
	if err := in.lis.setDoorDown(fnDoor, true); err != nil {
		in.fail(fmt.Errorf("close the function's door: %w", err))
		in.releaseBroker()
		close(reopened)
		return
	}
	in.count(fkUnreachable, 1)
	in.log.Info("soak: fault starts", "unreachable_ms", in.plan.unreachable.Milliseconds())
	go func() {
		defer close(reopened)
		t := time.NewTimer(in.plan.unreachable)
		select {
		case <-t.C:
		case <-in.done:
		}
		t.Stop()
		if err := in.lis.setDoorDown(fnDoor, false); err != nil {
			in.fail(fmt.Errorf("open the function's door again: %w", err))
		}
		in.mu.Lock()
		in.away = append(in.away, window{from, time.Now()})
		in.mu.Unlock()
		in.releaseBroker()
		in.log.Info("soak: fault ends", "unreachable_ms", in.plan.unreachable.Milliseconds())
	}()
}

// isDone reports whether quiesce has begun.
func (in *injector) isDone() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// window is a span of time.
type window struct{ from, to time.Time }

// unreachable returns when the brokers were unreachable for the function.
func (in *injector) unreachable() []window {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.away)
}

// quiesce ends the plan: no more faults, no request left held. It waits up
// to limit for held produce requests to be answered.
func (in *injector) quiesce(limit time.Duration) error {
	in.setRegistryFaults(false)
	in.stopOnce.Do(func() { close(in.done) })
	if in.schedDone != nil {
		<-in.schedDone
	}
	in.mu.Lock()
	reopened := in.reopened
	in.mu.Unlock()
	if reopened != nil {
		<-reopened
	}
	for _, hs := range in.handles {
		for _, h := range hs {
			h.Remove()
		}
	}
	in.sm.SetLatency(0)
	in.mu.Lock()
	in.log.Info("soak: plan ends", "produce_requests", in.produceN)
	errs := errors.Join(in.errs...)
	in.mu.Unlock()
	if errs != nil {
		return errs
	}
	// in.done is closed: every hold ends now, and no new one waits.
	in.mu.Lock()
	if in.sleeping == 0 {
		in.mu.Unlock()
		return nil
	}
	released := make(chan struct{})
	in.released = released
	in.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-released:
		return nil
	case <-t.C:
		in.mu.Lock()
		defer in.mu.Unlock()
		return fmt.Errorf("%d produce requests still held after %v", in.sleeping, limit)
	}
}

// describe formats fault counts as "kind=n ..." in a stable order.
func describe(counts map[string]int) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if counts[k] == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, counts[k])
	}
	return b.String()
}

// TestPlanRetries: the retry budget of a faulted run is the sum newPlan
// documents (3 404s, 3 for the unreachable brokers, 5 for the registry's
// outage, 2 per broker outage, 2 per stall) and the slack for the draws.
func TestPlanRetries(t *testing.T) {
	p := newPlan(rand.New(rand.NewPCG(1, 2)), fnTimeout, "")
	if got, want := p.failures(fnTimeout, fnMargin), 3+3+5+2*2+2*2; got != want {
		t.Errorf("failures = %d, want %d", got, want)
	}
	if got := p.retries(fnTimeout, fnMargin); got != 24 {
		t.Errorf("retries = %d, want 24 (internal/soak's doc says so)", got)
	}
}
