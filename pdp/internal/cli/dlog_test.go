package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
)

// The decision log end to end: a real `pdp serve` process (spawn),
// decisions over HTTP, a real SIGTERM, then the log files read back.

// cardLike finds 13 to 19 digits in a row; pdp.IsCardNumber says which of
// them are card numbers.
var cardLike = regexp.MustCompile(`\d{13,19}`)

// TestDecisionLogSIGTERM sends many requests (100 000, 10 000 under the
// race detector; DLOG_DECISIONS overrides), a share of them carrying a card number or a secret (refused,
// never logged), with a small buffer that spills, rotation and
// compression, then stops the sidecar with SIGTERM in the middle of the
// traffic. Every decision answered 200 is in the log exactly once, no
// other; no record and no service log line holds a card number or a
// secret value.
func TestDecisionLogSIGTERM(t *testing.T) {
	total := 100_000
	if raceEnabled {
		total = 10_000
	}
	if v := os.Getenv("DLOG_DECISIONS"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log", "decisions.jsonl")
	cfg := filepath.Join(dir, "pdp.yaml")
	writeFile(t, cfg, fmt.Sprintf(`decision_log:
  path: %s
  max_size_mib: 4
  buffer_size: 256
  overflow: spill
  labels: {env: test}
`, logPath))
	p := spawn(t, freeAddr(t), "--config", cfg, "--state", filepath.Join(dir, "state.db"))

	const secret = "SECRET-918273"
	const card = "4111111111111111"
	bodies := []func(i int) string{
		func(i int) string {
			return pay(fmt.Sprintf("u-%d", i%5000), fmt.Sprintf("t-%d", i), float64(i%9000), "")
		},
		func(i int) string {
			return fmt.Sprintf(`{"stage":"login","uid":"u-%d","device":{"id":"d-%d","ip":"198.51.100.%d"}}`, i%5000, i%700, i%250)
		},
		func(i int) string { return strings.Replace(stepUpBody, `"t-9"`, fmt.Sprintf(`"t-%d"`, i), 1) },
		func(i int) string { // refused: a card number in free-form context
			return pay("u-card", fmt.Sprintf("t-%d", i), 10, fmt.Sprintf(`,"context":{"note":"card %s"}`, card))
		},
		func(i int) string { // refused: a secret field
			return pay("u-pw", fmt.Sprintf("t-%d", i), 10, fmt.Sprintf(`,"context":{"pay_password":%q}`, secret))
		},
	}

	var (
		next     atomic.Int64
		mu       sync.Mutex
		answered = map[string]bool{}
		refused  atomic.Int64
		wg       sync.WaitGroup
	)
	stopAt := int64(total)
	sigterm := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			ids := []string{}
			defer func() {
				mu.Lock()
				for _, id := range ids {
					if answered[id] {
						t.Errorf("decision id %s answered twice", id)
					}
					answered[id] = true
				}
				mu.Unlock()
			}()
			for {
				i := next.Add(1)
				if i == stopAt*9/10 {
					close(sigterm) // SIGTERM while the last tenth is in flight
				}
				if i > stopAt {
					return
				}
				body := bodies[int(i)%len(bodies)](int(i))
				resp, err := c.Post(p.url+"/v1/decide", "application/json", strings.NewReader(body))
				if err != nil {
					return // the listener closed: the sidecar is stopping
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var d struct {
					DecisionID string `json:"decision_id"`
					Error      *struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(raw, &d); err != nil {
					t.Errorf("response %d not JSON: %q", resp.StatusCode, raw)
					return
				}
				switch {
				case resp.StatusCode == 200 && d.DecisionID != "":
					ids = append(ids, d.DecisionID)
				case resp.StatusCode == 400 && int(i)%len(bodies) >= 3:
					refused.Add(1)
				case resp.StatusCode == 503: // draining
				default:
					t.Errorf("request %d: %d %s", i, resp.StatusCode, raw)
					return
				}
			}
		}()
	}
	<-sigterm
	p.stop(t, syscall.SIGTERM, 60*time.Second)
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(answered) < total/2 || refused.Load() == 0 {
		t.Fatalf("only %d decisions answered, %d refused", len(answered), refused.Load())
	}

	files, _ := filepath.Glob(filepath.Join(filepath.Dir(logPath), "*"))
	slices.Sort(files) // rotated files (timestamped) sort before the live one
	logged := map[string]int{}
	var rotated int
	for _, f := range files {
		if strings.HasSuffix(f, ".gz") {
			rotated++
		}
		raw := readMaybeGzip(t, f)
		for _, m := range cardLike.FindAll(raw, -1) {
			if pdp.IsCardNumber(m) {
				t.Fatalf("%s holds a card number: %s", f, m)
			}
		}
		if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(card)) {
			t.Fatalf("%s holds a refused request's secret or card", f)
		}
	}
	r := decisionlog.NewReader(files)
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		logged[rec.DecisionID]++
		if rec.Labels["env"] != "test" || rec.Labels["id"] == "" || rec.Result.Outcome != rec.Outcome || len(rec.Enrichment) == 0 {
			t.Fatalf("incomplete record: %+v", rec)
		}
	}
	if r.Skipped() != 0 {
		t.Fatalf("%d records skipped: %v", r.Skipped(), r.Skips())
	}
	var missing, extra, dup int
	for id := range answered {
		if logged[id] == 0 {
			missing++
		}
	}
	for id, n := range logged {
		if !answered[id] {
			extra++
		}
		if n > 1 {
			dup++
		}
	}
	t.Logf("%d answered, %d refused, %d logged in %d files (%d rotated, gzip)", len(answered), refused.Load(), len(logged), len(files), rotated)
	if missing+extra+dup != 0 || rotated == 0 {
		t.Fatalf("missing %d, not answered but logged %d, logged twice %d, rotated files %d", missing, extra, dup, rotated)
	}
	if out := p.logs.String(); strings.Contains(out, secret) || strings.Contains(out, card) {
		t.Fatalf("the service log holds a secret or card number")
	}
}

