package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
	"github.com/riskpdp/riskpdp/policies"
)

// Config configures a simulation. The zero value of every field is its
// default.
type Config struct {
	// Seed makes the run: the same seed (and the same other settings and
	// policy) gives the same operations, answers and report. Default 1.
	Seed uint64
	// Days simulated. Default 7.
	Days int
	// Accounts is the number of customers. Default 10 000.
	Accounts int
	// Start is when the simulated time begins. Default 2026-11-08 00:00
	// UTC (the promotion evening is then 11.11).
	Start time.Time
	// FraudMin is the least number of episodes of each fraud scenario in
	// a run (a small population still gets enough fraud to measure).
	// Default 8.
	FraudMin int
	// Policies is a policy directory laid out as for `pdp serve
	// --policies`. Default: the embedded reference policies.
	Policies string
	// Plugins is a plugin directory (NAME.yaml next to NAME.wasm), as for
	// `pdp serve`. Default: none (as `pdp serve` by default). Plugins run
	// under their time budgets on the wall clock: a call cut short on a
	// busy machine changes that decision, so figures with plugins are
	// reproducible only when Report.PluginFaults is 0.
	Plugins string
	// DecisionLog is the decision log file the sidecar writes, readable by
	// `pdp replay --log`. Default: no log.
	DecisionLog string
	// StateDir holds the risk state file. Default: a temporary directory,
	// removed at the end.
	StateDir string
	// Logger receives the sidecar's warnings. Default: discarded.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultSeed     = 1
	DefaultDays     = 7
	DefaultAccounts = 10_000
	DefaultFraudMin = 8
)

// DefaultStart is the default Config.Start.
var DefaultStart = time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC)

// WithDefaults returns c with its zero fields set.
func (c Config) WithDefaults() Config {
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	if c.Accounts == 0 {
		c.Accounts = DefaultAccounts
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.FraudMin == 0 {
		c.FraudMin = DefaultFraudMin
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Days < 1 || c.Days > 366 {
		errs = append(errs, fmt.Errorf("days: %d is not between 1 and 366", c.Days))
	}
	if c.Accounts < 1 || c.Accounts > 1_000_000 {
		errs = append(errs, fmt.Errorf("accounts: %d is not between 1 and 1000000", c.Accounts))
	}
	if c.FraudMin < 0 {
		errs = append(errs, fmt.Errorf("fraud min: %d is negative", c.FraudMin))
	}
	return errors.Join(errs...)
}

// Result is a finished simulation: the report and every operation with
// its label and what the sidecar made of it.
type Result struct {
	Report *Report
	// Txns are the operations (logins included) in the order of their
	// first decision.
	Txns []*Txn
}

// sim is a run in progress.
type sim struct {
	cfg  Config
	pop  *Population
	runs []accountRun
	seq  uint64

	svc     *decide.Service
	st      *state.Store
	tr      *velocity.Tracker
	plugins *plugin.Host
	clock   atomic.Int64 // unix nanoseconds of the simulated now

	queue    callQueue
	episodes map[*Scenario]int
	txns     []*Txn
	calls    [5]int64 // by CallKind
	revision string
}

func (s *sim) now() time.Time { return time.Unix(0, s.clock.Load()).UTC() }

// Run simulates cfg: it builds the decision path of `pdp serve` in
// process (the policy, risk state, velocity windows, plugins when
// configured, the decision log when configured) at a simulated clock,
// primes the state with the population's history, plays every episode's
// calls in time order and returns the report.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("simulation config: %w", err)
	}
	s := &sim{cfg: cfg, pop: NewPopulation(cfg.Seed, cfg.Accounts, cfg.Start), episodes: map[*Scenario]int{}}
	s.runs = make([]accountRun, len(s.pop.Accounts))
	for i, a := range s.pop.Accounts {
		s.runs[i].phone = a.Phone
	}
	s.clock.Store(cfg.Start.UnixNano())
	closeAll, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	res, runErr := s.play(ctx)
	if err := closeAll(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return nil, runErr
	}
	return res, nil
}

