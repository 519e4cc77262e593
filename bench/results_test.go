package bench

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestReadProc(t *testing.T) {
	p, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSSBytes <= 0 {
		t.Fatalf("%+v", p)
	}
	if _, err := parseStat([]byte("1 (a) b) S 0")); err == nil {
		t.Fatal("short stat parsed")
	}
	cpu, err := parseStat([]byte("42 (my prog) S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0"))
	if err != nil || cpu != 3*time.Second {
		t.Fatalf("cpu %v, %v", cpu, err)
	}
}

// The results pipeline on real loads: three loopback targets (this
// process serves them), ratios, the sanity check, charts and the README
// summary.
func TestResultsPipeline(t *testing.T) {
	answers := map[string]string{
		"sidecar": `{"outcome":"%s","reasons":["r"],"took_us":40}`,
		"opa":     `{"result":{"outcome":"%s","reasons":["r"]}}`,
		"floor":   string(floorAnswer),
	}
	r := &Results{Started: time.Now().UTC(), Command: "test", Machine: readMachine(), Versions: map[string]string{"opa": "test"}}
	for _, name := range []string{"sidecar", "opa", "floor"} {
		var n atomic.Int64
		addr := serve(t, func(ctx *fasthttp.RequestCtx) {
			k := n.Add(1)
			if name == "floor" {
				FloorHandler(ctx)
				return
			}
			o := []string{"allow", "allow", "step_up", "deny"}[k%4]
			ctx.SetBodyString(strings.Replace(answers[name], "%s", o, 1))
		})
		body := [][]byte{[]byte(`{}`)}
		load := func(rate float64) *LoadResult {
			smp := startSampler(os.Getpid())
			res, err := Run(Load{Addr: addr, Path: "/", Bodies: body, Conns: 2, Duration: 300 * time.Millisecond, Rate: rate})
			if err != nil {
				t.Fatal(err)
			}
			u := smp.finish(res.Requests)
			res.Usage = &u
			return res
		}
		tr := &TargetResult{Name: name, IdleRSSBytes: 1 << 20, Closed: load(0)}
		tr.Open = append(tr.Open, load(1000)) // enough requests that the CPU they cost is above the clock tick
		r.Targets = append(r.Targets, tr)
	}
	for _, name := range inProcessBenchmarks {
		r.InProcess = append(r.InProcess, InProcess{Name: name, Runs: 1, NsOp: 20e3, CPUNsOp: 25e3, AllocsOp: 150})
	}
	r.computeRatios()
	// throughput, p99 at a rate OPA sustains, p99 at saturation, p50 against
	// the floor, CPU per decision, the in-process decision
	if r.Ratios.ThroughputVsOPA <= 0 || len(r.Ratios.Open) != 1 || len(r.Goals) != 6 {
		t.Fatalf("ratios %+v goals %+v", r.Ratios, r.Goals)
	}
	if err := Check(r); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteCharts(r, dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{LatencyChart, ThroughputChart} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !strings.Contains(string(b), "<svg") {
			t.Fatalf("%s: %v", f, err)
		}
	}
	s := Summary(r, "results")
	for _, want := range []string{"| sidecar |", "| opa |", "| floor |", "Ratios: sidecar throughput", "results/latency.svg"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	// A target that failed every request fails the check.
	r.Targets[1].Closed.Errors = 3
	if err := Check(r); err == nil || !strings.Contains(err.Error(), "opa closed: 3 errors") {
		t.Fatalf("Check: %v", err)
	}
}

// TestLoadNote: only the load before the run marks it as shared; the
// run's own load at the end does not.
func TestLoadNote(t *testing.T) {
	for _, c := range []struct {
		start, end string
		want       bool
	}{{"0.20", "2.16", false}, {"2.00", "1.00", false}, {"3.10", "2.50", true}, {"", "9", false}} {
		got := loadNote(Machine{Cores: 2, LoadAvg: c.start, LoadAvgEnd: c.end}) != ""
		if got != c.want {
			t.Errorf("load %s → %s: note = %v, want %v", c.start, c.end, got, c.want)
		}
	}
}
