package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Results is the JSON document of one run.
type Results struct {
	Started  time.Time         `json:"started"`
	Seconds  float64           `json:"seconds"`
	Command  string            `json:"command"`
	Smoke    bool              `json:"smoke"`
	Machine  Machine           `json:"machine"`
	Versions map[string]string `json:"versions"`
	Setup    Setup             `json:"setup"`
	// Targets are the main comparison: the same mix, one after another.
	Targets []*TargetResult `json:"targets"`
	Ratios  Ratios          `json:"ratios"`
	Goals   []Goal          `json:"goals"`
	Scale   Scale           `json:"scale"`
	// Profiles maps a target to its CPU profile (relative to the results).
	Profiles map[string]string `json:"profiles,omitempty"`
	// ProfileRun is the closed loop the sidecar's profile was taken under;
	// Steps divide its CPU among the request's steps.
	ProfileRun *LoadResult `json:"profile_run,omitempty"`
	Steps      []StepCost  `json:"steps,omitempty"`
	// InProcess are the in-process decision benchmarks, run after the
	// targets (BenchmarkDecidePath).
	InProcess []InProcess `json:"in_process,omitempty"`
	Notes     []string    `json:"notes,omitempty"`
}

// Setup records how the targets were configured.
type Setup struct {
	Mix             MixConfig `json:"mix"`
	MixOutcomes     string    `json:"mix_stages"`
	ClosedConns     int       `json:"closed_conns"`
	OpenConns       int       `json:"open_conns"`
	PhaseSeconds    float64   `json:"phase_seconds"`
	WarmupSeconds   float64   `json:"warmup_seconds"`
	SettleSeconds   float64   `json:"settle_seconds"`
	ScaleSeconds    float64   `json:"scale_phase_seconds"`
	Rules           int       `json:"rules"`
	StateKeys       int       `json:"state_keys"`
	Plugins         []string  `json:"plugins"`
	DecisionLog     bool      `json:"sidecar_decision_log"`
	DecisionLogNote string    `json:"decision_log_note"`
	OPAArgs         []string  `json:"opa_args"`
}

// TargetResult is one target of the main comparison.
type TargetResult struct {
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	StartSeconds float64       `json:"start_seconds"`
	IdleRSSBytes int64         `json:"idle_rss_bytes"`
	Closed       *LoadResult   `json:"closed"`
	Open         []*LoadResult `json:"open"`
}

// openAt returns the open-loop result at rate, or nil.
func (t *TargetResult) openAt(rate float64) *LoadResult {
	if t == nil {
		return nil
	}
	for _, o := range t.Open {
		if o.OfferedRate == rate {
			return o
		}
	}
	return nil
}

// Ratios compare the sidecar with OPA and the floor.
type Ratios struct {
	// ThroughputVsOPA and ThroughputVsFloor: closed-loop req/s of the
	// sidecar over OPA's and over the floor's.
	ThroughputVsOPA   float64 `json:"throughput_vs_opa"`
	ThroughputVsFloor float64 `json:"throughput_vs_floor"`
	// CPUPerRequestVsOPA: the sidecar's CPU per request over OPA's
	// (closed loop; lower is better).
	CPUPerRequestVsOPA float64     `json:"cpu_per_request_vs_opa"`
	Open               []RateRatio `json:"open"`
}

// RateRatio compares latencies at one offered rate.
type RateRatio struct {
	Rate float64 `json:"offered_rps"`
	// OPASustained: OPA answered ≥ 95 % of the offered rate with nothing
	// left unsent.
	OPASustained  bool    `json:"opa_sustained"`
	P50VsOPA      float64 `json:"p50_vs_opa"`
	P99VsOPA      float64 `json:"p99_vs_opa"`
	P50VsFloor    float64 `json:"p50_vs_floor"`
	P99VsFloor    float64 `json:"p99_vs_floor"`
	P50MinusFloor float64 `json:"p50_minus_floor_us"`
}

