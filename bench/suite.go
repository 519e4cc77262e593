package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp/sim"
)

// Options configure a run. Zero values mean the defaults of a full run
// (Smoke picks the smoke defaults instead).
type Options struct {
	// Root is the repository root (holds the sidecar's go.mod, policies/,
	// plugins/; the harness's own module is Root/bench).
	Root string
	// Work is a scratch directory: binaries, policies, state files, logs.
	Work string
	// Out receives results.json, the charts and the CPU profiles.
	Out string
	// Readme, when set, gets the summary table between its markers.
	Readme string
	// Command is recorded in the results (how the run was started).
	Command string
	// Smoke runs every phase for about a second and the scale checks at
	// their smallest points: enough to prove the harness works.
	Smoke bool

	ClosedConns int           // closed-loop connections (default 8)
	OpenConns   int           // open-loop connections (default 32)
	Phase       time.Duration // each main phase (default 10 s)
	Warmup      time.Duration // before a target's first phase (default 3 s)
	// Settle is how long a target that plays sessions (the sidecar) runs
	// at an open loop's rate, its session queue reset, before the loop is
	// measured: the follow-ups of the sessions (payments 5–40 s after
	// their orders, verifications 10–60 s after a step-up, outcome reports
	// 1–3 s after a payment) come at that rate's pace, not the phase
	// before's (default 60 s; scale points settle for ScalePhase). Some
	// sessions' calls come hours apart, so no settle reaches the steady
	// state: in quick runs a loop sent 0.46 side calls per decision after
	// 20 s (at 500/s) and 0.57 after 60 s (at 570/s).
	Settle     time.Duration
	ScalePhase time.Duration // each scale-check phase (default 5 s)
	// RateFractions are the open-loop rates as fractions of OPA's
	// closed-loop throughput (default 0.1, 0.25, 0.5); Rates adds fixed
	// rates in req/s.
	RateFractions []float64
	Rates         []float64
	// RuleFactors, StateKeys, PluginCounts are the scale-check points
	// (defaults 1,10,100; 10k,100k,1M; 0..all). An empty list after
	// defaults (-scale=false) skips a check.
	RuleFactors  []int
	StateKeys    []int
	PluginCounts []int
	NoScale      bool
	// NoDecisionLogPoint skips the scale point that runs the sidecar
	// without its decision log (what the log costs).
	NoDecisionLogPoint bool
	// Profile captures a CPU profile per target (default on in full runs).
	Profile bool
	// ProfileRate, when positive, profiles each target under an open loop
	// at this offered rate (OpenConns connections) instead of the closed
	// loop: where the CPU goes at the rates a sidecar mostly sees.
	ProfileRate float64
	Mix         MixConfig
	Log         io.Writer
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = io.Discard
	}
	smoke := o.Smoke
	pick := func(full, s time.Duration) time.Duration {
		if smoke {
			return s
		}
		return full
	}
	if o.ClosedConns <= 0 {
		o.ClosedConns = 8
	}
	if o.OpenConns <= 0 {
		o.OpenConns = 32
	}
	if o.Phase <= 0 {
		o.Phase = pick(10*time.Second, time.Second)
	}
	if o.Warmup <= 0 {
		o.Warmup = pick(3*time.Second, 500*time.Millisecond)
	}
	if o.ScalePhase <= 0 {
		o.ScalePhase = pick(5*time.Second, 700*time.Millisecond)
	}
	if o.Settle <= 0 {
		o.Settle = pick(60*time.Second, 500*time.Millisecond)
	}
	if o.RateFractions == nil && o.Rates == nil {
		o.RateFractions = []float64{0.1, 0.25, 0.5}
		if smoke {
			o.RateFractions = []float64{0.5}
		}
	}
	if !o.NoScale {
		if o.RuleFactors == nil {
			o.RuleFactors = []int{1, 10, 100}
			if smoke {
				o.RuleFactors = []int{10}
			}
		}
		if o.StateKeys == nil {
			o.StateKeys = []int{10_000, 100_000, 1_000_000}
			if smoke {
				o.StateKeys = []int{20_000}
			}
		}
		if o.PluginCounts == nil {
			o.PluginCounts = []int{0, 1, 2, 3, 4}
			if smoke {
				o.PluginCounts = []int{0}
			}
		}
	} else {
		o.RuleFactors, o.StateKeys, o.PluginCounts = nil, nil, nil
	}
	if smoke || o.NoScale {
		o.NoDecisionLogPoint = true
	}
	if o.Mix.Size == 0 && smoke {
		o.Mix.Size = 5_000
	}
	if o.Mix.UIDs == 0 && smoke {
		// A smoke sidecar plays a few thousand sessions: fewer accounts
		// to prime, still none twice.
		o.Mix.UIDs = 20_000
	}
	o.Mix = o.Mix.withDefaults()
}

