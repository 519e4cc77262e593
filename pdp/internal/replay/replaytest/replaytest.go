// Package replaytest makes decision logs for tests of `pdp replay`: varied
// decide requests (every stage, amounts across every threshold, young and
// old accounts, new devices, foreign IPs), decided by the reference
// policies and written by the decision log, and copies of the reference
// policies with one value changed.
package replaytest

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
	"github.com/riskpdp/riskpdp/policies"
)

var quiet = slog.New(slog.DiscardHandler)

// T0 is the time of the first generated decision.
var T0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// CopyPolicies writes the reference policies into a new directory laid
// out as `pdp serve --policies` expects (riskpdp/ inside), and applies
// edit (old → new) to config/data.json when old is not "".
func CopyPolicies(t testing.TB, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policies.FS, "riskpdp", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, p), 0o755)
		}
		b, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		if old != "" && p == "riskpdp/config/data.json" {
			if strings.Count(string(b), old) != 1 {
				return fmt.Errorf("%q is not in data.json exactly once", old)
			}
			b = []byte(strings.Replace(string(b), old, new, 1))
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Gen makes varied decide requests: every stage, three currencies,
// amounts across every threshold, young and old accounts, new devices,
// foreign IPs, the odd scam statement; a few hundred UIDs so that velocity
// builds up.
type Gen struct {
	r *rand.Rand
	n int
}

func NewGen(seed uint64) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

var genCategories = []string{"daily_goods", "groceries", "digital", "electronics", "phone", "jewellery", "gift_card", "travel"}

func (g *Gen) Next(at time.Time) string {
	r := g.r
	g.n++
	uid := fmt.Sprintf("u-%04d", r.IntN(300))
	stage := []string{"payment", "payment", "payment", "payment", "withdrawal", "order", "order", "login", "repayment", "withdrawal"}[r.IntN(10)]
	country := "CN"
	if r.IntN(8) == 0 {
		country = "SG"
	}
	dev := fmt.Sprintf(`"id":"dev-%s-%d","ip":"198.51.100.%d","ip_country":%q`, uid, r.IntN(2), r.IntN(250), country)
	if x := r.IntN(5); x == 0 {
		dev += `,"new":true`
	} else if x == 1 {
		dev += `,"new":false`
	}
	created := at.Add(-time.Duration(r.IntN(3000*24)) * time.Hour).Format(time.RFC3339)
	account := fmt.Sprintf(`"home_country":"CN","created_at":%q`, created)
	if r.IntN(10) == 0 {
		account += `,"vip":true`
	}
	if r.IntN(10) == 0 {
		account += fmt.Sprintf(`,"recent_changes":[{"kind":"password_reset","at":%q}]`, at.Add(-time.Duration(r.IntN(200))*time.Hour).Format(time.RFC3339))
	}
	body := fmt.Sprintf(`{"request_id":"r-%d","stage":%q,"uid":%q,"device":{%s},"account":{%s}`, g.n, stage, uid, dev, account)
	if stage != "login" {
		cur, top := "CNY", 12000.0
		switch r.IntN(10) {
		case 0, 1:
			cur, top = "USD", 1500
		case 2:
			cur, top = "EUR", 1500
		}
		amount := float64(r.IntN(int(top*100))) / 100
		body += fmt.Sprintf(`,"txn":{"id":"T%08d","amount":%g,"currency":%q,"category":%q,"payment_method":"card","ship_country":%q}`,
			g.n, amount, cur, genCategories[r.IntN(len(genCategories))], []string{"CN", "CN", "CN", "HK"}[r.IntN(4)])
	}
	if r.IntN(40) == 0 {
		body += `,"context":{"user_statement":"customer service told me to move it to a safe account"}`
	}
	return body + "}"
}

// liveSidecar is the decision path of `pdp serve --decision-log`: the
// decide service over the reference policies with velocity, the risk state
// (a bbolt file) and the decision log on, deciding at a clock the test
// sets.
type liveSidecar struct {
	svc   *decide.Service
	log   *decisionlog.Logger
	state *state.Store
	now   time.Time
}

func newLiveSidecar(t testing.TB, logPath string, maxSizeMiB int) *liveSidecar {
	t.Helper()
	cfg := config.Default()
	lim := request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	eng, err := policy.New(policy.Options{Source: policy.Source{FS: policies.FS, Label: "embedded"},
		Package: "riskpdp", EvalTimeout: 5 * time.Second, Limits: lim, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	tr, err := velocity.New(velocity.Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	st, err := state.Open(state.Config{Path: filepath.Join(filepath.Dir(logPath), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := decisionlog.New(decisionlog.Config{Path: logPath, MaxSizeMiB: maxSizeMiB, BufferSize: 1 << 16,
		Overflow: decisionlog.OverflowBlock, BlockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := &liveSidecar{log: l, state: st}
	s.svc, err = decide.New(decide.Options{Engine: eng, Metrics: metrics.New(), Limits: lim, Messages: cfg.Messages,
		Logger: quiet, Now: func() time.Time { return s.now }, State: st, Velocity: tr,
		DecisionLog: l, Package: "riskpdp"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *liveSidecar) decide(t testing.TB, body string, at time.Time) *pdp.Decision {
	t.Helper()
	s.now = at
	d, err := s.svc.Decide(context.Background(), []byte(body), "")
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return d
}

// verify reports result for every method of d's challenge.
func (s *liveSidecar) verify(t testing.TB, d *pdp.Decision, result string, at time.Time) {
	t.Helper()
	s.now = at
	for _, m := range d.StepUp.Methods {
		body := fmt.Sprintf(`{"challenge_id":%q,"method":%q,"result":%q}`, d.StepUp.ChallengeID, m, result)
		if _, err := s.svc.Verify(context.Background(), []byte(body)); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
}

func (s *liveSidecar) close(t testing.TB) {
	t.Helper()
	if err := s.log.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for reason, n := range s.log.Stats().Dropped {
		if n != 0 {
			t.Fatalf("decision log dropped %d records (%s)", n, reason)
		}
	}
}

// GenerateLog decides n generated requests, two seconds apart, and returns
// the log's path.
func GenerateLog(t testing.TB, dir string, n int, maxSizeMiB int) string {
	return GenerateLogSpec(t, dir, LogSpec{N: n, MaxSizeMiB: maxSizeMiB})
}

// LogSpec says what GenerateLogSpec decides.
type LogSpec struct {
	// N is the number of decisions (retries included); MaxSizeMiB rotates
	// the log.
	N, MaxSizeMiB int
	// Verify answers a third of the step-ups' challenges (passed four
	// times in five, else failed) and retries the request, as a payment
	// service does: the retry's record carries the verification state.
	Verify bool
}

// GenerateLogSpec decides generated requests as spec says, two seconds
// apart, and returns the log's path.
func GenerateLogSpec(t testing.TB, dir string, spec LogSpec) string {
	t.Helper()
	path := filepath.Join(dir, "decisions.log")
	s := newLiveSidecar(t, path, spec.MaxSizeMiB)
	g := NewGen(7)
	at := T0
	for i := 0; i < spec.N; i++ {
		at = at.Add(2 * time.Second)
		body := g.Next(at)
		d := s.decide(t, body, at)
		if !spec.Verify || d.StepUp == nil || d.StepUp.ChallengeID == "" || g.r.IntN(3) != 0 || i+1 == spec.N {
			continue
		}
		result := "passed"
		if g.r.IntN(5) == 0 {
			result = "failed"
		}
		at = at.Add(time.Second)
		s.verify(t, d, result, at)
		at = at.Add(time.Second)
		s.decide(t, body, at)
		i++
	}
	s.close(t)
	return path
}
