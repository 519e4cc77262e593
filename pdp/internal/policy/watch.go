package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Watching the fast path in production. The load-time checks and the test
// suite hold the fast program and the specialized rules to the answers of
// OPA's evaluator on the policy as written; a sample of live decisions
// checks them again on real traffic. A decision answered by the fast path
// or the specialized rules is, with probability Options.VerifySampleRate,
// queued (input term, result, time) for a worker goroutine that evaluates
// it again with OPA's evaluator on the policy as written. A different
// answer, or an error on OPA's side only, is a divergence: counted, logged
// once per revision with both answers and the input fields the policy
// reads, and the revision is served by OPA's evaluator on the policy as
// written from then on (a reload of the same revision keeps it so; a new
// revision starts on the fast path again).
//
// Cost on the caller's path: one random draw per decision answered by a
// faster evaluator; a sampled decision also builds the input term and
// copies the result (a few microseconds), never waits (a full queue sheds
// the sample, counted).

// Defaults of the verification sample (see Options).
const (
	DefaultVerifySampleRate = 0.001
	DefaultVerifyQueue      = 256
)

// Stats are the engine's counters, read by the metrics collector.
type Stats struct {
	// Evaluator is the evaluator the serving set answers with:
	// EvaluatorFast, EvaluatorOptimized or EvaluatorOPA ("" before a set
	// is loaded).
	Evaluator string
	// Reevaluations counts decisions OPA's evaluator on the policy as
	// written answered after the faster evaluator failed
	// (Result.Reevaluated).
	Reevaluations uint64
	// Verified counts sampled decisions OPA's evaluator evaluated again
	// and compared; Divergences those whose answers differed.
	Verified, Divergences uint64
	// VerifyShed counts samples dropped because the queue was full;
	// VerifyTimeouts samples not compared because OPA's evaluator ran out
	// of time (Options.EvalTimeout) on them.
	VerifyShed, VerifyTimeouts uint64
	// Unguarded counts evaluations that ran without a deadline because
	// every watchdog slot was busy.
	Unguarded uint64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := Stats{Reevaluations: e.reevaluations.Load(), Unguarded: e.wd.unguarded.Load()}
	if ps := e.cur.Load(); ps != nil {
		s.Evaluator = ps.evaluator()
	}
	if v := e.verify; v != nil {
		s.Verified, s.Divergences = v.verified.Load(), v.divergences.Load()
		s.VerifyShed, s.VerifyTimeouts = v.shed.Load(), v.timeouts.Load()
	}
	return s
}

// Diverged reports, for readiness (/health/ready lists it as degraded),
// that the fast path diverged from OPA's evaluator on the serving
// revision, which OPA's evaluator on the policy as written now serves.
func (e *Engine) Diverged() error {
	if ps := e.cur.Load(); ps != nil && ps.diverged.Load() {
		return fmt.Errorf("fast path diverged from OPA's evaluator on policy revision %s: served by OPA's evaluator on the policy as written until a new revision loads", ps.revision)
	}
	return nil
}

// evaluator names the evaluator ps answers with.
func (ps *policySet) evaluator() string {
	switch {
	case ps.diverged.Load():
		return EvaluatorOPA
	case ps.fast != nil:
		return EvaluatorFast
	case ps.optimized:
		return EvaluatorOptimized
	}
	return EvaluatorOPA
}

// verifier owns the verification queue and its worker.
type verifier struct {
	e *Engine
	// threshold: a draw of 53 random bits below it takes the sample (0:
	// never, 1<<53: always).
	threshold uint64
	queue     chan *verifySample
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	started   atomic.Bool

	verified, divergences, shed, timeouts atomic.Uint64
}

// verifySample is a decision to check, copied so that nothing of the
// caller's (its body buffer, its Input, its Result) is read after
// Evaluate returns: input is the policy input as an OPA term (an immutable
// value), got a deep copy of the answer.
type verifySample struct {
	ps        *policySet
	input     *ast.Term
	now       time.Time
	passed    []string // the verification's passed methods (hits.Parse reads them)
	stage     string
	requestID string
	got       Result
	// flushed, when not nil, makes the sample a barrier: the worker
	// closes it when it reaches it (tests).
	flushed chan struct{}
}

