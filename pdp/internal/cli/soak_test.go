package cli

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
)

// TestSoak runs a real `pdp serve` with the full configuration (risk
// state, velocity, the operator API, the decision log, the three Go
// example plugins) at 70 % of the saturation it measures first, for
// SOAK_DURATION (default 15 s, `make soak` runs 10 m), and checks, window by
// window: no errors, goroutines not growing, p99 stable, and (on runs of
// 5 minutes or more) anonymous resident memory flat. With SOAK_OUT set it writes soak.csv and soak.svg there.
func TestSoak(t *testing.T) {
	duration := 15 * time.Second
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		duration = d
	}
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	os.Mkdir(plugins, 0o755)
	for _, ex := range []string{"model", "device", "habit"} {
		src := filepath.Join("..", "..", "..", "plugins", "examples", ex)
		manifest, err := os.ReadFile(filepath.Join(src, "manifest.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		name := regexp.MustCompile(`(?m)^name:\s*(\S+)`).FindSubmatch(manifest)[1]
		wasm, err := os.ReadFile(plugintest.BuildGo(t, "plugins/examples/"+ex))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(plugins, string(name)+".wasm"), wasm, 0o644)
		os.WriteFile(filepath.Join(plugins, string(name)+".yaml"), manifest, 0o644)
	}
	cfg := filepath.Join(dir, "pdp.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("plugins:\n  dir: %s\ndecision_log:\n  path: %s\n  max_size_mib: 16\n  max_backups: 2\n",
		plugins, filepath.Join(dir, "log", "decisions.log"))), 0o644)
	p := startProc(t, dir, freeAddr(t), freeAddr(t), "--config", cfg)

	bodies := []string{allowBody, stepUpBody, denyBody}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	call := func() (time.Duration, bool) {
		b := bodies[rand.IntN(len(bodies))]
		b = strings.Replace(b, `"uid":"u-`, fmt.Sprintf(`"uid":"s%d-`, rand.IntN(5000)), 1)
		start := time.Now()
		resp, err := client.Post(p.url+"/v1/decide", "application/json", strings.NewReader(b))
		if err != nil {
			return 0, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode == 200
	}

	// Saturation: 8 callers as fast as they can for 3 s.
	var done atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(3 * time.Second)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if _, ok := call(); ok {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	saturation := float64(done.Load()) / 3
	rate := 0.7 * saturation
	t.Logf("saturation %.0f decisions/s; soaking at %.0f/s for %v", saturation, rate, duration)

	// Open loop at the target rate, measured in windows.
	type window struct {
		at                 time.Duration
		n, errors, late    int
		p50, p99           time.Duration
		rssMiB, goroutines float64
		anonMiB, fileMiB   float64 // RSS split: allocated vs mapped files (the bbolt state)
		stateMiB           float64 // size of the state file
		heapMiB            float64 // Go heap in use (live and not yet collected)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs, late atomic.Int64
	jobs := make(chan struct{}, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				d, ok := call()
				if !ok {
					errs.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	windowLen := max(duration/30, time.Second)
	var windows []window
	start := time.Now()
	next := start
	interval := time.Duration(float64(time.Second) / rate)
	nextWindow := start.Add(windowLen)
	for time.Since(start) < duration {
		now := time.Now()
		for !next.After(now) {
			select {
			case jobs <- struct{}{}:
			default:
				late.Add(1) // every caller busy: the machine cannot keep up
			}
			next = next.Add(interval)
		}
		if !now.Before(nextWindow) {
			mu.Lock()
			l := lat
			lat = nil
			mu.Unlock()
			slices.Sort(l)
			w := window{at: now.Sub(start), n: len(l), errors: int(errs.Swap(0)), late: int(late.Swap(0))}
			if len(l) > 0 {
				w.p50, w.p99 = l[len(l)/2], l[len(l)*99/100]
			}
			w.rssMiB, w.anonMiB, w.fileMiB = rssMiB(p.cmd.Process.Pid)
			if fi, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
				w.stateMiB = float64(fi.Size()) / (1 << 20)
			}
			w.goroutines = scrape(p.url, "go_goroutines")
			w.heapMiB = scrape(p.url, "go_memstats_heap_inuse_bytes") / (1 << 20)
			windows = append(windows, w)
			nextWindow = nextWindow.Add(windowLen)
		}
		time.Sleep(time.Until(next))
	}
	close(jobs)
	wg.Wait()

	if out := os.Getenv("SOAK_OUT"); out != "" {
		os.MkdirAll(out, 0o755)
		var csv strings.Builder
		csv.WriteString("seconds,decisions,errors,late,p50_us,p99_us,rss_mib,rss_anon_mib,rss_file_mib,state_file_mib,heap_inuse_mib,goroutines\n")
		for _, w := range windows {
			fmt.Fprintf(&csv, "%.0f,%d,%d,%d,%d,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.0f\n", w.at.Seconds(), w.n, w.errors, w.late,
				w.p50.Microseconds(), w.p99.Microseconds(), w.rssMiB, w.anonMiB, w.fileMiB, w.stateMiB, w.heapMiB, w.goroutines)
		}
		// The live heap at the end, for `go tool pprof -top bench/soak/heap.pprof`.
		if code, prof, err := p.op("GET", "/debug/pprof/heap?gc=1", ""); err == nil && code == 200 {
			os.WriteFile(filepath.Join(out, "heap.pprof"), prof, 0o644)
		} else {
			t.Logf("heap profile: %d %v", code, err)
		}
		os.WriteFile(filepath.Join(out, "soak.csv"), []byte(csv.String()), 0o644)
		xs := make([]float64, len(windows))
		p99, anon, heap, file, st, gr := make([]float64, len(windows)), make([]float64, len(windows)), make([]float64, len(windows)),
			make([]float64, len(windows)), make([]float64, len(windows)), make([]float64, len(windows))
		for i, w := range windows {
			xs[i], p99[i], anon[i], heap[i], file[i], st[i], gr[i] = w.at.Seconds(), float64(w.p99.Microseconds())/1000, w.anonMiB, w.heapMiB,
				w.fileMiB, w.stateMiB, w.goroutines
		}
		title := fmt.Sprintf("soak: %v at %.0f decisions/s (70 %% of %.0f measured), full configuration", duration, rate, saturation)
		os.WriteFile(filepath.Join(out, "soak.svg"), []byte(svgChart(title, xs,
			[]series{{"p99 latency (ms)", p99}, {"RSS anonymous (MiB)", anon}, {"Go heap in use (MiB)", heap}, {"RSS file-backed: the mapped state file (MiB)", file},
				{"state file size (MiB)", st}, {"goroutines", gr}})), 0o644)
	}

	if len(windows) < 4 {
		t.Fatalf("only %d windows", len(windows))
	}
	total, errors, lateTotal := 0, 0, 0
	for _, w := range windows {
		total, errors, lateTotal = total+w.n, errors+w.errors, lateTotal+w.late
	}
	q := len(windows) / 4
	first, last := windows[1:1+q], windows[len(windows)-q:] // window 0 is warm-up
	maxOf := func(ws []window, f func(window) float64) float64 {
		m := 0.0
		for _, w := range ws {
			m = max(m, f(w))
		}
		return m
	}
	medianOf := func(ws []window, f func(window) float64) float64 {
		v := make([]float64, len(ws))
		for i, w := range ws {
			v[i] = f(w)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rssF, rssL := medianOf(first, func(w window) float64 { return w.rssMiB }), medianOf(last, func(w window) float64 { return w.rssMiB })
	anonF, anonL := medianOf(first, func(w window) float64 { return w.anonMiB }), medianOf(last, func(w window) float64 { return w.anonMiB })
	stF, stL := first[0].stateMiB, last[len(last)-1].stateMiB
	grF, grL := maxOf(first, func(w window) float64 { return w.goroutines }), maxOf(last, func(w window) float64 { return w.goroutines })
	p99F := medianOf(first, func(w window) float64 { return float64(w.p99) })
	p99L := medianOf(last, func(w window) float64 { return float64(w.p99) })
	t.Logf("soak: %d decisions in %v, %d errors, %d late dispatches; RSS %.1f → %.1f MiB (anonymous %.1f → %.1f); state file %.1f → %.1f MiB; goroutines %.0f → %.0f; p99 %v → %v",
		total, duration, errors, lateTotal, rssF, rssL, anonF, anonL, stF, stL, grF, grL, time.Duration(p99F), time.Duration(p99L))
	if errors != 0 {
		t.Errorf("%d errors", errors)
	}
	// Memory is judged on the anonymous RSS (what the process allocates),
	// and only on runs long enough to be past warm-up (caches and velocity
	// rings filling): the file-backed part is the mapped state file, which
	// grows with the journal (see the README's Reliability section).
	if duration >= 5*time.Minute && anonL > anonF*1.25+16 {
		t.Errorf("anonymous RSS grew: %.1f → %.1f MiB", anonF, anonL)
	}
	if grL > grF+16 {
		t.Errorf("goroutines grew: %.0f → %.0f", grF, grL)
	}
	// p99 on a shared 2-core machine is noisy: only a trend of several
	// times is a finding, and only over a run long enough to have one (make
	// soak). In the 15 s run of the test suite the last windows overlap
	// other packages' tests that go test runs in parallel, so their p99
	// measures the machine (a CI run: 15 ms → 72 ms with 74 late
	// dispatches, the same build passing twice before).
	if duration >= 5*time.Minute && p99L > 4*p99F+float64(5*time.Millisecond) {
		t.Errorf("p99 drifted: %v → %v", time.Duration(p99F), time.Duration(p99L))
	}
}

// rssMiB reads a process's resident set from /proc: the total, its
// anonymous and its file-backed parts.
func rssMiB(pid int) (total, anon, file float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1, -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch key {
		case "VmRSS":
			total = kb / 1024
		case "RssAnon":
			anon = kb / 1024
		case "RssFile":
			file = kb / 1024
		}
	}
	return total, anon, file
}

// scrape reads one unlabelled sample from the sidecar's /metrics.
func scrape(url, name string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return metricValue(string(b), name)
}

type series struct {
	name string
	ys   []float64
}

// svgChart draws each series in its own panel over the same x axis.
func svgChart(title string, xs []float64, ss []series) string {
	const w, ph, pad = 720.0, 150.0, 50.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", w, 30+float64(len(ss))*(ph+20))
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="13">%s</text>`+"\n", pad, title)
	xmax := xs[len(xs)-1]
	for i, s := range ss {
		top := 30 + float64(i)*(ph+20)
		ymax := 0.0
		for _, y := range s.ys {
			ymax = max(ymax, y)
		}
		ymax = max(ymax*1.1, 1e-9)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", pad, top, w-2*pad, ph)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s (max %.1f)</text>`+"\n", pad+4, top+13, s.name, ymax/1.1)
		fmt.Fprintf(&b, `<text x="4" y="%.0f">%.1f</text><text x="4" y="%.0f">0</text>`+"\n", top+10, ymax, top+ph)
		var pts []string
		for j, y := range s.ys {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", pad+(w-2*pad)*xs[j]/xmax, top+ph-ph*y/ymax))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(pts, " "))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">seconds → %.0f</text>`+"\n", w-pad-80, 30+float64(len(ss))*(ph+20)-4, xmax)
	b.WriteString("</svg>\n")
	return b.String()
}
