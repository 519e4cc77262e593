// Command pdpbench runs the load harness of package bench: the sidecar,
// `opa run --server` (pinned in the root go.mod) and the no-op fasthttp floor, one
// after another on loopback with the same request mix (-mix population,
// the simulator's customers, by default; -mix zipf, the stress case),
// closed and open loops, then the scale checks. It writes results.json,
// the charts and the CPU profiles to -out and the summary table into
// -readme.
//
// It runs from the harness's own module, bench/ (-root .. by default):
//
//	cd bench && go run ./cmd/pdpbench                    # full run (make bench)
//	cd bench && go run ./cmd/pdpbench -smoke -readme ''  # smoke run (make bench-smoke)
//	cd bench && go run ./cmd/pdpbench -mix zipf          # the stress mix
//
// Every run ends with a sanity check of its numbers (every target
// answered, no errors, percentiles ordered, the mix produced allow,
// step_up and deny); a failed check exits 1. It never checks speed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/riskpdp/riskpdp/bench"
)

func main() { os.Exit(run()) }

func run() int {
	var o bench.Options
	var rates, fractions, rules, keys, plugins string
	flag.StringVar(&o.Root, "root", "..", "repository root (holds the sidecar's go.mod, policies/, plugins/; the harness is its bench/ module)")
	flag.StringVar(&o.Work, "work", "", "scratch directory (default: a temporary directory, removed afterwards)")
	flag.StringVar(&o.Out, "out", "results", "directory for results.json, charts and profiles")
	flag.StringVar(&o.Readme, "readme", "README.md", "README whose results section gets the summary ('' for none)")
	flag.BoolVar(&o.Smoke, "smoke", false, "short run at the smallest scale points: proves the harness works")
	flag.StringVar(&o.Mix.Kind, "mix", bench.MixPopulation, "request mix: population (the simulator's customers and fraud, sessions at human rates) or zipf (the stress case: Zipf-distributed accounts replayed faster than people pay)")
	flag.IntVar(&o.Mix.UIDs, "accounts", 0, "accounts of the mix (default 200000; smoke 20000)")
	flag.IntVar(&o.ClosedConns, "closed-conns", 0, "closed-loop connections (default 8)")
	flag.IntVar(&o.OpenConns, "open-conns", 0, "open-loop connections (default 32)")
	flag.DurationVar(&o.Phase, "phase", 0, "duration of each main phase (default 10s, smoke 1s)")
	flag.DurationVar(&o.Warmup, "warmup", 0, "warm-up before a target's first phase (default 3s)")
	flag.DurationVar(&o.Settle, "settle", 0, "unmeasured run of the sidecar at an open loop's rate, its sessions restarted, before the loop (default 60s; scale points: the scale phase)")
	flag.DurationVar(&o.ScalePhase, "scale-phase", 0, "duration of each scale-check phase (default 5s)")
	flag.StringVar(&fractions, "rate-fractions", "", "open-loop rates as fractions of OPA's closed-loop throughput (default 0.1,0.25,0.5)")
	flag.StringVar(&rates, "rates", "", "additional fixed open-loop rates, req/s")
	flag.StringVar(&rules, "rules", "", "rule-count scale factors (default 1,10,100)")
	flag.StringVar(&keys, "state-keys", "", "reputation store sizes (default 10000,100000,1000000)")
	flag.StringVar(&plugins, "plugins", "", "plugin counts (default 0,1,2,3,4)")
	flag.BoolVar(&o.NoScale, "no-scale", false, "skip the scale checks")
	flag.BoolVar(&o.Profile, "profile", false, "capture a CPU profile per target (always on in full runs)")
	flag.Float64Var(&o.ProfileRate, "profile-rate", 0, "profile each target under an open loop at this offered rate, req/s, instead of the closed loop")
	flag.Parse()
	if !o.Smoke {
		o.Profile = true
	}
	var err error
	for _, f := range []struct {
		s   string
		dst any
	}{{fractions, &o.RateFractions}, {rates, &o.Rates}, {rules, &o.RuleFactors}, {keys, &o.StateKeys}, {plugins, &o.PluginCounts}} {
		if err == nil && f.s != "" {
			err = parseList(f.s, f.dst)
		}
	}
	if err != nil {
		return fail(err)
	}
	if o.Root, err = filepath.Abs(o.Root); err != nil {
		return fail(err)
	}
	if o.Work == "" {
		if o.Work, err = os.MkdirTemp("", "pdpbench-"); err != nil {
			return fail(err)
		}
		defer os.RemoveAll(o.Work)
	}
	o.Command = "pdpbench " + strings.Join(os.Args[1:], " ")
	o.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	res, err := bench.RunSuite(ctx, o)
	if err != nil {
		return fail(err)
	}
	if err := bench.Check(res); err != nil {
		return fail(fmt.Errorf("sanity check failed: %w", err))
	}
	for _, g := range res.Goals {
		fmt.Fprintf(os.Stderr, "goal: %-58s %s  met=%v\n", g.Goal, g.Measured, g.Met)
	}
	fmt.Fprintf(os.Stderr, "pdpbench: done in %.0fs; results in %s\n", time.Since(t0).Seconds(), o.Out)
	return 0
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "pdpbench:", err)
	return 1
}

// parseList parses a comma-separated list into *[]int or *[]float64.
func parseList(s string, dst any) error {
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch d := dst.(type) {
		case *[]int:
			v, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
			if err != nil {
				return fmt.Errorf("list %q: %w", s, err)
			}
			*d = append(*d, v)
		case *[]float64:
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return fmt.Errorf("list %q: %w", s, err)
			}
			*d = append(*d, v)
		}
	}
	return nil
}
