package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// StepCost is the CPU one step of the sidecar's request path took in its
// profile under the closed loop, per decision answered meanwhile.
type StepCost struct {
	Step       string  `json:"step"`
	What       string  `json:"what"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// Share of the profile's CPU outside start-up.
	Share float64 `json:"share"`
	// PerDecisionUs is the step's CPU divided by the decisions answered
	// while the profile ran (side calls' steps divided by side calls).
	PerDecisionUs float64 `json:"per_decision_us"`
}

// step is a part of the sidecar's work, recognized by the functions on a
// sample's stack: a sample belongs to the step of its innermost frame that
// names one (so that a state read inside the decision is the state's, and
// an allocation is charged to the step that made it).
type step struct {
	name, what string
	frames     []string // function name prefixes, after the module path
}

// Start-up and side calls are steps too, kept apart from the decisions'.
const (
	stepStartUp     = "start-up"
	stepSideCalls   = "side calls"
	stepHTTPRead    = "HTTP read and parse"
	stepHTTPWrite   = "HTTP write"
	stepOther       = "other (scheduler, timers, runtime)"
	stepDecisionLog = "decision log"
)

var steps = []step{
	{"decode", "the body decoded and validated into the policy input", []string{"pdp/internal/request.DecodeRequest"}},
	{"velocity", "velocity windows counted and read", []string{"pdp/internal/velocity."}},
	{"state reads", "reputation, account and verification read (cache, then bbolt)", []string{"pdp/internal/decide.(*Service).enrich", "github.com/dgraph-io/ristretto/"}},
	{"plugins", "the WASM plugins' scores", []string{"pdp/internal/decide.(*Service).score", "pdp/internal/plugin.(*plugin)."}},
	{"evaluate", "the policy evaluated (fast path)", []string{"pdp/internal/policy.(*Engine).Evaluate"}},
	{"verification sample", "a sample of decisions evaluated again by OPA's evaluator, off the request path", []string{"pdp/internal/policy.(*verifier)"}},
	{"plan", "the answer, its message and the changes it implies", []string{"pdp/internal/decide.(*Service).plan", "pdp/internal/decide.(*Service).DecideTraced"}},
	{stepDecisionLog, "the record: rendered, masked, written (request path and writer), rotated files compressed", []string{"pdp/internal/decide.(*Service).record", "pdp/internal/decisionlog.", "gopkg.in/natefinch/lumberjack"}},
	{"apply", "the planned changes made (account, devices, journal) in memory", []string{"pdp/internal/decide.(*Service).apply", "pdp/internal/decide.(*Service).recorded"}},
	{"durable state writes", "group commits of the risk state to its write-ahead log (fdatasync) and the log's checkpoints into bbolt", []string{"pdp/internal/state.(*Store).run", "pdp/internal/state.(*boltBackend).checkpointLoop"}},
	{"encode", "the answer written as JSON, headers, metrics", []string{"pdp/internal/server.(*Server).decide"}},
	{stepSideCalls, "verifications, events and outcome reports (their own handlers)", []string{"pdp/internal/server.(*Server).verify", "pdp/internal/server.(*Server).event", "pdp/internal/server.(*Server).outcome", "pdp/internal/server.(*Server).appeal"}},
	{"GC", "the garbage collector's own workers", []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge"}},
	{stepStartUp, "policy load and proof, plugin compilation, state open", []string{"pdp/internal/cli.", "main.main", "pdp/internal/plugin.buildSet", "pdp/internal/policy.New", "pdp/internal/policy.(*Engine).Reload",
		"pdp/internal/policy.(*Engine).prove", "go.etcd.io/bbolt.(*Tx).recursivelyCheck"}},
}

// fasthttp's connection loop: what a sample spends in it outside the
// handler is reading and parsing the request, or writing the answer.
const serveConn = "github.com/valyala/fasthttp.(*Server).serveConn"

// StepCosts reads a CPU profile of the sidecar and divides its CPU among
// the request's steps, per decision (decisions and sideCalls answered while
// it ran). Steps are sorted by cost, start-up last (it is not per request).
func StepCosts(path string, decisions, sideCalls int64) ([]StepCost, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			vi = i
		}
	}
	if vi < 0 {
		return nil, fmt.Errorf("%s: not a CPU profile", path)
	}
	ns := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		ns[classify(s)] += v
		total += v
	}
	running := total - ns[stepStartUp]
	if running <= 0 || decisions <= 0 {
		return nil, fmt.Errorf("%s: no request in the profile", path)
	}
	var out []StepCost
	add := func(name, what string) {
		v := ns[name]
		if v == 0 {
			return
		}
		c := StepCost{Step: name, What: what, CPUSeconds: float64(v) / 1e9}
		if name != stepStartUp {
			c.Share = float64(v) / float64(running)
			per := decisions
			if name == stepSideCalls && sideCalls > 0 {
				per = sideCalls
			}
			c.PerDecisionUs = float64(v) / 1e3 / float64(per)
		}
		out = append(out, c)
	}
	for _, st := range steps {
		add(st.name, st.what)
	}
	add(stepHTTPRead, "fasthttp reading and parsing requests (socket reads)")
	add(stepHTTPWrite, "fasthttp writing answers (socket writes)")
	add(stepOther, "Go scheduler, network poller, timers, background loops")
	slices.SortStableFunc(out, func(a, b StepCost) int {
		if (a.Step == stepStartUp) != (b.Step == stepStartUp) {
			if a.Step == stepStartUp {
				return 1
			}
			return -1
		}
		switch {
		case a.CPUSeconds > b.CPUSeconds:
			return -1
		case a.CPUSeconds < b.CPUSeconds:
			return 1
		}
		return 0
	})
	return out, nil
}

// classify names the step of one sample: that of its innermost frame naming
// one; in fasthttp's connection loop, reading or writing by the function
// it called.
func classify(s *profile.Sample) string {
	var callee string
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			name := line.Function.Name
			if name == serveConn {
				if strings.Contains(callee, "Write") || strings.Contains(callee, "Flush") || strings.Contains(callee, "writeResponse") {
					return stepHTTPWrite
				}
				return stepHTTPRead
			}
			short := strings.TrimPrefix(name, "github.com/riskpdp/riskpdp/")
			for _, st := range steps {
				for _, fr := range st.frames {
					if strings.HasPrefix(short, fr) {
						return st.name
					}
				}
			}
			callee = name
		}
	}
	return stepOther
}
