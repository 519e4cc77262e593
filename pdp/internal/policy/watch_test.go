package policy

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// lockedBuffer collects log output written from the verifier's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const watchPolicy = `package riskpdp
step_up contains "big" if { input.stage == "payment"; input.txn.amount > 1000 }
deny contains "blocked" if input.reputation.uid.blocked
`

// evalBody decodes body and evaluates it.
func evalBody(t *testing.T, e *Engine, body string) Result {
	t.Helper()
	in, err := request.DecodeRequest([]byte(body), time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDivergenceServesRevisionAsWritten: a fast program that answers
// differently from OPA's evaluator on the policy as written (a comparison
// flipped after load) is caught by the sampled verification: the
// divergence is counted, logged once with both answers and the input
// fields the policy reads, and the revision is served by OPA's evaluator
// from the next decision on, also after a reload of the same revision; a
// new revision is on the fast path again.
func TestDivergenceServesRevisionAsWritten(t *testing.T) {
	fsys := fstest.MapFS{"p.rego": {Data: []byte(watchPolicy)}}
	var logs lockedBuffer
	e, err := New(Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Source: Source{FS: fsys, Label: "test"},
		Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, VerifySampleRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ps := e.cur.Load()
	if ps.fast == nil {
		t.Fatalf("not on the fast path: %v", ps.notes)
	}
	if s := e.Stats(); s.Evaluator != EvaluatorFast {
		t.Fatalf("evaluator %q before the divergence", s.Evaluator)
	}
	flipped := ps.fast.BreakCompares("gt", "lte") // amount > 1000 becomes amount <= 1000
	if flipped != 1 {
		t.Fatalf("flipped %d comparisons, want 1", flipped)
	}

	const big = `{"request_id":"r-big","stage":"payment","uid":"u-1","device":{"id":"d-1","ip":"198.51.100.7"},"txn":{"id":"t","amount":5000,"currency":"CNY"}}`
	r := evalBody(t, e, big)
	if r.Evaluator != EvaluatorFast || r.Outcome != pdp.Allow {
		t.Fatalf("the corrupted fast path answered %v by %q, want allow by fast", r.Outcome, r.Evaluator)
	}
	e.verify.flush()
	s := e.Stats()
	if s.Verified != 1 || s.Divergences != 1 || s.Evaluator != EvaluatorOPA {
		t.Fatalf("after the divergence: %+v", s)
	}
	log := logs.String()
	for _, want := range []string{`"msg":"fast path diverged from OPA's evaluator`, `"revision":"` + ps.revision + `"`,
		`"evaluator":"fast"`, `"request_id":"r-big"`, `"answered":{"outcome":"allow","reasons":[]}`,
		`"opa":{"outcome":"step_up","reasons":["big"],"methods":["sms"]}`,
		`"input.txn.amount":5000`, `"input.stage":"payment"`} {
		if !strings.Contains(log, want) {
			t.Errorf("divergence log lacks %s:\n%s", want, log)
		}
	}
	// Only what the policy reads: not the device, nor the uid.
	for _, leak := range []string{"198.51.100.7", `"u-1"`} {
		if strings.Contains(log, leak) {
			t.Errorf("divergence log shows %s, which the policy does not read:\n%s", leak, log)
		}
	}

	// The next decisions of this revision: OPA's evaluator, right answer.
	if r := evalBody(t, e, big); r.Evaluator != EvaluatorOPA || r.Outcome != pdp.StepUp || r.Reevaluated != "" {
		t.Fatalf("after the divergence: %v by %q (%q)", r.Outcome, r.Evaluator, r.Reevaluated)
	}
	// Samples of the revision still in the queue are counted, not logged
	// again.
	in, err := request.DecodeRequest([]byte(big), time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	wrong := Result{Outcome: pdp.Allow, Reasons: []string{}, Evaluator: EvaluatorFast}
	e.verify.offer(ps, in, &wrong)
	e.verify.offer(ps, in, &wrong)
	e.verify.flush()
	if s := e.Stats(); s.Divergences != 3 || strings.Count(logs.String(), "fast path diverged") != 1 {
		t.Fatalf("%+v, logged %d times", s, strings.Count(logs.String(), "fast path diverged"))
	}

	// A reload of the same revision compiles a sound fast program, but the
	// revision stays served as written.
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.cur.Load() == ps || e.Revision() != ps.revision {
		t.Fatal("the reload did not activate a new set of the same revision")
	}
	if r := evalBody(t, e, big); r.Evaluator != EvaluatorOPA || e.Stats().Evaluator != EvaluatorOPA {
		t.Fatalf("same revision after a reload answered by %q", r.Evaluator)
	}
	if err := e.Diverged(); err == nil || !strings.Contains(err.Error(), ps.revision) {
		t.Fatalf("readiness after the divergence: %v", err)
	}

	// A new revision: on the fast path again, and verified.
	fsys["p.rego"] = &fstest.MapFile{Data: []byte(watchPolicy + "# revised\n")}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.Revision() == ps.revision {
		t.Fatal("no new revision")
	}
	if r := evalBody(t, e, big); r.Evaluator != EvaluatorFast || r.Outcome != pdp.StepUp || e.Stats().Evaluator != EvaluatorFast {
		t.Fatalf("new revision: %v by %q", r.Outcome, r.Evaluator)
	}
	if err := e.Diverged(); err != nil {
		t.Fatalf("readiness of the new revision: %v", err)
	}
	e.verify.flush()
	if s := e.Stats(); s.Divergences != 3 || s.Verified != 4 {
		t.Fatalf("new revision: %+v", s)
	}
}

