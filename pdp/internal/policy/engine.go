package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/fastpath"
	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Options configure an Engine.
type Options struct {
	// Source is where the policy set is loaded from (and reloaded).
	Source Source
	// Package is the decision package, e.g. "riskpdp" (data.riskpdp).
	Package string
	// NoOptimize serves the policy as written instead of the version
	// specialized by partial evaluation (see specialize.go).
	NoOptimize bool
	// EvalTimeout bounds one evaluation.
	EvalTimeout time.Duration
	// Limits bound the decoder.
	Limits request.Limits
	// Logger receives reload results. Defaults to slog.Default().
	Logger *slog.Logger
	// OnReload is called after every load attempt with the revision that
	// is serving afterwards and the error, if the attempt failed.
	OnReload func(revision string, err error)
	// VerifySampleRate is the share of the decisions answered by the fast
	// path or the specialized rules that OPA's evaluator on the policy as
	// written evaluates again, off the caller's path; a divergence serves
	// the revision with OPA's evaluator (watch.go). 0 (the zero value)
	// verifies none; pdp serve's default is DefaultVerifySampleRate.
	VerifySampleRate float64
	// VerifyQueue bounds the samples waiting for the verifier; a sample
	// that finds it full is shed (counted). Default DefaultVerifyQueue.
	VerifyQueue int
	// RecentInputs, if set, returns recently logged inputs (InputRing:
	// the decision log's last records), which every load replays through
	// the fast program and OPA's evaluator (prove.go). Nil: none.
	RecentInputs func() []request.LoggedInput
}

// Engine evaluates the current policy set. It is safe for concurrent use.
type Engine struct {
	opts    Options
	timeout time.Duration
	wd      *evalWatchdog
	cur     atomic.Pointer[policySet]
	// reloadMu serializes reloads (file events, SIGHUP, bundle updates).
	reloadMu sync.Mutex
	log      *slog.Logger
	// verify checks a sample of decisions against OPA's evaluator (nil:
	// off); reevaluations counts answers OPA's evaluator gave after the
	// faster one failed (watch.go).
	verify        *verifier
	reevaluations atomic.Uint64
}

// New loads, compiles and smoke-tests the initial policy set. It fails when
// the set is not usable: the sidecar must not start without a policy.
func New(opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Engine{opts: opts, timeout: opts.EvalTimeout, wd: newWatchdog(opts.EvalTimeout), log: opts.Logger}
	if err := e.Reload(); err != nil {
		e.wd.close()
		return nil, err
	}
	if e.verify = newVerifier(e, opts.VerifySampleRate, opts.VerifyQueue); e.verify != nil {
		e.verify.start()
	}
	return e, nil
}

// Close stops the engine's background work (samples still waiting for
// verification are dropped).
func (e *Engine) Close() {
	if e.verify != nil {
		e.verify.close()
	}
	e.wd.close()
}

// Reload loads the policy source again and activates it if it passes every
// check. On failure the current set keeps serving and the error is returned.
func (e *Engine) Reload() error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	return e.reloadLocked(e.opts.Source)
}

// ReloadFrom loads src and, if it passes every check, makes it current and
// the source of later reloads.
func (e *Engine) ReloadFrom(src Source) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	return e.reloadLocked(src)
}

func (e *Engine) reloadLocked(src Source) error {
	p, err := e.prepare(src)
	if err != nil {
		return err
	}
	p.activate()
	return nil
}

// Prepared is a policy set that has been loaded, compiled and
// smoke-tested but does not serve yet: Activate makes it current. It lets a
// caller validate several things (a bundle's policies and its plugins)
// before switching any of them. A Prepared that is never activated is
// simply dropped.
type Prepared struct {
	e     *Engine
	ps    *policySet
	src   Source
	start time.Time
}

// Prepare loads, compiles, checks and smoke-tests src without activating it. On
// failure the error is logged and reported to Options.OnReload like a
// failed reload, and the current set keeps serving.
func (e *Engine) Prepare(src Source) (*Prepared, error) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	return e.prepare(src)
}

// Revision is the revision the prepared set will serve under.
func (p *Prepared) Revision() string { return p.ps.revision }

// Activate makes the prepared set current (one atomic pointer store; an
// evaluation in flight finishes on the set it started with) and its source
// the source of later reloads.
func (p *Prepared) Activate() {
	p.e.reloadMu.Lock()
	defer p.e.reloadMu.Unlock()
	p.activate()
}

