package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// A sample belongs to the step of its innermost frame naming one; in
// fasthttp's connection loop, to reading or writing by what it called;
// start-up is kept apart and side calls are divided by side calls.
func TestStepCosts(t *testing.T) {
	const mod = "github.com/riskpdp/riskpdp/"
	fns := map[string]*profile.Function{}
	var id uint64
	loc := func(names ...string) []*profile.Location { // leaf first
		var out []*profile.Location
		for _, n := range names {
			f := fns[n]
			if f == nil {
				id++
				f = &profile.Function{ID: id, Name: n}
				fns[n] = f
			}
			id++
			out = append(out, &profile.Location{ID: id, Line: []profile.Line{{Function: f}}})
		}
		return out
	}
	sample := func(ms int64, names ...string) *profile.Sample {
		return &profile.Sample{Value: []int64{ms, ms * 1e6}, Location: loc(names...)}
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10e6,
		Sample: []*profile.Sample{
			// an allocation while decoding: decode's
			sample(300, "runtime.mallocgc", mod+"pdp/internal/request.DecodeRequest", mod+"pdp/internal/decide.(*Service).DecideTraced", serveConn),
			// a state read inside enrich: the state's, not plan's
			sample(200, "go.etcd.io/bbolt.(*DB).View", mod+"pdp/internal/decide.(*Service).enrich", mod+"pdp/internal/decide.(*Service).plan", serveConn),
			// velocity inside enrich: velocity's
			sample(100, mod+"pdp/internal/velocity.(*Tracker).observe", mod+"pdp/internal/decide.(*Service).enrich", serveConn),
			sample(100, "syscall.write", "bufio.(*Writer).Flush", serveConn),
			sample(100, "syscall.read", "bufio.(*Reader).Peek", serveConn),
			sample(400, "syscall.write", mod+"pdp/internal/decisionlog.(*batchWriter).records", mod+"pdp/internal/decisionlog.(*Logger).run"),
			sample(100, mod+"pdp/internal/server.(*Server).outcome", serveConn),
			sample(100, "runtime.scanobject", "runtime.gcBgMarkWorker"),
			sample(50, "runtime.findRunnable", "runtime.schedule"),
			sample(900, mod+"pdp/internal/plugin.(*Set).compilePlugin", mod+"pdp/internal/plugin.buildSet", mod+"pdp/internal/cli.serve"),
		},
	}
	for _, s := range p.Sample {
		p.Location = append(p.Location, s.Location...)
	}
	for _, f := range fns {
		p.Function = append(p.Function, f)
	}
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	costs, err := StepCosts(path, 1000, 50)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]StepCost{}
	for _, c := range costs {
		got[c.Step] = c
	}
	want := map[string]float64{ // µs per decision (side calls: per side call)
		stepDecisionLog: 400, "decode": 300, "state reads": 200, "velocity": 100, stepHTTPWrite: 100,
		stepHTTPRead: 100, stepSideCalls: 2000, "GC": 100, stepOther: 50, stepStartUp: 0,
	}
	for step, us := range want {
		c, ok := got[step]
		if !ok || c.PerDecisionUs != us {
			t.Errorf("%s: %+v, want %v µs per decision", step, c, us)
		}
	}
	if len(got) != len(want) {
		t.Errorf("steps %+v", costs)
	}
	if costs[0].Step != stepDecisionLog || costs[len(costs)-1].Step != stepStartUp {
		t.Errorf("order: %+v", costs)
	}
	if s := got["decode"].Share; s < 0.2068 || s > 0.2070 { // 300 of the 1450 ms outside start-up
		t.Errorf("decode's share %v", s)
	}
	if _, err := StepCosts(path, 0, 0); err == nil {
		t.Error("no decisions: no error")
	}
}

func TestParseBenchOutput(t *testing.T) {
	out := `goos: linux
BenchmarkDecidePath/optimized-2         	   60000	     18000 ns/op	     24000 cpu-ns/op	    9000 B/op	     148 allocs/op
BenchmarkDecidePath/optimized-2         	   60000	     19000 ns/op	     25000 cpu-ns/op	    9000 B/op	     148 allocs/op
BenchmarkDecidePath/optimized-2         	   60000	     30000 ns/op	     40000 cpu-ns/op	    9000 B/op	     148 allocs/op
BenchmarkDecidePath/state+velocity-2    	   30000	     40000 ns/op	     50000 cpu-ns/op	    9000 B/op	     160 allocs/op
BenchmarkDecidePath/plugins-2           	   30000	     30000 ns/op	     33000 cpu-ns/op	    9000 B/op	     156 allocs/op
BenchmarkDecidePath/opa-embedded-2      	    5000	    220000 ns/op	    280000 cpu-ns/op	    9000 B/op	     683 allocs/op
PASS
`
	res, err := parseBenchOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || res[0].Name != "optimized" || res[0].Runs != 3 || res[0].NsOp != 19000 || res[0].CPUNsOp != 25000 || res[0].AllocsOp != 148 {
		t.Fatalf("%+v", res)
	}
	if res[3].Name != "opa-embedded" || res[3].NsOp != 220000 {
		t.Fatalf("%+v", res[3])
	}
	if _, err := parseBenchOutput("BenchmarkDecidePath/optimized-2 1 2 ns/op\n"); err == nil {
		t.Fatal("missing benchmarks: no error")
	}
}

// parseBenchOutput never panics and reports only benchmarks whose lines it
// was given, each with a positive number of runs.
func FuzzParseBenchOutput(f *testing.F) {
	f.Add("BenchmarkDecidePath/optimized-2 \t 100 \t 16000 ns/op \t 17000 cpu-ns/op \t 148 allocs/op\n")
	f.Add("BenchmarkDecidePath/plugins-2 1 x ns/op NaN cpu-ns/op\nBenchmarkDecidePath/-2 1 1 ns/op")
	f.Fuzz(func(t *testing.T, out string) {
		res, err := parseBenchOutput(out)
		if err != nil {
			return
		}
		for _, b := range res {
			if b.Runs <= 0 || !strings.Contains(out, "BenchmarkDecidePath/"+b.Name) {
				t.Fatalf("%+v from %q", b, out)
			}
		}
	})
}
