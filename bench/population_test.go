package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/valyala/fasthttp"
)

// The population mix is the simulator's traffic: the same seed gives the
// same bodies, every stage is there, fraud is a small share, an order is
// followed by its payment, and each OPA body carries the enrichment.
func TestPopulationMix(t *testing.T) {
	cfg := MixConfig{Size: 10000, UIDs: 20000, Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	mix, err := GenerateMix(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := GenerateMix(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stagesSeen := map[string]int{}
	fraud, paidOrders := 0, 0
	lastOrder := map[string]float64{} // uid → amount of its last order
	for i, r := range mix {
		if !bytes.Equal(r.Decide, again[i].Decide) || !bytes.Equal(r.OPA, again[i].OPA) {
			t.Fatalf("request %d differs between two mixes of the same seed", i)
		}
		var d wireRequest
		if err := json.Unmarshal(r.Decide, &d); err != nil {
			t.Fatal(err)
		}
		var o struct{ Input map[string]any }
		if err := json.Unmarshal(r.OPA, &o); err != nil || o.Input["velocity"] == nil || o.Input["derived"] == nil {
			t.Fatalf("OPA body %d: %v %s", i, err, r.OPA)
		}
		stagesSeen[r.Stage]++
		if r.Fraud {
			fraud++
		}
		switch d.Stage {
		case "order":
			lastOrder[d.UID] = d.Txn.Amount
		case "payment":
			if a, ok := lastOrder[d.UID]; ok && a == d.Txn.Amount {
				paidOrders++
				delete(lastOrder, d.UID)
			}
		}
	}
	for _, st := range stages {
		if stagesSeen[st.name] == 0 {
			t.Errorf("no %s requests (%v)", st.name, stagesSeen)
		}
	}
	if share := float64(fraud) / float64(len(mix)); fraud == 0 || share > 0.05 {
		t.Errorf("fraud %d of %d requests", fraud, len(mix))
	}
	if paidOrders < stagesSeen["order"]/2 {
		t.Errorf("%d of %d orders followed by their payment", paidOrders, stagesSeen["order"])
	}
	if _, err := GenerateMix(MixConfig{Kind: "uniform"}); err == nil {
		t.Fatal("an unknown mix kind was accepted")
	}
}

// The sidecar's sessions go to the accounts in turn: no account has a
// second session before every other account had one, and no session is
// played twice.
func TestPopulationSessionsSpreadAccounts(t *testing.T) {
	cfg := MixConfig{UIDs: 500, Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	src := &populationSessions{tr: NewTraffic(cfg)}
	seen := map[string]int{}
	txns := map[string]bool{}
	for range 500 {
		s := src.Next()
		_, body, _, ok, err := s.Next(nil)
		if err != nil || !ok {
			t.Fatal(err)
		}
		var r struct {
			UID string `json:"uid"`
			Txn *struct {
				ID string `json:"id"`
			} `json:"txn"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(r.UID, "u-") {
			seen[r.UID]++
			if seen[r.UID] > 1 {
				t.Fatalf("%s had a second session within %d", r.UID, cfg.UIDs)
			}
		}
		if r.Txn != nil {
			if txns[r.Txn.ID] {
				t.Fatalf("transaction %s played twice", r.Txn.ID)
			}
			txns[r.Txn.ID] = true
		}
	}
}

// fakeSidecar steps up every first attempt of a money movement, allows
// the retry that names its challenge, and records what it was sent.
type fakeSidecar struct {
	mu       sync.Mutex
	verified map[string]string // challenge → method results
	retries  int
	events   int
	outcomes int
	mismatch []string
}

func (f *fakeSidecar) handle(ctx *fasthttp.RequestCtx) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch string(ctx.Path()) {
	case "/v1/verifications":
		var v struct{ ChallengeID, Method, Result string }
		_ = json.Unmarshal(ctx.PostBody(), &v)
		f.verified[v.ChallengeID] += v.Method + ":" + v.Result + " "
		ctx.SetBodyString(`{"status":"passed"}`)
	case "/v1/events":
		f.events++
		ctx.SetBodyString(`{"recorded":true}`)
	case "/v1/outcomes":
		f.outcomes++
		ctx.SetBodyString(`{"known":true}`)
	case "/v1/decide":
		var r struct {
			ChallengeID string `json:"challenge_id"`
			Stage       string `json:"stage"`
			Txn         *struct {
				ID string `json:"id"`
			} `json:"txn"`
		}
		_ = json.Unmarshal(ctx.PostBody(), &r)
		switch {
		case r.ChallengeID != "":
			f.retries++
			if r.Txn == nil || r.ChallengeID != "c-"+r.Txn.ID {
				f.mismatch = append(f.mismatch, string(ctx.PostBody()))
			}
			ctx.SetBodyString(`{"outcome":"allow","reasons":["step_up_verified"],"took_us":5}`)
		case r.Txn != nil:
			ctx.SetBodyString(fmt.Sprintf(`{"outcome":"step_up","reasons":["large_amount"],"step_up":{"methods":["face"],"challenge_id":"c-%s"},"took_us":5}`, r.Txn.ID))
		default:
			ctx.SetBodyString(`{"outcome":"allow","reasons":[],"took_us":5}`)
		}
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// The load generator plays sessions: a step-up is answered at
// /v1/verifications with its challenge and the same transaction is
// retried naming it; verifications, events and the payments' outcomes
// are side calls on connections of their own, decisions are what the
// result counts; closed and open loops alike.
func TestRunPlaysSessions(t *testing.T) {
	for _, rate := range []float64{0, 300} {
		f := &fakeSidecar{verified: map[string]string{}}
		addr := serve(t, f.handle)
		src := &populationSessions{tr: NewTraffic(MixConfig{UIDs: 2000, Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})}
		res, err := Run(Load{Addr: addr, Path: "/v1/decide", Sessions: NewSessionQueue(src, 0), Conns: 4, Duration: 400 * time.Millisecond, Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		if res.Errors != 0 || res.Sessions == 0 || res.SideCalls == 0 || res.SideLatency == nil ||
			res.Outcomes["step_up"] == 0 || res.Outcomes["allow"] == 0 {
			t.Fatalf("rate %v: %+v (first error %s)", rate, res, res.ErrorSample)
		}
		if f.retries == 0 || len(f.mismatch) > 0 || len(f.verified) == 0 || f.outcomes == 0 {
			t.Fatalf("rate %v: %d retries, %d outcomes, mismatched %v, verified %v", rate, f.retries, f.outcomes, f.mismatch, f.verified)
		}
		for c, results := range f.verified {
			if !strings.Contains(results, "face:") {
				t.Fatalf("challenge %s: %q", c, results)
			}
		}
		// Side calls come on top of the decisions: an open loop answers
		// the decisions it offers (each slot a decision).
		if want := int64(rate * 0.4); rate > 0 && res.Requests+res.Unsent != want {
			t.Fatalf("rate %v: %d decisions answered and %d unsent of %d offered (%d side calls)", rate, res.Requests, res.Unsent, want, res.SideCalls)
		}
		if res.SideCalls < int64(len(f.verified)) {
			t.Fatalf("%d side calls for %d verified challenges", res.SideCalls, len(f.verified))
		}
		f.mu.Unlock()
	}
}

// OPA decides the population's requests with the reference policy (and
// the harness's decision rule): mostly allow, some step_up, every
// account takeover's withdrawal stopped.
func TestOPAPolicyOnPopulationMix(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := PreparePolicies(root, t.TempDir(), 1, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pq, err := rego.New(rego.Query("data.riskpdp.decision"), rego.Load([]string{ps.Dir}, nil)).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mix, err := GenerateMix(MixConfig{Size: 10000, UIDs: 20000, Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, r := range mix {
		var body struct{ Input any }
		if err := json.Unmarshal(r.OPA, &body); err != nil {
			t.Fatal(err)
		}
		rs, err := pq.Eval(ctx, rego.EvalInput(body.Input))
		if err != nil || len(rs) != 1 {
			t.Fatalf("eval: %v, %d results", err, len(rs))
		}
		d := rs[0].Expressions[0].Value.(map[string]any)
		out := d["outcome"].(string)
		outcomes[out]++
		if r.Scenario == "account_takeover" && r.Stage == "withdrawal" && out == "allow" {
			t.Errorf("takeover withdrawal allowed: %s", r.Decide)
		}
	}
	if outcomes["allow"] < len(mix)*9/10 || outcomes["step_up"] == 0 {
		t.Fatalf("outcomes %v", outcomes)
	}
}