// TestVerifySampleRate: rate 0 verifies nothing (no worker); rate 1
// verifies every decision a faster evaluator answered, and the reference
// policy's fast path agrees with OPA's evaluator on all of them (generated
// requests with enrichment); a fractional rate samples that share.
func TestVerifySampleRate(t *testing.T) {
	for _, rate := range []float64{0, -1} {
		e, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second,
			Limits: testLimits, VerifySampleRate: rate})
		if err != nil {
			t.Fatal(err)
		}
		for seed := range uint64(50) {
			in, err := request.DecodeRequest([]byte(request.GenRequest(seed)), time.Now(), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.Evaluate(context.Background(), in); err != nil {
				t.Fatal(err)
			}
		}
		if s := e.Stats(); e.verify != nil || s.Verified != 0 || s.VerifyShed != 0 || s.Evaluator != EvaluatorFast {
			t.Errorf("rate %v: %+v", rate, s)
		}
		e.Close()
	}

	e, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second,
		Limits: testLimits, VerifySampleRate: 1, VerifyQueue: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	n := 1000
	if testing.Short() {
		n = 200
	}
	fast := 0
	for seed := range uint64(n) {
		in, err := request.DecodeRequest([]byte(request.GenRequest(seed)), time.Now(), testLimits)
		if err != nil {
			t.Fatal(err)
		}
		request.GenEnrichment(seed, in)
		r, _, err := e.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Evaluator == EvaluatorFast {
			fast++
		}
	}
	e.verify.flush()
	// A check OPA's evaluator cannot finish within the evaluation budget
	// (a loaded machine) is skipped and counted, never a divergence.
	if s := e.Stats(); fast < n*9/10 || s.Verified+s.VerifyTimeouts != uint64(fast) || s.Divergences != 0 || s.VerifyShed != 0 {
		t.Fatalf("%d of %d answered by the fast path: %+v", fast, n, s)
	}

	v := newVerifier(e, 0.25, 1)
	taken := 0
	for range 100_000 {
		if v.sample() {
			taken++
		}
	}
	if taken < 23_000 || taken > 27_000 {
		t.Errorf("rate 0.25 took %d of 100000 samples", taken)
	}
}