// readMaybeGzip returns a log file's content, gunzipped if it is a rotated
// one.
func readMaybeGzip(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, for a real
// "no space left on device"; it skips the test where mounting is not
// allowed (not root). pdp/internal/decisionlog's diskfull_test covers the same
// logic with a fake file everywhere.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestDecisionLogDiskFull: the decision log's disk fills up under
// traffic. Decisions keep flowing, the loss is counted on /metrics and
// shown by /health/ready (degraded, or failing with fail_readiness), and
// logging resumes by itself once space is freed.
func TestDecisionLogDiskFull(t *testing.T) {
	for _, failReadiness := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail_readiness=%v", failReadiness), func(t *testing.T) {
			disk := mountTmpfs(t, 256<<10)
			dir := t.TempDir()
			cfg := filepath.Join(dir, "pdp.yaml")
			writeFile(t, cfg, fmt.Sprintf("decision_log:\n  path: %s/decisions.jsonl\n  fail_readiness: %v\n", disk, failReadiness))
			s := startSidecar(t, "--config", cfg)
			filler := filepath.Join(disk, "filler")
			if err := os.WriteFile(filler, make([]byte, 200<<10), 0o600); err != nil {
				t.Fatal(err)
			}
			metric := func(name string) float64 {
				_, body := s.get("/metrics")
				for _, line := range strings.Split(body, "\n") {
					if strings.HasPrefix(line, name+" ") {
						v, _ := strconv.ParseFloat(line[len(name)+1:], 64)
						return v
					}
				}
				t.Fatalf("no metric %s", name)
				return 0
			}
			i := 0
			decide := func() {
				i++
				body := stepUpAs(fmt.Sprintf("u-full-%d", i))
				if code, d := s.decide(body); code != 200 || d["outcome"] != "step_up" {
					t.Fatalf("decision %d while the disk is full: %d %v", i, code, d)
				}
			}
			waitFor(t, func() bool { decide(); return metric(`pdp_decision_log_dropped_total{reason="file_error"}`) > 0 })
			if metric("pdp_decision_log_sink_errors_total") == 0 || metric("pdp_decision_log_healthy") != 0 {
				t.Fatal("the failing sink is not visible on /metrics")
			}
			code, ready := s.get("/health/ready")
			if want := map[bool]int{false: 200, true: 503}[failReadiness]; code != want || !strings.Contains(ready, "no space left") {
				t.Fatalf("/health/ready while the disk is full: %d %s", code, ready)
			}
			// Space comes back: records are written again.
			os.Remove(filler)
			logged := metric("pdp_decision_log_logged_total")
			waitFor(t, func() bool { decide(); return metric("pdp_decision_log_logged_total") > logged })
		})
	}
}