// open builds the decision path; the function it returns closes it (the
// decision log last, so that every record is written).
func (s *sim) open(ctx context.Context) (func() error, error) {
	cfg := s.cfg
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (func() error, error) {
		_ = closeAll()
		return nil, err
	}
	defaults := config.Default()
	lim := request.Limits{MaxDepth: defaults.Limits.MaxDepth, MaxAmount: defaults.Limits.MaxAmount}
	src := policy.Source{FS: policies.FS, Label: "embedded"}
	if cfg.Policies != "" {
		if fi, err := os.Stat(cfg.Policies); err != nil || !fi.IsDir() {
			return fail(fmt.Errorf("policies: %s is not a directory", cfg.Policies))
		}
		src = policy.Source{FS: os.DirFS(cfg.Policies), Label: cfg.Policies}
	}
	eng, err := policy.New(policy.Options{Source: src, Package: "riskpdp", EvalTimeout: 5 * time.Second,
		Limits: lim, Logger: cfg.Logger})
	if err != nil {
		return fail(fmt.Errorf("load policies: %w", err))
	}
	closers = append(closers, func() error { eng.Close(); return nil })

	if s.tr, err = velocity.New(velocity.Config{SweepInterval: -1}); err != nil {
		return fail(err)
	}
	closers = append(closers, s.tr.Close)

	dir := cfg.StateDir
	if dir == "" {
		if dir, err = os.MkdirTemp(stateTemp(), "pdp-sim-"); err != nil {
			return fail(err)
		}
		closers = append(closers, func() error { return os.RemoveAll(dir) })
	}
	path := filepath.Join(dir, "state.db")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("state: %s exists; a simulation starts from a fresh state", path))
	}
	if s.st, err = state.Open(state.Config{Path: path, SweepInterval: -1, Clock: s.now}); err != nil {
		return fail(err)
	}
	closers = append(closers, s.st.Close)

	if cfg.Plugins != "" {
		if s.plugins, err = plugin.New(plugin.Config{Dir: cfg.Plugins, Logger: cfg.Logger}); err != nil {
			return fail(fmt.Errorf("plugins: %w", err))
		}
		closers = append(closers, s.plugins.Close)
		if err := s.plugins.Load(ctx, cfg.Plugins); err != nil {
			return fail(fmt.Errorf("load plugins: %w", err))
		}
	}
	var dlog *decisionlog.Logger
	if cfg.DecisionLog != "" {
		dlog, err = decisionlog.New(decisionlog.Config{Path: cfg.DecisionLog, BufferSize: 1 << 14,
			Overflow: decisionlog.OverflowBlock, BlockTimeout: time.Second})
		if err != nil {
			return fail(fmt.Errorf("decision log: %w", err))
		}
		// Closed first among the closers (they run in reverse), after the
		// service stopped deciding: every record is written.
		closers = append([]func() error{func() error {
			if err := dlog.Close(context.Background()); err != nil {
				return fmt.Errorf("decision log: %w", err)
			}
			for reason, n := range dlog.Stats().Dropped {
				if n != 0 {
					return fmt.Errorf("decision log: %d records dropped (%s)", n, reason)
				}
			}
			return nil
		}}, closers...)
	}
	s.svc, err = decide.New(decide.Options{Engine: eng, Metrics: metrics.New(), Limits: lim,
		Messages: defaults.Messages, Logger: cfg.Logger, Now: s.now, State: s.st, Velocity: s.tr,
		Plugins: s.plugins, DecisionLog: dlog, Package: "riskpdp"})
	if err != nil {
		return fail(err)
	}
	if err := s.pop.prime(ctx, s.st); err != nil {
		return fail(err)
	}
	return closeAll, nil
}

// play runs every episode to its end.
func (s *sim) play(ctx context.Context) (*Result, error) {
	cfg := s.cfg
	planned := 0
	// Day d's episodes start at the earliest 14 hours before the day in
	// UTC (local mornings east of UTC): plan a day a full day ahead.
	plan := func() {
		for planned < cfg.Days && (s.queue.Len() == 0 ||
			!s.queue.items[0].at.Before(cfg.Start.Add(time.Duration(planned-1)*24*time.Hour))) {
			eps := append(s.planLegit(planned), s.planFraud(planned)...)
			for _, e := range eps {
				if e.Start.Before(cfg.Start) {
					continue // local mornings of the first day that fall before the start
				}
				s.episodes[e.Scenario]++
				if call, ok := e.Next(nil); ok {
					heap.Push(&s.queue, queued{at: e.Start.Add(call.Delay), ep: e, call: call})
				}
			}
			planned++
		}
	}
	plan()
	nextSweep := cfg.Start.Add(time.Hour)
	for n := 0; s.queue.Len() > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		q := heap.Pop(&s.queue).(queued)
		s.clock.Store(q.at.UnixNano())
		if !q.at.Before(nextSweep) {
			s.tr.Sweep(q.at)
			nextSweep = q.at.Truncate(time.Hour).Add(time.Hour)
		}
		ans, err := s.do(ctx, q.call)
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w\nbody: %s", q.ep.Scenario.Name, q.at.Format(time.RFC3339), err, q.call.Body)
		}
		if call, ok := q.ep.Next(ans); ok {
			heap.Push(&s.queue, queued{at: q.at.Add(call.Delay), ep: q.ep, call: call})
		}
		plan()
	}
	if err := s.st.Flush(ctx); err != nil {
		return nil, err
	}
	rep := s.report()
	return &Result{Report: rep, Txns: s.txns}, nil
}

// do makes one call of the decide service.
func (s *sim) do(ctx context.Context, c Call) (*Answer, error) {
	s.calls[c.Kind]++
	switch c.Kind {
	case CallVerify:
		_, err := s.svc.Verify(ctx, c.Body)
		return nil, err
	case CallEvent:
		_, err := s.svc.Event(ctx, c.Body)
		return nil, err
	case CallOutcome:
		_, err := s.svc.Outcome(ctx, c.Body)
		return nil, err
	}
	d, err := s.svc.Decide(ctx, c.Body, "")
	if err != nil {
		return nil, err
	}
	if d.Fallback {
		return nil, fmt.Errorf("the decision fell back on an internal fault: %v", d.Reasons)
	}
	if s.revision == "" {
		s.revision = d.PolicyRevision
	}
	a := &Answer{Outcome: d.Outcome.String(), Reasons: d.Reasons}
	if d.StepUp != nil {
		a.Methods, a.ChallengeID = d.StepUp.Methods, d.StepUp.ChallengeID
	}
	for _, o := range d.Obligations {
		if o.Type == pdp.ObligationFreeze || o.Type == pdp.ObligationRestrict {
			a.Freeze = true
		}
	}
	t := c.Txn
	if t.Decisions == 0 {
		t.At = s.now()
		s.txns = append(s.txns, t)
	}
	t.observe(a)
	return a, nil
}

// queued is a call due at a time.
type queued struct {
	at   time.Time
	ep   *Episode
	call Call
}

// callQueue orders calls by time, then by episode: a deterministic order.
type callQueue struct{ items []queued }

func (q *callQueue) Len() int { return len(q.items) }
func (q *callQueue) Less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.ep.Seq < b.ep.Seq
}
func (q *callQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *callQueue) Push(x any)    { q.items = append(q.items, x.(queued)) }
func (q *callQueue) Pop() any {
	n := len(q.items) - 1
	x := q.items[n]
	q.items = q.items[:n]
	return x
}