// newVerifier makes the verifier (start starts its worker), or returns nil
// when rate is not positive.
func newVerifier(e *Engine, rate float64, queue int) *verifier {
	if !(rate > 0) {
		return nil
	}
	if queue <= 0 {
		queue = DefaultVerifyQueue
	}
	const all = 1 << 53
	th := uint64(all)
	if rate < 1 {
		th = uint64(rate * all)
	}
	return &verifier{e: e, threshold: th, queue: make(chan *verifySample, queue),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// start starts the worker.
func (v *verifier) start() {
	v.started.Store(true)
	go v.run()
}

// sample draws whether to verify one decision.
func (v *verifier) sample() bool { return rand.Uint64()>>11 < v.threshold }

// offer queues a copy of the decision, or sheds it when the queue is full.
func (v *verifier) offer(ps *policySet, in *request.Input, r *Result) {
	if len(v.queue) == cap(v.queue) {
		v.shed.Add(1) // not worth building the copy
		return
	}
	s := &verifySample{ps: ps, input: in.Term(), now: in.Now, passed: slices.Clone(in.Enrich.Verification.Passed),
		stage: in.Req.Stage.String(), requestID: in.Req.RequestID, got: cloneResult(r)}
	select {
	case v.queue <- s:
	default:
		v.shed.Add(1)
	}
}

// close stops the worker; samples still queued are dropped.
func (v *verifier) close() {
	v.closeOnce.Do(func() {
		close(v.stop)
		if v.started.Load() {
			<-v.done
		}
	})
}

// flush waits until the worker has checked every sample queued before it
// (tests; the worker must be running).
func (v *verifier) flush() {
	s := &verifySample{flushed: make(chan struct{})}
	v.queue <- s
	<-s.flushed
}

func (v *verifier) run() {
	defer close(v.done)
	for {
		select {
		case <-v.stop:
			return
		case s := <-v.queue:
			if s.flushed != nil {
				close(s.flushed)
				continue
			}
			v.check(s)
		}
	}
}

// check evaluates the sample with OPA's evaluator on the policy as written
// and compares the answers.
func (v *verifier) check(s *verifySample) {
	want, err := v.e.reference(s)
	if errors.Is(err, ErrTimeout) {
		v.timeouts.Add(1) // no verdict: OPA's evaluator is slower, a busy machine is no divergence
		return
	}
	v.verified.Add(1)
	if err == nil && sameResult(&s.got, &want) {
		return
	}
	v.divergences.Add(1)
	v.e.diverged(s, want, err)
}

// reference is the answer of OPA's evaluator on the policy as written to
// the sample's input (a panic is an error).
func (e *Engine) reference(s *verifySample) (r Result, err error) {
	defer recovered(&err)
	t, err := e.evalTerm(context.Background(), s.ps, s.ps.refQuery, s.input, s.now)
	if err != nil {
		return Result{}, err
	}
	r, err = hits.Parse(t, s.passed)
	r.Evaluator = EvaluatorOPA
	return r, err
}

// diverged switches the sample's revision to OPA's evaluator on the policy
// as written and, the first time, logs the divergence.
func (e *Engine) diverged(s *verifySample, want Result, err error) {
	first := s.ps.diverged.CompareAndSwap(false, true)
	// A set of the same revision activated meanwhile (a reload) is the
	// same policy: it stops too (activate carries the flag the other way).
	if cur := e.cur.Load(); cur != nil && cur != s.ps && cur.revision == s.ps.revision {
		cur.diverged.Store(true)
	}
	if !first {
		return
	}
	attrs := []any{"revision", s.ps.revision, "evaluator", s.got.Evaluator, "stage", s.stage,
		"request_id", s.requestID, "decision_time", s.now, "answered", resultValue(&s.got)}
	if err != nil {
		attrs = append(attrs, "opa_error", err.Error())
	} else {
		attrs = append(attrs, "opa", resultValue(&want))
	}
	attrs = append(attrs, "input", inputFields(s.ps, s.input))
	e.log.Error("fast path diverged from OPA's evaluator on the policy as written: this revision is served by OPA's evaluator until a new revision is loaded", attrs...)
}

// sameResult compares two answers but for the evaluator that made them.
func sameResult(a, b *Result) bool {
	x, y := *a, *b
	x.Evaluator, x.Reevaluated, y.Evaluator, y.Reevaluated = "", "", "", ""
	return reflect.DeepEqual(x, y)
}

// cloneResult copies r deeply (nil slices stay nil, empty ones empty, as
// sameResult compares them).
func cloneResult(r *Result) Result {
	c := *r
	c.Reasons, c.Satisfied, c.Methods = slices.Clone(r.Reasons), slices.Clone(r.Satisfied), slices.Clone(r.Methods)
	c.Limit = cloneLimit(r.Limit)
	if r.Obligations != nil {
		c.Obligations = make([]pdp.Obligation, len(r.Obligations))
		for i, o := range r.Obligations {
			o.Functions = slices.Clone(o.Functions)
			o.Limit = cloneLimit(o.Limit)
			c.Obligations[i] = o
		}
	}
	return c
}

func cloneLimit(l *pdp.Limit) *pdp.Limit {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}

// resultValue is an answer as the divergence log shows it.
func resultValue(r *Result) slog.Value {
	attrs := []slog.Attr{slog.String("outcome", r.Outcome.String()), slog.Any("reasons", r.Reasons)}
	if len(r.Satisfied) > 0 {
		attrs = append(attrs, slog.Any("satisfied", r.Satisfied))
	}
	if len(r.Methods) > 0 {
		attrs = append(attrs, slog.Any("methods", r.Methods))
	}
	if r.Warning != "" {
		attrs = append(attrs, slog.String("warning", r.Warning))
	}
	if r.Limit != nil {
		attrs = append(attrs, slog.Any("limit", *r.Limit))
	}
	if len(r.Obligations) > 0 {
		attrs = append(attrs, slog.Any("obligations", r.Obligations))
	}
	return slog.GroupValue(attrs...)
}

// maxLoggedFields bounds the input fields a divergence log shows.
const maxLoggedFields = 200

// inputFields are the values of the input paths the set's rules read (up
// to their first variable key: input.scores[name] shows input.scores),
// the fields a decision depends on, and nothing else of the input or the
// enrichment. A path the input lacks is left out.
func inputFields(ps *policySet, input *ast.Term) slog.Value {
	var refs []ast.Ref
	for _, m := range ps.compiler.Modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if p := r.GroundPrefix(); len(p) > 1 && p.HasPrefix(ast.InputRootRef) {
				refs = append(refs, p)
			}
			return false
		})
	}
	slices.SortFunc(refs, func(a, b ast.Ref) int { return a.Compare(b) })
	var attrs []slog.Attr
	var last ast.Ref
	for _, r := range refs {
		if last != nil && r.HasPrefix(last) {
			continue // the same or a field below one shown
		}
		last = r
		v, err := input.Value.Find(r[1:])
		if err != nil {
			continue
		}
		j, err := ast.JSON(v)
		if err != nil {
			continue
		}
		if len(attrs) == maxLoggedFields {
			attrs = append(attrs, slog.Bool("truncated", true))
			break
		}
		attrs = append(attrs, slog.Any(r.String(), j))
	}
	return slog.GroupValue(attrs...)
}
