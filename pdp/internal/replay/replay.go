package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// ReasonPluginUnavailable is the reason the decision service adds when a
// closed-mode plugin failed.
const ReasonPluginUnavailable = decide.ReasonPluginUnavailable

// Options configure a replay.
type Options struct {
	// Policies is the candidate policy directory, laid out as for
	// `pdp serve --policies` (the decision package in a sub-directory,
	// e.g. riskpdp/, with its data). Required.
	Policies string
	// Package is the decision package. Default "riskpdp".
	Package string
	// Logs are decision log paths. Each is expanded with
	// decisionlog.Files: the path of a live log brings its rotated
	// backups, oldest first; the path of one backup is read alone. A file
	// named twice is read once.
	Logs []string
	// Labels, when not nil, adds the label rates to the report.
	Labels Labels
	// Changed, when not nil, receives every changed decision as a line of
	// JSON (a Change), in log order.
	Changed io.Writer
	// Sample is how many changed decisions the report keeps (Report.Sample).
	// Default (0) 100; negative: none.
	Sample int
	// Workers evaluate in parallel. Default GOMAXPROCS.
	Workers int
	// EvalTimeout bounds one evaluation. Default 1s (a replay is not in a
	// hurry; a policy that needs longer is reported per record).
	EvalTimeout time.Duration
	// Progress, when set, is called from the reading goroutine every few
	// hundred records with the bytes read so far and the files' total
	// size, and once at the end.
	Progress func(read, total int64)
	// Logger receives the engine's messages. Default: discarded.
	Logger *slog.Logger
	// Explain adds to each changed decision the candidate's rules that
	// fired, with the input values that made them fire (Change.
	// CandidateRules): OPA's evaluator traced, several times the cost of a
	// replayed record, paid only for the changed ones.
	Explain bool
}

// Replayer re-evaluates decision logs against a candidate policy set.
type Replayer struct {
	opts  Options
	eng   *policy.Engine
	files []string
	total int64
}

// replayLimits bound the replay's request decoder: the records were
// accepted live, under whatever limits the sidecar had, and a replay must
// not reject them for stricter defaults.
var replayLimits = request.Limits{MaxDepth: 256, MaxAmount: math.MaxFloat64}

// New loads and compiles the candidate policies and lists the log files.
// Both fail at once: a missing directory, a policy that does not compile
// or has no decision package, a log path with no files. Close releases the
// engine.
func New(opts Options) (*Replayer, error) {
	if opts.Package == "" {
		opts.Package = "riskpdp"
	}
	if opts.Sample == 0 {
		opts.Sample = 100
	}
	opts.Sample = max(opts.Sample, 0)
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.EvalTimeout <= 0 {
		opts.EvalTimeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Policies == "" {
		return nil, errors.New("policies: no directory given")
	}
	fi, err := os.Stat(opts.Policies)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("policies: %s is not a directory", opts.Policies)
	}
	if err := checkDataLayout(opts.Policies, opts.Package); err != nil {
		return nil, err
	}
	eng, err := policy.New(policy.Options{
		Source:      policy.Source{FS: os.DirFS(opts.Policies), Label: opts.Policies},
		Package:     opts.Package,
		EvalTimeout: opts.EvalTimeout,
		Limits:      replayLimits,
		Logger:      opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	r := &Replayer{opts: opts, eng: eng}
	if err := r.listFiles(); err != nil {
		eng.Close()
		return nil, err
	}
	return r, nil
}

// checkDataLayout refuses a policy directory whose data files all lie
// outside the decision package's directory. OPA places data by directory,
// so the package's own data would land where its policies do not read it,
// and the candidate would compile, run and silently miss its thresholds:
// typically the package directory itself given (policies/riskpdp instead
// of policies). Data outside next to data inside (shared lists) is fine.
func checkDataLayout(dir, pkg string) error {
	prefix := strings.Trim(pkg, "/") + "/"
	var outside string
	inside := false
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("policies: %w", err)
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir // hidden, as the engine's loader skips them
			}
			return nil
		}
		switch d.Name() {
		case "data.json", "data.yaml", "data.yml":
			if strings.HasPrefix(p, prefix) {
				inside = true
			} else if outside == "" {
				outside = p
			}
		}
		return nil
	})
	if err == nil && outside != "" && !inside {
		err = fmt.Errorf("policies %s: data file %s lies outside %s, where the %s policies would not see it (is the directory one level too deep?)",
			dir, outside, prefix, pkg)
	}
	return err
}

// listFiles expands the log paths into files and sums their sizes.
func (r *Replayer) listFiles() error {
	if len(r.opts.Logs) == 0 {
		return errors.New("log: no decision log given")
	}
	seen := map[string]bool{}
	for _, p := range r.opts.Logs {
		files, err := decisionlog.Files(p)
		if err != nil {
			return fmt.Errorf("log %s: %w", p, err)
		}
		if len(files) == 0 {
			return fmt.Errorf("log %s: no such file, and no rotated backups of it", p)
		}
		for _, f := range files {
			if seen[f] {
				continue
			}
			seen[f] = true
			r.files = append(r.files, f)
			if fi, err := os.Stat(f); err == nil {
				r.total += fi.Size()
			}
		}
	}
	return nil
}

// Files returns the log files the replay reads, in order.
func (r *Replayer) Files() []string { return r.files }

// Size returns the total size of the log files, as stored: what
// Options.Progress counts up to.
func (r *Replayer) Size() int64 { return r.total }

// Revision returns the candidate policy set's revision.
func (r *Replayer) Revision() string { return r.eng.Revision() }

// Close releases the engine.
func (r *Replayer) Close() { r.eng.Close() }

// Records are read and evaluated in batches: one channel operation per
// batch, not per record. The aggregator takes the batches in log order.
const batchSize = 128