// prepare is Prepare with reloadMu held.
func (e *Engine) prepare(src Source) (*Prepared, error) {
	start := time.Now()
	ps, err := loadPolicySet(src, e.opts.Package, !e.opts.NoOptimize)
	if err == nil {
		err = e.smoke(ps)
	}
	if err == nil {
		ps.rates, err = e.loadRates(ps)
	}
	if err == nil {
		ps.messages, err = e.loadMessages(ps)
	}
	if err != nil {
		rev := e.Revision()
		e.log.Error("policy load rejected", "source", src.Label, "error", err, "serving_revision", rev)
		if e.opts.OnReload != nil {
			e.opts.OnReload(rev, err)
		}
		return nil, err
	}
	return &Prepared{e: e, ps: ps, src: src, start: start}, nil
}

// activate is Activate with reloadMu held.
func (p *Prepared) activate() {
	e, ps := p.e, p.ps
	old := e.cur.Swap(ps)
	e.opts.Source = p.src
	if old != nil && old.revision == ps.revision && old.diverged.Load() {
		ps.diverged.Store(true) // the same policy: still served as written
	}
	if old == nil || old.revision != ps.revision {
		e.log.Info("policy activated", "source", p.src.Label, "revision", ps.revision,
			"modules", ps.modules, "data_checked", ps.dataChecked, "optimized", ps.optimized, "fast_path", ps.fast != nil, "proved", ps.proved, "took", time.Since(p.start).Round(time.Microsecond))
		for _, n := range ps.notes {
			e.log.Warn("policy rule served without optimization", "revision", ps.revision, "note", n)
		}
	} else if ps.diverged.Load() {
		e.log.Warn("policy reloaded at a revision the fast path diverged on: still served by OPA's evaluator on the policy as written", "revision", ps.revision)
	}
	if e.opts.OnReload != nil {
		e.opts.OnReload(ps.revision, nil)
	}
}

// Revision returns the revision of the serving policy set ("" if none).
func (e *Engine) Revision() string {
	if ps := e.cur.Load(); ps != nil {
		return ps.revision
	}
	return ""
}

// Ready reports whether a policy set is loaded and compiled.
func (e *Engine) Ready() bool { return e.cur.Load() != nil }

// Evaluate runs the decision rule on in and returns the typed decision and
// the revision that produced it. Errors are ErrTimeout, ErrUndefined,
// ErrInvalidDecision, ErrNoPolicy, ErrPanic or an evaluation error: the caller falls
// back; it never treats an error as allow.
func (e *Engine) Evaluate(ctx context.Context, in *request.Input) (_ Result, _ string, err error) {
	defer recovered(&err)
	ps := e.cur.Load()
	if ps == nil {
		return Result{}, "", ErrNoPolicy
	}
	var r Result
	switch {
	case ps.diverged.Load():
		// A sampled decision found the faster evaluators wrong on this
		// revision (watch.go).
		r, err = e.evalQuery(ctx, ps, ps.refQuery, in, EvaluatorOPA)
		return r, ps.revision, err
	case ps.fast != nil:
		r, err = e.tryFast(ctx, ps.fast, in)
	case ps.optimized:
		r, err = e.evalQuery(ctx, ps, ps.query, in, EvaluatorOptimized)
	default:
		r, err = e.evalQuery(ctx, ps, ps.refQuery, in, EvaluatorOPA)
		return r, ps.revision, err
	}
	if err == nil {
		if v := e.verify; v != nil && v.sample() {
			v.offer(ps, in, &r)
		}
		return r, ps.revision, nil
	}
	if errors.Is(err, ErrTimeout) || ctx.Err() != nil {
		return r, ps.revision, err
	}
	// The faster evaluator failed (a built-in error, a malformed hit, a
	// panic): OPA's evaluator on the policy as written decides, so that a
	// fault of the specialization never answers where OPA would, and a
	// built-in error is a fallback only when OPA fails too.
	e.reevaluations.Add(1)
	r, rerr := e.evalQuery(ctx, ps, ps.refQuery, in, EvaluatorOPA)
	r.Reevaluated = err.Error()
	return r, ps.revision, rerr
}

// tryFast runs the fast program; a panic inside it is an error (the
// caller re-evaluates with OPA), not a crash.
func (e *Engine) tryFast(ctx context.Context, p *fastpath.Program, in *request.Input) (_ Result, err error) {
	defer recovered(&err)
	return e.evalFast(ctx, p, in)
}

// evalQuery evaluates one of the set's hits queries with OPA's evaluator.
func (e *Engine) evalQuery(ctx context.Context, ps *policySet, query ast.Body, in *request.Input, evaluator string) (Result, error) {
	t, err := e.evalTerm(ctx, ps, query, in.Term(), in.Now)
	if err != nil {
		return Result{Evaluator: evaluator}, err
	}
	r, err := hits.Parse(t, in.Enrich.Verification.Passed)
	r.Evaluator = evaluator
	return r, err
}

