package policy

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/fastpath"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Proving the fast program at load, on inputs built from its own constants.
//
// The smoke requests (engine.go) are five inputs; a fast program that
// differs from OPA only past a threshold, on one currency or when a field
// is missing would pass them. So before a fast program serves, prove runs
// it and OPA's evaluator on the policy as written (the set's reference
// hits) on inputs made from what the program compares the input with
// (fastpath.Program.ProofInputs: each rule's guards, thresholds and their
// neighbours, the other side of each equality, missing fields, values of
// other types; rules take turns). At most maxProofInputs inputs that the
// decoder accepts are checked, for at most maxProofTime, on up to half the
// CPUs (a reload shares the machine with the set serving); the verdict is
// remembered for the same files (proofs). Then the logged inputs
// Options.RecentInputs returns (the decision log's last records) are
// replayed the same way, at every load.
//
// A difference (the fast program answers, and its hits are not OPA's, or
// OPA fails where it answers) refuses the fast program for the set: it is
// served by OPA's evaluator on the specialized rules, or on the policy as
// written if those differ too, with a note naming the input and a log
// line. An input on which the fast program fails is no difference:
// Engine.Evaluate decides it with OPA's evaluator.

// maxProofInputs bounds the inputs built from a program's constants that
// a load checks (about 0.5 s of one CPU for the reference policy).
const maxProofInputs = 2000

// proofBudget is the bound a load uses: maxProofInputs, less in a test
// binary that fuzzes engines (each fuzz worker loads them again).
var proofBudget = maxProofInputs

// proofDiff is an input on which the fast program and OPA differ.
type proofDiff struct {
	in         *request.Input
	input      string // where it comes from, and the input
	fast, want string
}

// proofs remembers, per program (policy files, package and decoder
// limits), the difference the inputs built from its constants found (nil:
// none), so that loading the same files again (a reload that changed
// nothing, every test that loads the reference policy) does not build and
// evaluate them again: they would be the same inputs, with the same
// answers. Logged inputs are replayed at every load.
var proofs = struct {
	sync.Mutex
	m map[string]proofResult
}{m: map[string]proofResult{}}

// proofResult is what the inputs built from a program's constants
// showed: the first difference, if any, and how many were checked.
type proofResult struct {
	diff    *proofDiff
	checked int
}

// maxProofs bounds the programs proofs remembers.
const maxProofs = 64

// maxProofTime bounds the time a load spends evaluating the inputs built
// from the constants, maxReplayTime the logged ones; the inputs not
// reached by then are not checked (the log says how many were). A reload
// waits for them: bounded, it stays within a few seconds on a loaded
// machine.
const maxProofTime, maxReplayTime = 3 * time.Second, time.Second

// prove checks ps's fast program against OPA's evaluator on the policy as
// written (see the top of this file) and refuses it on the first
// difference.
func (e *Engine) prove(ps *policySet, now time.Time) {
	lim := e.opts.Limits
	if lim.MaxDepth == 0 {
		lim = request.DefaultLimits
	}
	start := time.Now()
	key := fmt.Sprintf("%s\x00%s\x00%v\x00%d", ps.content, e.opts.Package, lim, proofBudget)
	proofs.Lock()
	res, known := proofs.m[key]
	proofs.Unlock()
	d, checked, built, fastErrs := res.diff, res.checked, res.checked, 0
	if !known {
		inputs := ps.fast.ProofInputs(ps.compiler, proofBudget, now, lim)
		built = len(inputs)
		d, checked, fastErrs = e.proveInputs(ps, inputs, "an input built from its constants", start.Add(maxProofTime))
		proofs.Lock()
		if len(proofs.m) >= maxProofs {
			clear(proofs.m)
		}
		if checked == built { // an unfinished proof is not remembered
			proofs.m[key] = proofResult{diff: d, checked: checked}
		}
		proofs.Unlock()
	}
	logged := 0
	if d == nil && e.opts.RecentInputs != nil {
		var inputs []fastpath.ProofInput
		for _, l := range e.opts.RecentInputs() {
			if in, err := request.ReplayInput(l.Body, l.At, l.Enrichment, lim); err == nil {
				inputs = append(inputs, fastpath.ProofInput{Body: l.Body, Enrichment: l.Enrichment, In: in})
			}
		}
		var n, errs int
		d, n, errs = e.proveInputs(ps, inputs, "a logged input", time.Now().Add(maxReplayTime))
		logged, fastErrs = n, fastErrs+errs
	}
	ps.proved = checked + logged
	if d == nil {
		e.log.Info("fast path proved", "revision", ps.revision, "inputs", checked, "of", built, "remembered", known,
			"logged", logged, "fast_errors", fastErrs, "took", time.Since(start).Round(time.Millisecond))
		if checked < built {
			e.log.Warn("fast path proved on part of its inputs: the proof's time ran out or OPA's evaluator timed out",
				"revision", ps.revision, "inputs", checked, "of", built)
		}
		return
	}
	ps.fast = nil
	ps.notes = append(ps.notes, fmt.Sprintf("fast path disagrees with OPA on the policy as written on %s: fast %s, OPA %s; not used", d.input, d.fast, d.want))
	e.log.Warn("fast path refused: it disagrees with OPA on the policy as written", "revision", ps.revision,
		"input", d.input, "fast", d.fast, "opa", d.want)
	// The specialized rules OPA's evaluator serves next: the same input.
	ctx, in := context.Background(), d.in
	opt, err := e.evalTerm(ctx, ps, ps.optQuery, in.Term(), in.Now)
	if err != nil {
		return // no answer: Evaluate decides with the policy as written
	}
	if ref, err := e.evalTerm(ctx, ps, ps.refQuery, in.Term(), in.Now); err != nil || !opt.Equal(ref) {
		ps.query, ps.optimized = ps.refQuery, false
		ps.notes = append(ps.notes, fmt.Sprintf("optimized rules disagree with the policy on %s; serving the policy as written", d.input))
	}
}