// kind is what became of one record.
type kind uint8

const (
	kindCompared kind = iota
	kindFallback
	kindDataQuery
	kindFailed
	kindCandidateError
)

// item is one record on its way through the pipeline.
type item struct {
	rec  *decisionlog.Record
	file string
	line int64

	kind       kind
	err        error
	stage      pdp.Stage
	live, cand pdp.Outcome
	// liveReasons and candReasons are sorted and without duplicates.
	liveReasons, candReasons []string
	pluginUnavailable        bool
	// rules explain a changed decision (Options.Explain).
	rules []ExplainedRule
}

type batch struct {
	items []item
	done  chan struct{} // closed once every item is evaluated
}

// Run reads the logs, re-evaluates every record with the candidate policy
// and returns the report. Memory stays flat in the log size: a bounded
// number of batches is in flight, the aggregate is counters, and changed
// decisions go to Options.Changed as they are found. It fails only when
// ctx ends or writing Options.Changed fails; what it cannot read or
// evaluate is counted in the report.
func (r *Replayer) Run(ctx context.Context) (*Report, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *batch, r.opts.Workers*2)
	order := make(chan *batch, r.opts.Workers*4)
	var skipped Issues
	go r.read(ctx, work, order, &skipped)
	for range r.opts.Workers {
		go func() {
			for b := range work {
				for i := range b.items {
					r.evaluate(ctx, &b.items[i])
				}
				close(b.done)
			}
		}()
	}
	agg := newAggregator(r, r.opts.Changed)
	var werr error
	for b := range order {
		<-b.done
		if werr != nil || ctx.Err() != nil {
			continue // drain, so that the reader ends
		}
		for i := range b.items {
			if werr = agg.add(&b.items[i]); werr != nil {
				cancel()
				break
			}
		}
	}
	// order is closed: the reader has returned and skipped is complete.
	if werr == nil {
		werr = agg.flush()
	}
	if werr != nil {
		return nil, fmt.Errorf("write changed decisions: %w", werr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := agg.report()
	rep.Skipped = skipped
	return rep, nil
}

// read streams the records into batches, sends each to the workers and
// then to the aggregator, and closes both channels at the end.
func (r *Replayer) read(ctx context.Context, work, order chan<- *batch, skipped *Issues) {
	defer close(order)
	defer close(work)
	rd := decisionlog.NewReader(r.files)
	defer rd.Close()
	rd.OnSkip = func(s decisionlog.Skip) {
		skipped.add(Issue{File: s.File, Line: s.Line, Reason: s.Reason, Detail: s.Detail})
	}
	for eof := false; !eof && ctx.Err() == nil; {
		b := &batch{items: make([]item, 0, batchSize), done: make(chan struct{})}
		for len(b.items) < batchSize {
			rec, err := rd.Next()
			if err != nil { // io.EOF: Next returns no other error
				eof = true
				break
			}
			file, line := rd.Pos()
			b.items = append(b.items, item{rec: rec, file: file, line: line})
		}
		if len(b.items) == 0 {
			break
		}
		// To the workers first: a batch the aggregator waits for is
		// always being evaluated.
		select {
		case work <- b:
		case <-ctx.Done():
			return
		}
		select {
		case order <- b:
		case <-ctx.Done():
			return
		}
		if r.opts.Progress != nil {
			r.opts.Progress(rd.BytesRead(), r.total)
		}
	}
	if r.opts.Progress != nil {
		r.opts.Progress(rd.BytesRead(), r.total)
	}
}

// evaluate rebuilds one record's policy input, evaluates it with the
// candidate and classifies the record.
func (r *Replayer) evaluate(ctx context.Context, it *item) {
	rec := it.rec
	defer func() { rec.Input, rec.Enrichment = nil, nil }() // not needed past here
	if rec.Fallback {
		it.kind = kindFallback
		return
	}
	if rec.Result.Outcome == "" && (len(rec.Result.Data) > 0 || rec.Result.Undefined) {
		it.kind = kindDataQuery
		return
	}
	live, ok := pdp.ParseOutcome(rec.Result.Outcome)
	if !ok {
		live, ok = pdp.ParseOutcome(rec.Outcome)
	}
	if !ok {
		it.kind, it.err = kindFailed, fmt.Errorf("outcome: %q is not allow, step_up or deny", rec.Result.Outcome)
		return
	}
	in, err := request.ReplayInput(rec.Input, rec.Timestamp, rec.Enrichment, replayLimits)
	if err != nil {
		it.kind, it.err = kindFailed, err
		return
	}
	res, _, err := r.eng.Evaluate(ctx, in)
	if err != nil {
		it.kind, it.err = kindCandidateError, err
		return
	}
	it.stage, it.live, it.cand = in.Req.Stage, live, res.Outcome
	it.liveReasons = normalize(rec.Result.Reasons)
	cand := res.Reasons
	if slices.Contains(it.liveReasons, ReasonPluginUnavailable) {
		// The decision service, not the policy, made this at least a
		// step-up: the candidate would have got the same treatment.
		it.pluginUnavailable = true
		it.cand = pdp.Stricter(it.cand, pdp.StepUp)
		cand = append(slices.Clip(cand), ReasonPluginUnavailable)
	}
	it.candReasons = normalize(cand)
	if r.opts.Explain && it.cand != it.live {
		if x, _, err := r.eng.Explain(ctx, in); err == nil {
			it.rules = explainedRules(x.Rules)
		} else {
			it.rules = []ExplainedRule{{Rule: "error", Value: err.Error()}}
		}
	}
}

// normalize returns a sorted copy of reasons without duplicates.
func normalize(reasons []string) []string {
	out := slices.Clone(reasons)
	slices.Sort(out)
	return slices.Compact(out)
}