// suite is one run in progress.
type suite struct {
	o        Options
	bin      *Binaries
	res      *Results
	mix      []Request
	dlogFlag bool
	n        int // servers started, for unique directories
	opaArgs  []string
	// stateInfo describes the state files filled, by key count.
	stateInfo map[int]StateInfo
	// traffic is the population of a MixPopulation run (nil for MixZipf):
	// its history primes every state file, its sessions are the
	// sidecar's load.
	traffic *sim.Traffic
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// RunSuite runs the whole comparison and returns its results; it writes
// results.json and the charts to o.Out and the summary to o.Readme.
func RunSuite(ctx context.Context, o Options) (*Results, error) {
	o.defaults()
	if o.Root == "" || o.Work == "" || o.Out == "" {
		return nil, errors.New("bench: root, work and out are required")
	}
	for _, d := range []string{o.Work, o.Out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	s := &suite{o: o, res: &Results{Started: time.Now().UTC(), Command: o.Command, Smoke: o.Smoke, Machine: readMachine()}, stateInfo: map[int]StateInfo{}}
	t0 := time.Now()
	s.logf("building the sidecar, the floor, the example plugins and the pinned OPA CLI")
	bin, err := Build(ctx, o.Root, filepath.Join(o.Work, "bin"), nil)
	if err != nil {
		return nil, err
	}
	s.bin = bin
	s.res.Versions = versions(ctx, o.Root, bin)
	s.dlogFlag = supportsFlag(ctx, bin.PDP, "--decision-log", "serve")
	switch o.Mix.Kind {
	case MixPopulation:
		s.traffic = NewTraffic(o.Mix)
	case MixZipf:
	default:
		return nil, fmt.Errorf("bench: mix kind %q: want %s or %s", o.Mix.Kind, MixPopulation, MixZipf)
	}
	if err := s.main(ctx); err != nil {
		return s.res, err
	}
	if err := s.scale(ctx); err != nil {
		return s.res, err
	}
	// The in-process decision, on the machine the targets have left.
	count, benchtime := 5, "1s"
	if o.Smoke {
		count, benchtime = 1, "100x"
	}
	s.logf("in process: BenchmarkDecidePath (%s), %d run(s) of %s", strings.Join(inProcessBenchmarks, ", "), count, benchtime)
	if s.res.InProcess, err = RunInProcess(ctx, o.Root, count, benchtime); err != nil {
		return s.res, err
	}
	for _, b := range s.res.InProcess {
		s.logf("  %-16s %8.1f µs/op  %8.1f µs CPU/op  %4.0f allocs/op", b.Name, b.NsOp/1e3, b.CPUNsOp/1e3, b.AllocsOp)
	}
	s.res.computeRatios()
	s.res.Machine.LoadAvgEnd = loadAvg()
	if n := loadNote(s.res.Machine); n != "" {
		s.res.Notes = append(s.res.Notes, n)
	}
	s.res.Seconds = time.Since(t0).Seconds()
	return s.res, s.write()
}

// write saves results.json, the charts and the README table.
func (s *suite) write() error {
	b, err := json.MarshalIndent(s.res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.o.Out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := WriteCharts(s.res, s.o.Out); err != nil {
		return fmt.Errorf("charts: %w", err)
	}
	if s.o.Readme != "" {
		rel, err := filepath.Rel(filepath.Dir(s.o.Readme), s.o.Out)
		if err != nil {
			rel = s.o.Out
		}
		return UpdateReadme(s.o.Readme, Summary(s.res, filepath.ToSlash(rel)))
	}
	return nil
}

// sidecarSpec is the configuration of one sidecar start.
type sidecarSpec struct {
	policies  string
	stateFile string // pristine state, copied for this start
	plugins   int
	profile   string // CPU profile path: pdp serve --cpu-profile
	// noDecisionLog starts it without the decision log (a scale point).
	noDecisionLog bool
}

// newDir returns a fresh directory for the n-th server.
func (s *suite) newDir(name string) (string, error) {
	s.n++
	dir := filepath.Join(s.o.Work, "runs", fmt.Sprintf("%02d-%s", s.n, name))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// sidecar prepares a `pdp serve` with state, velocity, plugins and the
// decision log (when the binary has the flag).
func (s *suite) sidecar(spec sidecarSpec) (*Server, []string, error) {
	dir, err := s.newDir("sidecar")
	if err != nil {
		return nil, nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	statePath := filepath.Join(dir, "state.db")
	if err := copyFile(spec.stateFile, statePath); err != nil {
		return nil, nil, err
	}
	cfg := fmt.Sprintf("addr: %q\nadmin:\n  addr: %q\npolicies:\n  dir: %q\n  watch: false\nstate:\n  path: %q\n",
		addr, admin, spec.policies, statePath)
	var names []string
	if spec.plugins > 0 {
		names, err = pluginDir(filepath.Join(dir, "plugins"), s.bin.Plugins, spec.plugins)
		if err != nil {
			return nil, nil, err
		}
		cfg += fmt.Sprintf("plugins:\n  dir: %q\n  cache_dir: %q\n", filepath.Join(dir, "plugins"), s.pluginCache())
	}
	cfgPath := filepath.Join(dir, "pdp.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, nil, err
	}
	args := []string{"serve", "--config", cfgPath}
	if s.dlogFlag && !spec.noDecisionLog {
		args = append(args, "--decision-log", filepath.Join(dir, "decisions.log"))
	}
	srv := &Server{Name: "sidecar", Bin: s.bin.PDP, Args: args, Addr: addr, Path: "/v1/decide", Ready: "/health/ready",
		Log: filepath.Join(dir, "pdp.log"), Env: []string{"XDG_CACHE_HOME=" + filepath.Join(s.o.Work, "cache")}}
	if s.traffic != nil {
		srv.Sessions = NewSessionQueue(&populationSessions{tr: s.traffic}, 1)
	}
	if spec.profile != "" {
		srv.Args = append(srv.Args, "--cpu-profile", spec.profile)
	}
	return srv, names, nil
}

// opa prepares `opa run --server` on a policy directory.
func (s *suite) opa(policies string, pprof bool) (*Server, error) {
	dir, err := s.newDir("opa")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// OPA logs two lines per request at its default level (info); error
	// keeps those off, which is OPA's faster configuration. Decision
	// logging is off by default and stays off.
	args := []string{"run", "--server", "--addr", addr, "--skip-version-check", "--log-level", "error", "--log-format", "json"}
	s.opaArgs = append([]string{"run", "--server", "--addr", "127.0.0.1:PORT"}, args[4:]...)
	if pprof {
		args = append(args, "--pprof")
	}
	args = append(args, policies)
	return &Server{Name: "opa", Bin: s.bin.OPA, Args: args, Addr: addr, Path: "/v1/data/riskpdp/decision",
		Ready: "/health", OPABody: true, Log: filepath.Join(dir, "opa.log")}, nil
}

// floor prepares the no-op fasthttp server.
func (s *suite) floor(profile string) (*Server, error) {
	dir, err := s.newDir("floor")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	srv := &Server{Name: "floor", Bin: s.bin.Floor, Args: []string{"-addr", addr}, Addr: addr, Path: "/v1/decide",
		Ready: "/health", Log: filepath.Join(dir, "floor.log")}
	if profile != "" {
		srv.Env = []string{"BENCH_CPUPROFILE=" + profile}
	}
	return srv, nil
}

// bodies returns the request bodies for srv from mix.
func bodies(srv *Server, mix []Request) [][]byte {
	out := make([][]byte, len(mix))
	for i := range mix {
		if srv.OPABody {
			out[i] = mix[i].OPA
		} else {
			out[i] = mix[i].Decide
		}
	}
	return out
}

// startTimeout allows for compiling a ×100 policy and the plugins.
const startTimeout = 3 * time.Minute

// settle resets srv's session queue, if it plays sessions, and runs it at
// rate for d, unmeasured (Options.Settle). Targets sent a list of bodies
// (OPA, the floor) have no sessions to settle.
func (s *suite) settle(srv *Server, body [][]byte, d time.Duration, conns int, rate float64) error {
	if srv.Sessions == nil {
		return nil
	}
	srv.Sessions.Reset()
	_, err := Run(Load{Addr: srv.Addr, Path: srv.Path, Bodies: body, Sessions: srv.Sessions, Conns: conns, Duration: d, Rate: rate})
	return err
}

// phase runs one load phase against a started server, sampling its CPU
// and memory.
func (s *suite) phase(srv *Server, body [][]byte, d time.Duration, conns int, rate float64) (*LoadResult, error) {
	smp := startSampler(srv.PID())
	res, err := Run(Load{Addr: srv.Addr, Path: srv.Path, Bodies: body, Sessions: srv.Sessions, Conns: conns, Duration: d, Rate: rate})
	if err != nil {
		smp.finish(0)
		return nil, err
	}
	u := smp.finish(res.Requests)
	res.Usage = &u
	mode := "closed"
	if rate > 0 {
		mode = fmt.Sprintf("open %.0f/s", rate)
	}
	s.logf("  %-8s %-12s %8.0f req/s  p50 %6.0f µs  p99 %7.0f µs  p99.9 %7.0f µs  max %7.0f µs  errors %d unsent %d  cpu %.2f cores, %.1f µs/req  rss %.0f MiB  %v",
		srv.Name, mode, res.Throughput, res.Latency.P50, res.Latency.P99, res.Latency.P999, res.Latency.Max,
		res.Errors, res.Unsent, u.Cores, u.CPUPerRequestUs, float64(u.RSSMaxBytes)/(1<<20), res.Outcomes)
	if res.Errors > 0 {
		s.logf("  %s: first error: %s", srv.Name, res.ErrorSample)
	}
	return res, nil
}

// idleRSS waits a moment after start and reads the resident set.
func idleRSS(srv *Server) int64 {
	time.Sleep(500 * time.Millisecond)
	p, err := ReadProc(srv.PID())
	if err != nil {
		return 0
	}
	return p.RSSBytes
}

// roundRate rounds a rate to two significant digits.
func roundRate(x float64) float64 {
	if x <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-1)
	return math.Round(x/p) * p
}

// stageShares describes the stages of the mix, and its share of risky
// (MixZipf) or fraud (MixPopulation) requests.
func stageShares(mix []Request) string {
	count := map[string]int{}
	risky, fraud := 0, 0
	for _, r := range mix {
		count[r.Stage]++
		if r.Risk != "" {
			risky++
		}
		if r.Fraud {
			fraud++
		}
	}
	var parts []string
	for _, st := range []string{"login", "order", "payment", "withdrawal", "repayment"} {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", st, 100*float64(count[st])/float64(len(mix))))
	}
	if fraud > 0 {
		parts = append(parts, fmt.Sprintf("fraud %.1f%%", 100*float64(fraud)/float64(len(mix))))
	} else {
		parts = append(parts, fmt.Sprintf("risky %.1f%%", 100*float64(risky)/float64(len(mix))))
	}
	return strings.Join(parts, ", ")
}

// loadNote warns when the machine was busy with other work when the run
// started: absolute numbers then undercount every target, and CPU per
// request is the steadier comparison. Only the load at the start tells:
// at the end the one-minute average is mostly the run's own (it keeps
// both cores busy).
func loadNote(m Machine) string {
	var one float64
	if _, err := fmt.Sscanf(m.LoadAvg, "%f", &one); err != nil || one <= float64(m.Cores) {
		return ""
	}
	return fmt.Sprintf("The machine was shared with other work (load average %s at the start, %s at the end, on %d cores): "+
		"every target got a fraction of the CPU, absolute req/s are low and tail latencies include scheduling stalls "+
		"of the client and the server alike. Ratios and CPU per request (server CPU time over answered requests) are "+
		"the steadier comparison; rerun `make bench` on an idle machine for absolute numbers.", m.LoadAvg, m.LoadAvgEnd, m.Cores)
}

// pluginCache is the sidecar's compiled-plugin cache: kept in the user's
// cache directory across runs (wazero keys it by module and runtime
// version), so a repeated run does not spend its start-up compiling the
// same plugins again; the scratch directory when there is none.
func (s *suite) pluginCache() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "riskpdp-bench", "plugin-cache")
	}
	return filepath.Join(s.o.Work, "plugin-cache")
}
