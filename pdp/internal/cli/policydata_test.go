package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
)

// newAccountBody is a 4 000 CNY payment by a two-day-old account: the
// reference policy steps it up (new_account_large_amount: medium is 2 000).
func newAccountBody(uid string) string {
	created := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	return `{"stage":"payment","uid":"` + uid + `","device":{"id":"d-` + uid + `","ip":"203.0.113.7","ip_country":"CN"},` +
		`"txn":{"id":"t-` + uid + `","amount":4000,"currency":"CNY","category":"digital"},` +
		`"account":{"home_country":"CN","created_at":"` + created + `"}}`
}

// failedReloads reads pdp_policy_reloads_total{result="failed"} (0 when
// absent).
func failedReloads(t *testing.T, s *sidecar) float64 {
	t.Helper()
	_, page := s.get("/metrics")
	m := regexp.MustCompile(`(?m)^pdp_policy_reloads_total\{result="failed"\} (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestServeRefusesBadPolicyData: policy data of the wrong type written into
// a serving sidecar's policy directory mid-traffic (`"medium": "2000"`,
// which OPA compares as a string and which used to turn the new account's
// 4 000 CNY payment into allow), then a rule whose built-in call fails on
// constant arguments: each reload is refused and counted, the old revision
// keeps deciding (step_up), no request fails; valid data then switches in.
func TestServeRefusesBadPolicyData(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "riskpdp"))
	s := startSidecar(t, "--policies", dir)
	var n atomic.Int64
	check := func(wantOutcome string, wantReason bool) string {
		t.Helper()
		code, d := s.decide(newAccountBody(fmt.Sprintf("probe-%d", n.Add(1))))
		reasons, _ := d["reasons"].([]any)
		if code != 200 || d["outcome"] != wantOutcome || slices.Contains(reasons, any("new_account_large_amount")) != wantReason {
			t.Fatalf("decision %d %v, want %s (new_account_large_amount %v)", code, d, wantOutcome, wantReason)
		}
		rev, _ := d["policy_revision"].(string)
		return rev
	}
	rev1 := check("step_up", true)

	// Traffic runs through every reload: no request may fail or allow.
	stop := make(chan struct{})
	var served, failed, allowed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post(s.url+"/v1/decide", "application/json", strings.NewReader(newAccountBody(fmt.Sprintf("load-%d-%d", i, k))))
				if err != nil {
					failed.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode != 200:
					failed.Add(1)
				case bytes.Contains(b, []byte(`"outcome":"allow"`)):
					allowed.Add(1)
				default:
					served.Add(1)
				}
			}
		}()
	}
	trafficStopped := false
	stopTraffic := func() {
		if trafficStopped {
			return
		}
		trafficStopped = true
		close(stop)
		wg.Wait()
		if failed.Load() != 0 || allowed.Load() != 0 || served.Load() == 0 {
			t.Errorf("during the refused reloads: %d served, %d failed, %d allowed", served.Load(), failed.Load(), allowed.Load())
		}
		t.Logf("during the refused reloads: %d decisions answered, %d failed, %d allowed", served.Load(), failed.Load(), allowed.Load())
	}
	defer stopTraffic()

	data := filepath.Join(dir, "riskpdp", "config", "data.json")
	orig, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(orig), `"medium": 2000,`, `"medium": "2000",`, 1)
	if bad == string(orig) {
		t.Fatal("data.json has no medium threshold to change")
	}
	before := failedReloads(t, s)
	if err := os.WriteFile(data, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return failedReloads(t, s) > before })
	if rev := check("step_up", true); rev != rev1 {
		t.Fatalf("revision %s after the refused data, want %s", rev, rev1)
	}
	if !strings.Contains(s.logs.String(), "data.riskpdp.config.thresholds.medium: Invalid type. Expected: number, given: string") {
		t.Errorf("the refusal does not name the field:\n%s", s.logs)
	}

	// A rule whose constant built-in call fails: refused too.
	if err := os.WriteFile(data, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "riskpdp", "odd.rego")
	before = failedReloads(t, s)
	rule := "package riskpdp\n\nstep_up contains \"odd\" if {\n\tinput.stage == \"withdrawal\"\n\tinput.txn.amount > to_number(\"1O00\")\n}\n"
	if err := os.WriteFile(odd, []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return failedReloads(t, s) > before && strings.Contains(s.logs.String(), "odd.rego:5") })
	if rev := check("step_up", true); rev != rev1 {
		t.Fatalf("revision %s after the refused rule, want %s", rev, rev1)
	}
	stopTraffic()

	// Valid data switches in without a restart.
	if err := os.Remove(odd); err != nil {
		t.Fatal(err)
	}
	// (A young account's first payment from a device is verified too:
	// young_account_days goes down with it.)
	valid := strings.NewReplacer(`"medium": 2000,`, `"medium": 5000,`, `"young_account_days": 30,`, `"young_account_days": 1,`).Replace(string(orig))
	if err := os.WriteFile(data, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, d := s.decide(newAccountBody(fmt.Sprintf("probe-%d", n.Add(1))))
		return d["policy_revision"] != rev1
	})
	check("allow", false)
}

// TestShadowRefusesBadPolicyData: a shadow candidate whose data its schema
// refuses stops the start, as the live policies would, naming the field.
func TestShadowRefusesBadPolicyData(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "riskpdp"))
	data := filepath.Join(dir, "riskpdp", "config", "data.json")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte(strings.Replace(string(b), `"temporary_duration": "30m"`, `"temporary_duration": "30 minutes"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := Run(ctx, []string{"serve", "--addr", freeAddr(t), "--state", filepath.Join(t.TempDir(), "state.db"), "--shadow-policies", dir}, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "load shadow policies") ||
		!strings.Contains(stderr.String(), "data.riskpdp.config.freeze.temporary_duration: Does not match pattern") {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
}