// proveInputs evaluates inputs (what says where they come from) with the
// fast program and the reference hits until deadline, and returns the
// difference on the first input that has one (nil: none), how many inputs
// were checked (OPA's evaluator answered, or the fast program failed) and
// how many the fast program failed on.
func (e *Engine) proveInputs(ps *policySet, inputs []fastpath.ProofInput, what string, deadline time.Time) (*proofDiff, int, int) {
	ctx := context.Background()
	workers := max(1, min(runtime.GOMAXPROCS(0)/2, len(inputs)/64))
	var (
		next, checked, fastErrs atomic.Int64
		mu                      sync.Mutex
		first                   = len(inputs)
		diff                    *proofDiff
		wg                      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				mu.Lock()
				done := i >= first
				mu.Unlock()
				if done || time.Now().After(deadline) {
					return
				}
				d, outcome := e.proveOne(ctx, ps, inputs[i])
				switch outcome {
				case proofUnanswered:
					continue
				case proofFastFailed:
					fastErrs.Add(1)
				}
				checked.Add(1)
				if d == nil {
					continue
				}
				d.in = inputs[i].In
				d.input = fmt.Sprintf("%s (request %s, additions %s)", what, inputs[i].Body, inputs[i].Enrichment)
				mu.Lock()
				if i < first {
					first, diff = i, d
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if diff != nil {
		return diff, len(inputs), int(fastErrs.Load()) // checked up to the difference
	}
	return nil, int(checked.Load()), int(fastErrs.Load())
}

// proofOutcome is what one input showed.
type proofOutcome uint8

const (
	proofSame       proofOutcome = iota // the same hits
	proofDiffers                        // the fast program answered, and not as OPA
	proofFastFailed                     // the fast program failed: OPA decides such an input
	proofUnanswered                     // OPA's evaluator ran out of time: nothing to compare
)

// proveOne compares the two evaluators on one input.
func (e *Engine) proveOne(ctx context.Context, ps *policySet, pi fastpath.ProofInput) (*proofDiff, proofOutcome) {
	got, err := e.proveFast(ctx, ps.fast, pi.In)
	if err != nil {
		return nil, proofFastFailed
	}
	want, err := e.evalTerm(ctx, ps, ps.refQuery, pi.In.Term(), pi.In.Now)
	switch {
	case errors.Is(err, ErrTimeout):
		return nil, proofUnanswered
	case err != nil:
		return &proofDiff{fast: got.String(), want: "error: " + err.Error()}, proofDiffers
	case !got.Equal(want):
		return &proofDiff{fast: got.String(), want: want.String()}, proofDiffers
	}
	return nil, proofSame
}

// proveFast runs the fast program for its hits set; a panic is a
// failure, as in tryFast.
func (e *Engine) proveFast(ctx context.Context, p *fastpath.Program, in *request.Input) (_ *ast.Term, err error) {
	defer recovered(&err)
	return p.Hits(ctx, in, nil)
}
