package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sidecar is a `pdp serve` started through Run, as main would.
type sidecar struct {
	t    *testing.T
	url  string
	done chan int
	stop context.CancelFunc
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startSidecar(t *testing.T, args ...string) *sidecar {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &sidecar{t: t, url: "http://" + addr, done: make(chan int, 1), stop: cancel, logs: &syncBuffer{}}
	go func() {
		base := []string{"serve", "--addr", addr, "--log-format", "text"}
		if !slices.Contains(args, "--state") {
			base = append(base, "--state", filepath.Join(t.TempDir(), "state.db"))
		}
		if !slices.Contains(args, "--config") {
			// A request budget a loaded machine under the race detector
			// keeps (the 50 ms default falls back to pdp_error there);
			// tests of the budget itself give their own configuration.
			cfg := filepath.Join(t.TempDir(), "pdp.yaml")
			if err := os.WriteFile(cfg, []byte("policies:\n  eval_timeout: 2s\n"), 0o644); err != nil {
				panic(err)
			}
			base = append(base, "--config", cfg)
		}
		s.done <- Run(ctx, append(base, args...), io.Discard, s.logs)
	}()
	deadline := time.Now().Add(30 * time.Second) // compiling the policy takes ~1 s, many more on a loaded CI machine
	for {
		resp, err := http.Get(s.url + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case code := <-s.done:
			t.Fatalf("sidecar exited with %d:\n%s", code, s.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar not ready:\n%s", s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { s.shutdown() })
	return s
}

// shutdown cancels the context (as SIGTERM does) and returns the exit code.
func (s *sidecar) shutdown() int {
	s.stop()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(15 * time.Second):
		s.t.Fatal("sidecar did not stop")
		return -1
	}
}

func (s *sidecar) post(path, contentType, body string) (int, map[string]any) {
	s.t.Helper()
	resp, err := http.Post(s.url+path, contentType, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		s.t.Fatalf("response is not JSON (%d): %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// postOversized posts body, which is over the sidecar's body limit, on a raw
// connection and asserts the answer: 413 with the body_too_large error
// envelope. The sidecar answers from the Content-Length header and hangs up
// without reading the body, so a client still writing it can see a broken
// pipe or a reset part-way; an HTTP client reports that as the request's
// error and drops the answer it has already received (how this case used to
// fail on a loaded machine). Here the body is written beside the read and a
// failed write is not an error: the answer is read as the kernel received
// it, before the reset.
func (s *sidecar) postOversized(path, contentType, body string) {
	s.t.Helper()
	addr := strings.TrimPrefix(s.url, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	// Not a timing assumption: only so that a sidecar that never answers
	// fails here, with the case named, rather than at the test timeout.
	conn.SetDeadline(time.Now().Add(time.Minute))
	wrote := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
			path, addr, contentType, len(body), body)
		wrote <- err
	}()
	defer func() { conn.Close(); <-wrote }() // the writer is done before the test goes on
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		s.t.Fatalf("%s with a %d-byte body: no answer: %v", path, len(body), err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		s.t.Fatalf("%s with a %d-byte body: answer cut: %v (%d %q)", path, len(body), err, resp.StatusCode, raw)
	}
	var m struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge ||
		m.Error.Code != "body_too_large" || m.Error.Message == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		s.t.Errorf("%s with a %d-byte body: %d %q %s, want 413 with the body_too_large error", path, len(body), resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
}

func (s *sidecar) decide(body string) (int, map[string]any) {
	return s.post("/v1/decide", "application/json", body)
}

func (s *sidecar) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The README's curl examples, one per outcome.
var (
	allowBody  = `{"request_id":"r-allow","stage":"payment","uid":"u-1","device":{"id":"d-1","ip":"198.51.100.7","ip_country":"CN"},"txn":{"id":"t-1","amount":120,"currency":"CNY","category":"daily_goods"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`
	stepUpBody = `{"request_id":"r-step","stage":"payment","uid":"u-1001","device":{"id":"d-77","ip":"203.0.113.7","ip_country":"SG","new":true},"txn":{"id":"t-9","amount":6800.00,"currency":"CNY","category":"digital"},"account":{"home_country":"CN","created_at":"2021-03-01T00:00:00Z"}}`
	denyBody   = `{"request_id":"r-deny","stage":"withdrawal","uid":"u-7","txn":{"id":"t-3","amount":900,"currency":"CNY","destination_new":true},"context":{"user_statement":"A customer service agent told me to move my money to a safe account"}}`
	// warnBody is the same statement on a small payment at home, nothing
	// else pointing at a scam: a step-up with the warning.
	warnBody = `{"request_id":"r-warn","stage":"payment","uid":"u-8","device":{"id":"d-8","ip":"198.51.100.8","ip_country":"CN"},"txn":{"id":"t-4","amount":900,"currency":"CNY","destination_new":false},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"},"context":{"user_statement":"A customer service agent told me to move my money to a safe account"}}`
)

// stepUpAs is stepUpBody for another account, on a device of its own (one
// device for many accounts is a device farm).
func stepUpAs(uid string) string {
	return strings.NewReplacer(`"uid":"u-1001"`, `"uid":"`+uid+`"`, `"id":"d-77"`, `"id":"d-`+uid+`"`).Replace(stepUpBody)
}

func TestServeOutcomes(t *testing.T) {
	s := startSidecar(t)
	for body, want := range map[string]string{allowBody: "allow", stepUpBody: "step_up", denyBody: "deny"} {
		code, d := s.decide(body)
		if code != 200 || d["outcome"] != want {
			t.Fatalf("%s: %d %v", body, code, d)
		}
		if d["decision_id"] == "" || d["policy_revision"] == "" || d["took_us"] == nil || d["request_id"] == nil {
			t.Fatalf("missing fields: %v", d)
		}
		msg, _ := d["message"].(string)
		for _, r := range d["reasons"].([]any) {
			if strings.Contains(msg, r.(string)) {
				t.Fatalf("user message reveals rule %s: %q", r, msg)
			}
		}
		switch want {
		case "step_up":
			if m := d["step_up"].(map[string]any)["methods"].([]any); len(m) == 0 {
				t.Fatalf("step_up without methods: %v", d)
			}
		case "deny":
			if d["warning"].(map[string]any)["code"] != "anti_fraud" {
				t.Fatalf("anti-scam deny without warning: %v", d)
			}
		}
	}
	code, d := s.decide(warnBody)
	w, _ := d["warning"].(map[string]any)
	if code != 200 || d["outcome"] != "step_up" || w == nil || w["code"] != "anti_fraud" || w["message"] == "" {
		t.Fatalf("a scam statement alone: %d %v, want a step-up with the anti-fraud warning", code, d)
	}
}

func TestServeBadInput(t *testing.T) {
	s := startSidecar(t)
	cases := []struct {
		path, ctype, body string
		status            int
		code, field       string
	}{
		{"/v1/decide", "application/json", `{"stage":"payment"`, 400, "malformed_json", ""},
		{"/v1/decide", "application/json", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":"10"}}`, 400, "wrong_type", "txn.amount"},
		{"/v1/decide", "application/json", `{"stage":"payment","uid":"u"}`, 400, "missing_field", "txn"},
		{"/v1/decide", "application/json", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":10,"currency":"CNY"},"context":{"third_party_guidance":"true"}}`, 400, "wrong_type", "context.third_party_guidance"},
		{"/v1/decide", "application/json", `{"stage":"wire","uid":"u"}`, 400, "unknown_stage", "stage"},
		{"/v1/decide", "application/json", `{"stage":"login","uid":"u","password":"x"}`, 400, "secret_field", "password"},
		{"/v1/decide", "application/json; charset=utf-8", `{"stage":"login","uid":"u","context":{"n":"4111111111111111"}}`, 400, "card_number", "context.n"},
		{"/v1/decide", "text/plain", `{"stage":"login","uid":"u"}`, 415, "unsupported_media_type", ""},
		{"/v1/nope", "application/json", `{}`, 404, "not_found", ""},
		{"/v1/data/riskpdp/deny", "application/json", `{"input": [`, 400, "malformed_json", ""},
	}
	for _, c := range cases {
		status, m := s.post(c.path, c.ctype, c.body)
		e, _ := m["error"].(map[string]any)
		if status != c.status || e == nil || e["code"] != c.code || (c.field != "" && e["field"] != c.field) {
			t.Errorf("%s %.60s: %d %v", c.path, c.body, status, m)
		}
	}
	// Over the 64 KiB default limit: 413, on a raw connection (see postOversized).
	s.postOversized("/v1/decide", "application/json", `{"stage":"login","uid":"u","x":"`+strings.Repeat("a", 70000)+`"}`)
	resp, err := http.Get(s.url + "/v1/decide")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/decide: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	_, metrics := s.get("/metrics")
	for _, want := range []string{`pdp_request_errors_total{code="wrong_type",endpoint="decide"} 2`,
		`pdp_request_errors_total{code="body_too_large",endpoint="transport"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestServeHealthMetricsAndData(t *testing.T) {
	s := startSidecar(t)
	if code, body := s.get("/health/live"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("live: %d %s", code, body)
	}
	s.decide(allowBody)
	s.decide(stepUpBody)
	code, body := s.get("/metrics")
	for _, want := range []string{
		`pdp_decisions_total{outcome="allow",stage="payment"} 1`,
		`pdp_decisions_total{outcome="step_up",stage="payment"} 1`,
		`pdp_decision_duration_seconds_bucket{le="5e-05"}`,
		`pdp_policy_reloads_total{result="ok"} 1`,
		`pdp_policy_revision_info{revision="sha256:`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// OPA Data API: the request an OPA sidecar would get, decided on the
	// same input as /v1/decide (enriched by the sidecar).
	req := stepUpAs("u-data")
	status, res := s.post("/v1/data/riskpdp/step_up", "application/json", fmt.Sprintf(`{"input": %s}`, req))
	_, d := s.decide(req)
	got, _ := res["result"].([]any)
	if want, _ := d["reasons"].([]any); status != 200 || len(got) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("data API: %d %v; /v1/decide answered %v", status, res, d)
	}
	for _, c := range []struct {
		path, body  string
		status      int
		code, field string
	}{
		// What the sidecar computes may not be sent, here either.
		{"/v1/data/riskpdp/step_up", `{"input":{"stage":"login","uid":"u","derived":{"vip":true}}}`, 400, "reserved_field", "input.derived"},
		{"/v1/data/riskpdp/step_up", `{"input":{"stage":"payment","uid":"u"}}`, 400, "missing_field", "input.txn"},
		{"/v1/data/riskpdp/step_up", `{}`, 400, "missing_field", "input"},
		// Only the decision package's rules: not its data, not the rest.
		{"/v1/data/riskpdp/no_such_rule", `{}`, 403, "forbidden", "path"},
		{"/v1/data/riskpdp/config/thresholds", `{}`, 403, "forbidden", "path"},
		// Nor its data under a rule's name (th := config.thresholds).
		{"/v1/data/riskpdp/th", fmt.Sprintf(`{"input": %s}`, req), 403, "forbidden", "path"},
		{"/v1/data/riskpdp/methods/large_amount", fmt.Sprintf(`{"input": %s}`, req), 403, "forbidden", "path"},
		{"/v1/data/riskpdp", `{}`, 403, "forbidden", "path"},
		{"/v1/data", `{}`, 403, "forbidden", "path"},
	} {
		status, m := s.post(c.path, "application/json", c.body)
		e, _ := m["error"].(map[string]any)
		if status != c.status || e == nil || e["code"] != c.code || e["field"] != c.field {
			t.Errorf("%s %s: %d %v", c.path, c.body, status, m)
		}
	}
}

func TestServeHotReload(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "riskpdp"))
	s := startSidecar(t, "--policies", dir)
	_, d := s.decide(allowBody)
	rev1 := d["policy_revision"]

	// Traffic runs through every reload below: no request may fail.
	stop := make(chan struct{})
	var served, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				// Other UIDs than the assertions', so velocity rules stay quiet.
				body := stepUpAs(fmt.Sprintf("load-%d-%d", i, n))
				resp, err := http.Post(s.url+"/v1/decide", "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					served.Add(1)
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
		if failed.Load() != 0 || served.Load() == 0 {
			t.Errorf("during reloads: %d served, %d failed", served.Load(), failed.Load())
		}
	}()

	// Break a file: decisions keep flowing from the old revision and the
	// failed reload is counted.
	rules := filepath.Join(dir, "riskpdp", "rules.rego")
	orig, _ := os.ReadFile(rules)
	if err := os.WriteFile(rules, append(orig, []byte("\nthis is not rego {\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, m := s.get("/metrics")
		return strings.Contains(m, `pdp_policy_reloads_total{result="failed"}`)
	})
	if _, d := s.decide(stepUpBody); d["policy_revision"] != rev1 || d["outcome"] != "step_up" {
		t.Fatalf("broken policy changed the answer: %v", d)
	}
	// Fix it with a changed threshold: the revision switches, no restart.
	fixed := strings.Replace(string(orig), `"large_amount" if {`, `"large_amount" if {
	input.txn.amount > 0`, 1)
	if err := os.WriteFile(rules, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, d := s.decide(allowBody); return d["policy_revision"] != rev1 })
}

func TestServeReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "riskpdp"))
	cfg := filepath.Join(t.TempDir(), "pdp.yaml")
	os.WriteFile(cfg, []byte("policies:\n  watch: false\n"), 0o644)
	s := startSidecar(t, "--policies", dir, "--config", cfg)
	_, d := s.decide(allowBody)
	rev1 := d["policy_revision"]
	data := filepath.Join(dir, "riskpdp", "config", "data.json")
	b, _ := os.ReadFile(data)
	os.WriteFile(data, []byte(strings.Replace(string(b), `"vip_multiplier": 3`, `"vip_multiplier": 4`, 1)), 0o644)
	time.Sleep(300 * time.Millisecond)
	if _, d := s.decide(allowBody); d["policy_revision"] != rev1 {
		t.Fatal("reloaded without a signal while watch is off")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, d := s.decide(allowBody); return d["policy_revision"] != rev1 })
}

func TestServeGracefulShutdown(t *testing.T) {
	s := startSidecar(t)
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				body := stepUpAs(fmt.Sprintf("drain-%d", rand.Int()))
				resp, err := c.Post(s.url+"/v1/decide", "application/json", strings.NewReader(body))
				if err != nil {
					return // the listener is closed: the sidecar stopped accepting
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	code := s.shutdown()
	close(stop)
	wg.Wait()
	if code != 0 || failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("exit %d, ok %d, failed %d", code, ok.Load(), failed.Load())
	}
}

func TestServeRefusesBadStart(t *testing.T) {
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"serve", "--policies", "/does/not/exist"}, io.Discard, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "/does/not/exist") {
		t.Fatalf("missing policy dir: %d %s", code, stderr.String())
	}
	stderr.Reset()
	if code := Run(context.Background(), []string{"serve", "--addr", "nonsense"}, io.Discard, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "addr") {
		t.Fatalf("bad addr: %d %s", code, stderr.String())
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package riskpdp\ndecision := {"), 0o644)
	stderr.Reset()
	if code := Run(context.Background(), []string{"serve", "--policies", dir}, io.Discard, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "load policies") {
		t.Fatalf("broken policy: %d %s", code, stderr.String())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesCorruptState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 4096), 0o600)
	var stderr bytes.Buffer
	code := Run(context.Background(), []string{"serve", "--addr", freeAddr(t), "--state", path}, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), path) {
		t.Fatalf("corrupt state: exit %d: %s", code, stderr.String())
	}
}

// --cpu-profile profiles the run from start until shutdown: the profile
// (gzipped protobuf, what go tool pprof reads) is complete once serve has
// returned; a path that cannot be created stops the start, naming the
// flag, and so does PDP_CPU_PROFILE.
func TestServeCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	s := startSidecar(t, "--cpu-profile", path)
	for range 50 {
		if code, _ := s.decide(allowBody); code != 200 {
			t.Fatalf("decide: %d", code)
		}
	}
	if code := s.shutdown(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.logs)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil || len(b) == 0 || !bytes.Contains(b, []byte("samples")) {
		t.Fatalf("profile: %d bytes, %v", len(b), err)
	}

	bad := filepath.Join(t.TempDir(), "missing", "cpu.pprof")
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"serve", "--addr", freeAddr(t), "--state", filepath.Join(t.TempDir(), "s.db"),
		"--cpu-profile", bad}, io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), "--cpu-profile") ||
		!strings.Contains(stderr.String(), bad) {
		t.Fatalf("uncreatable profile: exit %d, %s", code, stderr.String())
	}
	t.Setenv("PDP_CPU_PROFILE", bad)
	stderr.Reset()
	if code := Run(context.Background(), []string{"serve", "--addr", freeAddr(t), "--state", filepath.Join(t.TempDir(), "s.db")},
		io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), "--cpu-profile") {
		t.Fatalf("uncreatable profile from PDP_CPU_PROFILE: exit %d, %s", code, stderr.String())
	}
}