// evalFast runs the fast program under the watchdog.
func (e *Engine) evalFast(ctx context.Context, p *fastpath.Program, in *request.Input) (Result, error) {
	s := e.wd.acquire(time.Now().Add(e.timeout).UnixNano())
	defer e.wd.release(s)
	var cancel topdown.Cancel
	if s != nil {
		cancel = s
	}
	r, err := p.Eval(ctx, in, cancel)
	if err == fastpath.ErrCancelled {
		err = ErrTimeout
	}
	return r, err
}

// smokeRequests are evaluated against every new policy set before it is
// activated: one request per stage, each must yield a valid decision.
var smokeRequests = []string{
	`{"stage":"login","uid":"smoke","device":{"id":"d","ip":"192.0.2.1","ip_country":"SG"},"account":{"home_country":"SG"}}`,
	`{"stage":"order","uid":"smoke","txn":{"id":"t","amount":10,"currency":"CNY","category":"daily_goods"}}`,
	`{"stage":"payment","uid":"smoke","txn":{"id":"t","amount":100,"currency":"CNY"}}`,
	`{"stage":"withdrawal","uid":"smoke","txn":{"id":"t","amount":100,"currency":"CNY"}}`,
	`{"stage":"repayment","uid":"smoke","txn":{"id":"t","amount":100,"currency":"CNY"}}`,
}

// smoke evaluates every smoke request against the reference hits (which
// must yield a valid decision) and, when the set is optimized, checks that
// the optimized hits are identical; if they are not, the set serves the
// reference hits and says why.
func (e *Engine) smoke(ps *policySet) error {
	now := time.Now()
	ctx := context.Background()
	for _, body := range smokeRequests {
		in, err := request.DecodeRequest([]byte(body), now, request.DefaultLimits)
		if err != nil {
			return fmt.Errorf("smoke input: %w", err)
		}
		input := in.Term()
		ref, err := e.evalTermWithin(ctx, ps, ps.refQuery, input, now, max(e.timeout, loadCheckTimeout), nil)
		if err == nil {
			_, err = hits.Parse(ref, nil)
		}
		if err != nil {
			return fmt.Errorf("smoke evaluation (%s): %w", in.Req.Stage, err)
		}
		if !ps.optimized {
			continue
		}
		opt, err := e.evalTermWithin(ctx, ps, ps.optQuery, input, now, max(e.timeout, loadCheckTimeout), nil)
		if errors.Is(err, ErrTimeout) {
			continue // a loaded machine: nothing to compare, no disagreement
		}
		if err != nil || !opt.Equal(ref) {
			ps.query, ps.optimized, ps.fast = ps.refQuery, false, nil
			ps.notes = append(ps.notes, fmt.Sprintf("optimized rules disagree with the policy on the %s smoke request (%v); serving the policy as written", in.Req.Stage, err))
			continue
		}
		if ps.fast == nil {
			continue
		}
		got, err := ps.fast.Hits(ctx, in, nil)
		if err != nil || !got.Equal(opt) {
			ps.fast = nil
			ps.notes = append(ps.notes, fmt.Sprintf("fast path disagrees with topdown on the %s smoke request (%v); not used", in.Req.Stage, err))
		}
	}
	if ps.fast != nil {
		e.prove(ps, now)
	}
	return nil
}

// EvalData implements OPA's Data API (POST /v1/data/{path}): body is
// {"input": ...} (or empty), path is slash-separated. It returns the JSON of
// the result and whether it is defined.
func (e *Engine) EvalData(ctx context.Context, path string, body []byte, now time.Time) (_ []byte, _ bool, err error) {
	defer recovered(&err)
	input, err := request.DecodeDataInput(body, e.opts.Limits.MaxDepth)
	if err != nil {
		return nil, false, err
	}
	return e.evalData(ctx, path, input, now)
}

// dataQueries caches compiled Data API queries per policy set.
const maxCachedDataQueries = 256

func (ps *policySet) dataQuery(path string) (ast.Body, error) {
	if q, ok := ps.dataQueries.Load(path); ok {
		return q.(ast.Body), nil
	}
	ref := ast.Ref{ast.DefaultRootDocument}
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg != "" {
			ref = append(ref, ast.StringTerm(seg))
		}
	}
	body := ast.NewBody(ast.Equality.Expr(ast.NewTerm(resultVar), ast.NewTerm(ref)))
	q, err := ps.compiler.QueryCompiler().Compile(body)
	if err != nil {
		return nil, err
	}
	if ps.dataQueryCount.Add(1) <= maxCachedDataQueries {
		ps.dataQueries.Store(path, q)
	}
	return q, nil
}