// Goal is one target of the issue, measured.
type Goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// Scale holds the scale checks.
type Scale struct {
	Rules      []*ScalePoint `json:"rules,omitempty"`
	Reputation []*ScalePoint `json:"reputation,omitempty"`
	Plugins    []*ScalePoint `json:"plugins,omitempty"`
	// DecisionLog: the sidecar with every plugin, with and without its
	// decision log.
	DecisionLog []*ScalePoint `json:"decision_log,omitempty"`
	// OpenRate is the offered rate of every scale point's open loop.
	OpenRate float64 `json:"open_rate"`
}

// ScalePoint is one target at one setting of a scale check.
type ScalePoint struct {
	Target       string      `json:"target"`
	Rules        int         `json:"rules"`
	StateKeys    int         `json:"state_keys"`
	State        *StateInfo  `json:"state,omitempty"`
	Plugins      []string    `json:"plugins"`
	DecisionLog  bool        `json:"decision_log"`
	StartSeconds float64     `json:"start_seconds"`
	IdleRSSBytes int64       `json:"idle_rss_bytes"`
	Closed       *LoadResult `json:"closed,omitempty"`
	Open         *LoadResult `json:"open,omitempty"`
	Error        string      `json:"error,omitempty"`
}

func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return math.Round(a/b*1000) / 1000
}

