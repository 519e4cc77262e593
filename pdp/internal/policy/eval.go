package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
)

// Evaluation failures. The decision service turns each into the configured
// fallback outcome; none of them ever becomes allow.
var (
	ErrTimeout         = errors.New("policy evaluation timed out")
	ErrUndefined       = errors.New("policy decision is undefined")
	ErrInvalidDecision = hits.ErrInvalidDecision
	ErrNoPolicy        = errors.New("no policy loaded")
	// ErrPanic wraps a panic inside evaluation (OPA, a builtin, the fast
	// path), recovered so one request cannot take the sidecar down.
	ErrPanic = errors.New("policy evaluation panicked")
)

// recovered turns a panic into ErrPanic in *err; deferred by every
// evaluation entry point.
func recovered(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w: %v", ErrPanic, p)
	}
}

// noopMetrics is shared by every evaluation: timers and counters cost nothing.
var noopMetrics = metrics.NoOp()

// evalTerm evaluates query against the set with the given input and returns
// the term bound to __result__, or ErrUndefined.
//
// This is the cheapest path the OPA library offers: a precompiled query run
// by topdown directly, with NoOp metrics and the watchdog's slot as the
// cancellation handle (rego.PreparedEvalQuery.Eval adds a goroutine per call
// for context cancellation and converts the result to Go values).
func (e *Engine) evalTerm(ctx context.Context, ps *policySet, query ast.Body, input *ast.Term, now time.Time) (*ast.Term, error) {
	return e.evalTermWithin(ctx, ps, query, input, now, e.timeout, nil)
}

// loadCheckTimeout is the budget of one smoke evaluation at load: a check
// that the policy answers at all, not of its speed (which the request
// budget, policies.eval_timeout, governs), so that a busy machine does not
// refuse a policy, or a start, over a descheduled goroutine.
const loadCheckTimeout = 5 * time.Second

// evalTermWithin is evalTerm with its own time budget and, when tr is not
// nil, a tracer (an explanation's).
func (e *Engine) evalTermWithin(ctx context.Context, ps *policySet, query ast.Body, input *ast.Term, now time.Time, timeout time.Duration,
	tr topdown.QueryTracer) (*ast.Term, error) {
	txn, err := ps.newReadTxn(ctx)
	if err != nil {
		return nil, err
	}
	defer ps.store.Abort(ctx, txn)

	s := e.wd.acquire(time.Now().Add(timeout).UnixNano())
	defer e.wd.release(s)

	q := topdown.NewQuery(query).
		WithCompiler(ps.compiler).
		WithStore(ps.store).
		WithTransaction(txn).
		WithInput(input).
		WithMetrics(noopMetrics).
		WithTime(now).
		WithStrictBuiltinErrors(true).
		WithEarlyExit(true).
		WithIndexing(true)
	if tr != nil {
		q = q.WithQueryTracer(tr)
	}
	if s != nil {
		q = q.WithCancel(s)
	}
	var result *ast.Term
	err = q.Iter(ctx, func(qr topdown.QueryResult) error {
		result = qr[resultVar]
		return nil
	})
	if err != nil {
		if topdown.IsCancel(err) {
			return nil, ErrTimeout
		}
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if result == nil {
		return nil, ErrUndefined
	}
	return result, nil
}
