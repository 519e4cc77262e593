package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// The README section between these markers is replaced by every run.
const (
	beginMarker = "<!-- bench:results:begin -->"
	endMarker   = "<!-- bench:results:end -->"
)

// UpdateReadme replaces the text between the markers in the file at path
// with summary.
func UpdateReadme(path, summary string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := replaceBetween(b, summary)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}

func replaceBetween(b []byte, summary string) ([]byte, error) {
	i := bytes.Index(b, []byte(beginMarker))
	j := bytes.Index(b, []byte(endMarker))
	if i < 0 || j < i {
		return nil, errors.New("no " + beginMarker + " … " + endMarker + " section")
	}
	var out bytes.Buffer
	out.Write(b[:i+len(beginMarker)])
	out.WriteString("\n")
	out.WriteString(strings.TrimSpace(summary))
	out.WriteString("\n")
	out.Write(b[j:])
	return out.Bytes(), nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func lat(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func shares(m map[string]int64) string {
	var total int64
	for _, v := range m {
		total += v
	}
	if total == 0 {
		return "–"
	}
	var parts []string
	for _, k := range []string{"allow", "step_up", "deny"} {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", k, 100*float64(m[k])/float64(total)))
	}
	return strings.Join(parts, " / ")
}

func yes(b bool) string {
	if b {
		return "**yes**"
	}
	return "no"
}

// Summary renders the results as Markdown; out is the results directory
// relative to the README.
func Summary(r *Results, out string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	w("Run of %s, %.0f s: `%s`", r.Started.Format("2006-01-02 15:04 MST"), r.Seconds, r.Command)
	if r.Smoke {
		w(" (**smoke mode**: phases of about a second, not a measurement)")
	}
	w(".\nMachine: %s, %d cores, %.0f GiB, Linux %s, %s; load average %s at the start, %s at the end.\n",
		m.CPU, m.Cores, float64(m.MemBytes)/(1<<30), m.Kernel, m.Go, m.LoadAvg, m.LoadAvgEnd)
	var vs []string
	for k, v := range r.Versions {
		vs = append(vs, k+" "+v)
	}
	sort.Strings(vs)
	w("Versions: %s. Results: [`results.json`](%s/results.json).\n\n", strings.Join(vs, ", "), out)
	s := r.Setup
	if s.Mix.Kind == MixPopulation {
		w("Setup: population mix: the sidecar plays the sessions of %d simulated customers in turn (pdp/sim: orders then payments, step-ups answered and retried, account events; its state primed with their history), OPA and the floor get the first %d decide requests of those sessions (%s)",
			s.Mix.UIDs, s.Mix.Size, s.MixOutcomes)
	} else {
		w("Setup: %s mix, %d requests over %d UIDs (%s)", s.Mix.Kind, s.Mix.Size, s.Mix.UIDs, s.MixOutcomes)
	}
	w("; closed loop %d connections, open loops %d connections, %.0f s phases after %.0f s warm-up, the sidecar's open loops each after %.0f s at their rate with its sessions restarted; policy %d rules; sidecar state %d block-list keys, plugins %s, decision log %s.\n\n",
		s.ClosedConns, s.OpenConns, s.PhaseSeconds, s.WarmupSeconds, s.SettleSeconds,
		s.Rules, s.StateKeys, strings.Join(s.Plugins, ", "), map[bool]string{true: "on", false: "off (" + s.DecisionLogNote + ")"}[s.DecisionLog])

	if len(r.Goals) > 0 {
		w("| goal (issues 6 and 20) | measured | met |\n|---|---|---|\n")
		for _, g := range r.Goals {
			w("| %s | %s | %s |\n", g.Goal, g.Measured, yes(g.Met))
		}
		w("\n")
	}
	if len(r.InProcess) > 0 {
		w("**In process** (`BenchmarkDecidePath`, run by the harness after the targets; median of %d runs):\n\n", r.InProcess[0].Runs)
		w("| benchmark | µs/op | CPU µs/op | allocs/op |\n|---|---|---|---|\n")
		for _, b := range r.InProcess {
			w("| %s | %.1f | %.1f | %.0f |\n", b.Name, b.NsOp/1e3, b.CPUNsOp/1e3, b.AllocsOp)
		}
		w("\n")
	}
	w("**Closed loop** (max throughput; latency from send):\n\n")
	w("| target | req/s | p50 | p90 | p99 | p99.9 | max | server CPU | CPU/req | RSS idle → load (MiB) | start | outcomes | errors |\n")
	w("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		c := t.Closed
		if c == nil {
			continue
		}
		u := usageOf(c)
		w("| %s | %.0f | %s | %s | %s | %s | %s | %.2f cores | %.1f µs | %s → %s | %.1f s | %s | %d |\n",
			t.Name, c.Throughput, lat(c.Latency.P50), lat(c.Latency.P90), lat(c.Latency.P99), lat(c.Latency.P999), lat(c.Latency.Max),
			u.Cores, u.CPUPerRequestUs, mib(t.IdleRSSBytes), mib(u.RSSMaxBytes), t.StartSeconds, shares(c.Outcomes), c.Errors)
	}
	w("\nRatios: sidecar throughput %.2f× OPA's, %.2f× the floor's; sidecar CPU per request %.2f× OPA's.\n\n",
		r.Ratios.ThroughputVsOPA, r.Ratios.ThroughputVsFloor, r.Ratios.CPUPerRequestVsOPA)
	if pdp := r.target("sidecar"); pdp != nil && pdp.Closed != nil && pdp.Closed.Sessions > 0 {
		c := pdp.Closed
		side := "–"
		if c.SideLatency != nil {
			side = fmt.Sprintf("p50 %s, p99 %s", lat(c.SideLatency.P50), lat(c.SideLatency.P99))
		}
		w("The sidecar's closed loop started %d sessions and answered %d verifications and account events besides its %d decisions (their latency: %s; req/s counts decisions).\n\n",
			c.Sessions, c.SideCalls, c.Requests, side)
	}

	if pdp := r.target("sidecar"); pdp != nil && len(pdp.Open) > 0 {
		w("**Open loop** (fixed offered rate; latency from the intended send time, corrected for coordinated omission):\n\n")
		w("| offered | target | answered/s | p50 | p90 | p99 | p99.9 | max | unsent | CPU | sidecar took_us p50 / p99 | side calls/s |\n")
		w("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, o := range pdp.Open {
			for _, t := range r.Targets {
				x := t.openAt(o.OfferedRate)
				if x == nil {
					continue
				}
				took, side := "–", "–"
				if x.TookUs != nil && t.Name == "sidecar" {
					took = fmt.Sprintf("%.0f / %.0f µs", x.TookUs.P50, x.TookUs.P99)
				}
				if x.Sessions > 0 || x.SideCalls > 0 {
					side = fmt.Sprintf("%.0f", float64(x.SideCalls)/x.Seconds)
				}
				w("| %.0f/s | %s | %.0f | %s | %s | %s | %s | %s | %d | %.2f cores | %s | %s |\n", o.OfferedRate, t.Name, x.Throughput,
					lat(x.Latency.P50), lat(x.Latency.P90), lat(x.Latency.P99), lat(x.Latency.P999), lat(x.Latency.Max), x.Unsent, usageOf(x).Cores, took, side)
			}
		}
		w("\n| offered | OPA sustained | sidecar p50 / OPA | sidecar p99 / OPA | sidecar p50 / floor | sidecar p50 − floor |\n|---|---|---|---|---|---|\n")
		for _, rr := range r.Ratios.Open {
			w("| %.0f/s | %s | %.2f | %.2f | %.2f | %.0f µs |\n", rr.Rate, yes(rr.OPASustained), rr.P50VsOPA, rr.P99VsOPA, rr.P50VsFloor, rr.P50MinusFloor)
		}
		w("\n")
	}
	w("![latency percentiles](%s/%s)\n\n![throughput and CPU per request](%s/%s)\n\n", out, LatencyChart, out, ThroughputChart)
	scaleSummary(&b, r, out)
	if len(r.Profiles) > 0 {
		var ps []string
		for _, k := range []string{"sidecar", "opa", "floor"} {
			if p, ok := r.Profiles[k]; ok {
				ps = append(ps, fmt.Sprintf("[%s](%s/%s)", k, out, p))
			}
		}
		where := "under the closed loop"
		if pr := r.ProfileRun; pr != nil && pr.Mode == "open" {
			where = fmt.Sprintf("at %.0f req/s offered (open loop)", pr.OfferedRate)
		}
		w("CPU profiles %s (`go tool pprof -top <file>`): %s.\n\n", where, strings.Join(ps, ", "))
	}
	if pr := r.ProfileRun; pr != nil && len(r.Steps) > 0 {
		w("**Where the sidecar's CPU goes**, per step of a request (its profile above, %d decisions and %d side calls in %.0f s; "+
			"a sample belongs to the step of its innermost frame that names one, so allocation and GC assists count where they were made; "+
			"side calls per side call, start-up not per request):\n\n", pr.Requests, pr.SideCalls, pr.Seconds)
		w("| step | what | CPU | share | per decision |\n|---|---|---|---|---|\n")
		for _, st := range r.Steps {
			per := fmt.Sprintf("%.1f µs", st.PerDecisionUs)
			switch st.Step {
			case stepStartUp:
				per = "–"
			case stepSideCalls:
				per += " per side call"
			}
			w("| %s | %s | %.2f s | %.1f%% | %s |\n", st.Step, st.What, st.CPUSeconds, st.Share*100, per)
		}
		w("\n")
	}
	for _, n := range r.Notes {
		w("- %s\n", n)
	}
	return b.String()
}

func scaleSummary(b *strings.Builder, r *Results, out string) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	sc := r.Scale
	if len(sc.Rules)+len(sc.Reputation)+len(sc.Plugins)+len(sc.DecisionLog) == 0 {
		return
	}
	w("**Scale checks** (closed loop %d connections, then open loop at %.0f req/s; %.0f s each):\n\n", r.Setup.ClosedConns, sc.OpenRate, r.Setup.ScaleSeconds)
	w("| check | target | setting | start | closed req/s | open p50 | open p99 | took_us p50 | RSS idle → load (MiB) | outcomes |\n")
	w("|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(check, setting string, p *ScalePoint) {
		if p.Error != "" {
			w("| %s | %s | %s | failed: %.120s | | | | | | |\n", check, p.Target, setting, strings.ReplaceAll(p.Error, "\n", " "))
			return
		}
		closed, p50, p99, took, outcomes := "–", "–", "–", "–", "–"
		var rssLoad int64
		if p.Closed != nil {
			closed = fmt.Sprintf("%.0f", p.Closed.Throughput)
			rssLoad = usageOf(p.Closed).RSSMaxBytes
			outcomes = shares(p.Closed.Outcomes)
		}
		if p.Open != nil {
			p50, p99 = lat(p.Open.Latency.P50), lat(p.Open.Latency.P99)
			if p.Open.TookUs != nil {
				took = lat(p.Open.TookUs.P50)
			}
		}
		w("| %s | %s | %s | %.1f s | %s | %s | %s | %s | %s → %s | %s |\n", check, p.Target, setting, p.StartSeconds, closed, p50, p99, took,
			mib(p.IdleRSSBytes), mib(rssLoad), outcomes)
	}
	for _, p := range sc.Rules {
		row("rules", fmt.Sprintf("%d rules", p.Rules), p)
	}
	for _, p := range sc.Reputation {
		setting := fmt.Sprintf("%d keys", p.StateKeys)
		if p.State != nil {
			setting += fmt.Sprintf(" (%.0f MiB file, loaded in %.0f s)", float64(p.State.FileBytes)/(1<<20), p.State.LoadSecs)
		}
		row("reputation", setting, p)
	}
	for _, p := range sc.Plugins {
		setting := fmt.Sprintf("%d plugin(s)", len(p.Plugins))
		if len(p.Plugins) > 0 {
			setting += " (" + strings.Join(p.Plugins, ", ") + ")"
		}
		row("plugins", setting, p)
	}
	for _, p := range sc.DecisionLog {
		row("decision log", map[bool]string{true: "on", false: "off"}[p.DecisionLog]+fmt.Sprintf(", %d plugins", len(p.Plugins)), p)
	}
	w("\n![scale checks](%s/%s)\n\n", out, ScaleChart)
}