func (r *Results) target(name string) *TargetResult {
	for _, t := range r.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// computeRatios fills Ratios and Goals from the main comparison (and, once
// they ran, the profile's steps, the scale checks and the in-process
// benchmarks).
func (r *Results) computeRatios() {
	pdp, opa, floor := r.target("sidecar"), r.target("opa"), r.target("floor")
	if pdp == nil || pdp.Closed == nil {
		return
	}
	if opa != nil && opa.Closed != nil {
		r.Ratios.ThroughputVsOPA = ratio(pdp.Closed.Throughput, opa.Closed.Throughput)
		if pdp.Closed.Usage != nil && opa.Closed.Usage != nil {
			r.Ratios.CPUPerRequestVsOPA = ratio(pdp.Closed.Usage.CPUPerRequestUs, opa.Closed.Usage.CPUPerRequestUs)
		}
	}
	if floor != nil && floor.Closed != nil {
		r.Ratios.ThroughputVsFloor = ratio(pdp.Closed.Throughput, floor.Closed.Throughput)
	}
	r.Ratios.Open = nil // computed again once the scale checks and in-process runs are in
	for _, p := range pdp.Open {
		rr := RateRatio{Rate: p.OfferedRate}
		if o := opa.openAt(p.OfferedRate); o != nil {
			rr.OPASustained = o.Unsent == 0 && o.Errors == 0 && o.Throughput >= 0.95*o.OfferedRate
			rr.P50VsOPA, rr.P99VsOPA = ratio(p.Latency.P50, o.Latency.P50), ratio(p.Latency.P99, o.Latency.P99)
		}
		if f := floor.openAt(p.OfferedRate); f != nil {
			rr.P50VsFloor, rr.P99VsFloor = ratio(p.Latency.P50, f.Latency.P50), ratio(p.Latency.P99, f.Latency.P99)
			rr.P50MinusFloor = p.Latency.P50 - f.Latency.P50
		}
		r.Ratios.Open = append(r.Ratios.Open, rr)
	}
	r.Goals = nil
	if opa != nil && opa.Closed != nil {
		x := r.Ratios.ThroughputVsOPA
		r.Goals = append(r.Goals, Goal{Goal: "throughput at saturation ≥ 5× opa run --server",
			Measured: fmt.Sprintf("%.2f× (%.0f vs %.0f req/s, %d connections)", x, pdp.Closed.Throughput, opa.Closed.Throughput, pdp.Closed.Conns),
			Met:      x >= 5})
	}
	// p99 at the highest offered rate OPA sustained.
	var best *RateRatio
	for i := range r.Ratios.Open {
		if rr := &r.Ratios.Open[i]; rr.OPASustained && (best == nil || rr.Rate > best.Rate) {
			best = rr
		}
	}
	if best != nil {
		p, o := pdp.openAt(best.Rate), opa.openAt(best.Rate)
		r.Goals = append(r.Goals, Goal{Goal: "p99 at a fixed rate OPA sustains ≤ 1/5 of OPA's p99",
			Measured: fmt.Sprintf("%.2f× at %.0f req/s (p99 %.0f µs vs %.0f µs)", best.P99VsOPA, best.Rate, p.Latency.P99, o.Latency.P99),
			Met:      best.P99VsOPA > 0 && best.P99VsOPA <= 0.2})
	} else if opa != nil && len(pdp.Open) > 0 {
		r.Goals = append(r.Goals, Goal{Goal: "p99 at a fixed rate OPA sustains ≤ 1/5 of OPA's p99",
			Measured: "OPA sustained none of the offered rates"})
	}
	// p99 at saturation: the closed loops' tails.
	if opa != nil && opa.Closed != nil {
		x := ratio(pdp.Closed.Latency.P99, opa.Closed.Latency.P99)
		r.Goals = append(r.Goals, Goal{Goal: "p99 at saturation no worse than OPA's",
			Measured: fmt.Sprintf("%.2f× (p99 %.0f µs vs %.0f µs, closed loop, %d connections)", x, pdp.Closed.Latency.P99, opa.Closed.Latency.P99, pdp.Closed.Conns),
			Met:      x > 0 && x <= 1})
	}
	// p50 at the lowest offered rate against floor p50 + in-process time.
	if len(pdp.Open) > 0 && floor != nil {
		p := pdp.Open[0]
		if f := floor.openAt(p.OfferedRate); f != nil && p.TookUs != nil {
			bound := 2 * (f.Latency.P50 + p.TookUs.P50)
			r.Goals = append(r.Goals, Goal{Goal: "p50 within 2× of (floor p50 + in-process decision time)",
				Measured: fmt.Sprintf("p50 %.0f µs vs bound %.0f µs = 2 × (floor %.0f + took_us p50 %.0f) at %.0f req/s",
					p.Latency.P50, bound, f.Latency.P50, p.TookUs.P50, p.OfferedRate),
				Met: p.Latency.P50 <= bound})
		}
	}
	r.Goals = append(r.Goals, r.costGoals(pdp)...)
}

// costGoals are the goals on CPU per decision (the sidecar's closed loop
// against the in-process decision, the decision log's step in the
// profile), the in-process decision's time, and the rule scale check; each
// is left out when its measurement was not part of the run.
func (r *Results) costGoals(pdp *TargetResult) []Goal {
	var goals []Goal
	ip := r.inProcess("optimized")
	if u := pdp.Closed.Usage; ip != nil && u != nil && u.CPUPerRequestUs > 0 && ip.CPUNsOp > 0 {
		inUs := ip.CPUNsOp / 1e3
		goals = append(goals, Goal{Goal: "sidecar CPU per decision ≤ 2× the in-process decision's CPU",
			Measured: fmt.Sprintf("%.1f× (%.1f µs per decision in the closed loop, side calls' CPU included, vs %.1f µs in process, BenchmarkDecidePath/optimized cpu-ns/op)",
				u.CPUPerRequestUs/inUs, u.CPUPerRequestUs, inUs),
			Met: u.CPUPerRequestUs <= 2*inUs})
	}
	for _, st := range r.Steps {
		if st.Step == stepDecisionLog {
			goals = append(goals, Goal{Goal: "decision log ≤ 10 µs of CPU per decision",
				Measured: fmt.Sprintf("%.1f µs (its step in the sidecar's profile: rendering, masking, writing)", st.PerDecisionUs),
				Met:      st.PerDecisionUs <= 10})
		}
	}
	if ip != nil {
		goals = append(goals, Goal{Goal: "in-process decision ≤ 20 µs median",
			Measured: fmt.Sprintf("%.1f µs (BenchmarkDecidePath/optimized, median of %d runs; %.1f µs CPU, %.0f allocs)", ip.NsOp/1e3, ip.Runs, ip.CPUNsOp/1e3, ip.AllocsOp),
			Met:      ip.NsOp <= 20e3})
	}
	var lo, hi *ScalePoint
	for _, p := range r.Scale.Rules {
		if p.Target != "sidecar" || p.Closed == nil || p.Open == nil || p.Open.TookUs == nil {
			continue
		}
		if lo == nil || p.Rules < lo.Rules {
			lo = p
		}
		if hi == nil || p.Rules > hi.Rules {
			hi = p
		}
	}
	if lo != nil && hi != lo {
		took := ratio(hi.Open.TookUs.P50, lo.Open.TookUs.P50)
		tput := ratio(lo.Closed.Throughput, hi.Closed.Throughput)
		goals = append(goals, Goal{Goal: fmt.Sprintf("%d rules within 2× of %d", hi.Rules, lo.Rules),
			Measured: fmt.Sprintf("took_us p50 %.2f× (%.0f vs %.0f µs), closed-loop throughput %.2f× lower (%.0f vs %.0f req/s)",
				took, hi.Open.TookUs.P50, lo.Open.TookUs.P50, tput, hi.Closed.Throughput, lo.Closed.Throughput),
			Met: took <= 2 && tput <= 2})
	}
	return goals
}

// inProcess is the in-process benchmark named name, if it ran.
func (r *Results) inProcess(name string) *InProcess {
	for i := range r.InProcess {
		if r.InProcess[i].Name == name {
			return &r.InProcess[i]
		}
	}
	return nil
}

// outcomeNote explains a difference in outcome shares between the sidecar
// and OPA: the sidecar's velocity windows, freezes and state are real
// (with the Zipf mix they fill up as the run replays it, the head's
// accounts sending far more per minute than a person does), while OPA
// gets quiet windows in its input. It names the sidecar's most frequent
// step_up/deny reasons.
func (r *Results) outcomeNote() string {
	pdp, opa := r.target("sidecar"), r.target("opa")
	if pdp == nil || opa == nil || pdp.Closed == nil || opa.Closed == nil {
		return ""
	}
	share := func(l *LoadResult, o string) float64 {
		var n int64
		for _, v := range l.Outcomes {
			n += v
		}
		if n == 0 {
			return 0
		}
		return 100 * float64(l.Outcomes[o]) / float64(n)
	}
	type kv struct {
		k string
		v int64
	}
	var top []kv
	for k, v := range pdp.Closed.Reasons {
		top = append(top, kv{k, v})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].v > top[j].v || top[i].v == top[j].v && top[i].k < top[j].k })
	var parts []string
	for _, t := range top[:min(len(top), 5)] {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", t.k, 100*float64(t.v)/float64(max(pdp.Closed.Requests, 1))))
	}
	if r.Setup.Mix.Kind == MixPopulation {
		return fmt.Sprintf("Outcomes on the population's traffic, closed loop: sidecar deny %.1f%% / step_up %.1f%%, OPA deny %.1f%% / step_up %.1f%%. "+
			"The sidecar plays the population's sessions (accounts in turn, step-ups answered and retried, orders then payments) "+
			"with its own state, velocity windows, freezes and habits; OPA gets the first attempt of each decision with quiet velocity "+
			"windows and representative scores in its input. The sidecar's most frequent first reasons: %s.",
			share(pdp.Closed, "deny"), share(pdp.Closed, "step_up"), share(opa.Closed, "deny"), share(opa.Closed, "step_up"), strings.Join(parts, ", "))
	}
	return fmt.Sprintf("Outcomes on the same mix, closed loop: sidecar deny %.1f%% / step_up %.1f%%, OPA deny %.1f%% / step_up %.1f%%. "+
		"The sidecar's velocity windows, freezes and habits are real and fill up as the run replays the mix in seconds "+
		"(the Zipf head's accounts send far more per minute than a person can), so its hot accounts hit the velocity "+
		"limits and get frozen (a durable state write); OPA gets quiet velocity windows in its input. "+
		"The sidecar's most frequent first reasons: %s.",
		share(pdp.Closed, "deny"), share(pdp.Closed, "step_up"), share(opa.Closed, "deny"), share(opa.Closed, "step_up"), strings.Join(parts, ", "))
}
