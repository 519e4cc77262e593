package bench

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// InProcess is an in-process benchmark of the decision (the sidecar's
// BenchmarkDecidePath, run by `go test` in the repository), the median of
// its runs.
type InProcess struct {
	Name     string  `json:"name"`
	Runs     int     `json:"runs"`
	NsOp     float64 `json:"ns_per_op"`
	CPUNsOp  float64 `json:"cpu_ns_per_op"`
	AllocsOp float64 `json:"allocs_per_op"`
}

// inProcessBenchmarks are the sub-benchmarks of BenchmarkDecidePath the
// goals read: the decision as the default configuration makes it, with
// state and velocity, with plugins, and OPA embedded as a library.
var inProcessBenchmarks = []string{"optimized", "state+velocity", "plugins", "opa-embedded"}

// inProcessPackage holds BenchmarkDecidePath.
const inProcessPackage = "./pdp/internal/server/"

// RunInProcess runs BenchmarkDecidePath's sub-benchmarks count times each
// for benchtime in the repository at root and returns their medians.
func RunInProcess(ctx context.Context, root string, count int, benchtime string) ([]InProcess, error) {
	subs := make([]string, len(inProcessBenchmarks))
	for i, s := range inProcessBenchmarks {
		subs[i] = regexp.QuoteMeta(s)
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkDecidePath$/^("+strings.Join(subs, "|")+")$",
		"-benchtime", benchtime, "-count", strconv.Itoa(count), inProcessPackage)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench BenchmarkDecidePath: %w\n%s", err, out)
	}
	return parseBenchOutput(string(out))
}

// parseBenchOutput reads `go test -bench` lines of BenchmarkDecidePath's
// sub-benchmarks (ns/op, cpu-ns/op, allocs/op) and returns the median of
// each, in inProcessBenchmarks' order.
func parseBenchOutput(out string) ([]InProcess, error) {
	type runs struct{ ns, cpu, allocs []float64 }
	by := map[string]*runs{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkDecidePath/") {
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkDecidePath/")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		r := by[name]
		if r == nil {
			r = &runs{}
			by[name] = r
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.ns = append(r.ns, v)
			case "cpu-ns/op":
				r.cpu = append(r.cpu, v)
			case "allocs/op":
				r.allocs = append(r.allocs, v)
			}
		}
	}
	var res []InProcess
	for _, name := range inProcessBenchmarks {
		r := by[name]
		if r == nil || len(r.ns) == 0 {
			return nil, fmt.Errorf("BenchmarkDecidePath/%s: no result in the output:\n%s", name, out)
		}
		res = append(res, InProcess{Name: name, Runs: len(r.ns), NsOp: median(r.ns), CPUNsOp: median(r.cpu), AllocsOp: median(r.allocs)})
	}
	return res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