// TestVerifyQueueSheds: a sample that finds the queue full is dropped and
// counted, never waited for.
func TestVerifyQueueSheds(t *testing.T) {
	e, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second,
		Limits: testLimits, VerifySampleRate: 1, VerifyQueue: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	e.verify.close() // the worker takes nothing from the queue any more
	in, err := request.DecodeRequest(paymentBody, time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, _, err := e.Evaluate(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.Stats(); s.VerifyShed != 3 || len(e.verify.queue) != 2 || s.Verified != 0 {
		t.Fatalf("%+v, %d queued", s, len(e.verify.queue))
	}
}

// TestVerifySampleIsACopy: a sample keeps what it needs; the caller may
// reuse its body buffer and change its input and its result as soon as
// Evaluate returns.
func TestVerifySampleIsACopy(t *testing.T) {
	e, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	v := newVerifier(e, 1, 4)
	e.verify = v // not started: the samples wait until the caller has changed everything
	body := bytes.Clone(paymentBody)
	in, err := request.DecodeRequest(body, time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	in.Enrich.Verification = request.VerificationView{Status: "passed", Methods: []string{"sms"}, Passed: []string{"sms"}}
	in.Enrich.Velocity = &pdp.Velocity{UID: pdp.WindowCounts{Count1h: 3, Amount24h: 7000}}
	r, _, err := e.Evaluate(context.Background(), in)
	if err != nil || r.Evaluator != EvaluatorFast || len(r.Reasons) == 0 {
		t.Fatalf("%+v %v", r, err)
	}
	for i := range body {
		body[i] = ' '
	}
	in.Enrich.Verification.Passed[0] = "face"
	in.Enrich.Velocity.UID.Count1h = 99
	in.Req.Stage = pdp.StageLogin
	r.Reasons[0], r.Outcome = "changed", pdp.Deny
	r.Methods = append(r.Methods[:0], "face")
	v.start()
	v.flush()
	if s := e.Stats(); s.Verified != 1 || s.Divergences != 0 {
		t.Fatalf("%+v", s)
	}
}

// TestReevaluationsCounted: an error of the fast program, answered by OPA's
// evaluator on the policy as written, is counted.
func TestReevaluationsCounted(t *testing.T) {
	e, _ := newEngine(t, mapSource(map[string]string{"p.rego": `package riskpdp
deny contains "m" if { to_number(input.context.n) > 10; input.txn.amount == 5 }`}), time.Second)
	r := evalBody(t, e, `{"stage":"payment","uid":"u","txn":{"id":"t","amount":6,"currency":"CNY"},"context":{"n":"abc"}}`) // the fast program calls to_number, OPA's index skips the rule
	if r.Evaluator != EvaluatorOPA || r.Reevaluated == "" || e.Stats().Reevaluations != 1 {
		t.Fatalf("%+v, %+v", r, e.Stats())
	}
	evalBody(t, e, `{"stage":"payment","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY"},"context":{"n":"11"}}`)
	if s := e.Stats(); s.Reevaluations != 1 || s.Evaluator != EvaluatorFast {
		t.Fatalf("%+v", s)
	}
	plain, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if s := plain.Stats(); s.Evaluator != EvaluatorOPA {
		t.Fatalf("unoptimized: %+v", s)
	}
}

// BenchmarkVerifySampleDraw is what a decision not sampled pays for the
// verification: one random draw.
func BenchmarkVerifySampleDraw(b *testing.B) {
	v := newVerifier(nil, DefaultVerifySampleRate, 1)
	n := 0
	for b.Loop() {
		if v.sample() {
			n++
		}
	}
	_ = n
}

// BenchmarkVerifyOffer is what a sampled decision pays on the caller's
// path (the input term built, the result copied, the sample queued), and
// BenchmarkVerifyCheck what the worker spends on it (OPA's evaluator on
// the policy as written, the comparison): BenchmarkEvaluate's payment.
func BenchmarkVerifyOffer(b *testing.B) {
	e := newTestEngine(b)
	v := newVerifier(e, 1, 1024) // not started: the benchmark drains it
	in, err := request.DecodeRequest(paymentBody, time.Now(), testLimits)
	if err != nil {
		b.Fatal(err)
	}
	r, _, err := e.Evaluate(context.Background(), in)
	if err != nil {
		b.Fatal(err)
	}
	ps := e.cur.Load()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if len(v.queue) == cap(v.queue) {
			for len(v.queue) > 0 {
				<-v.queue
			}
		}
		in, _ := request.DecodeRequest(paymentBody, in.Now, testLimits) // a fresh input, as each decision has
		b.StartTimer()
		v.offer(ps, in, &r)
	}
	if v.shed.Load() != 0 {
		b.Fatal("shed")
	}
}

func BenchmarkVerifyCheck(b *testing.B) {
	e := newTestEngine(b)
	v := newVerifier(e, 1, 1)
	in, err := request.DecodeRequest(paymentBody, time.Now(), testLimits)
	if err != nil {
		b.Fatal(err)
	}
	r, _, err := e.Evaluate(context.Background(), in)
	if err != nil {
		b.Fatal(err)
	}
	v.offer(e.cur.Load(), in, &r)
	s := <-v.queue
	b.ReportAllocs()
	for b.Loop() {
		v.check(s)
	}
	if v.divergences.Load() != 0 {
		b.Fatal("diverged")
	}
}
