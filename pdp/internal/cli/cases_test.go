package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Case follow-up against a running sidecar: a policy flags a large
// payment ("key tracking"); the flagged decision, the account's later
// decisions, its verification results and the operators' actions form one
// trail in time order, queryable by UID, flag and time; closing the case
// stops the tracking.
func TestCaseFollowUp(t *testing.T) {
	dir := t.TempDir()
	policiesWithShortFreeze(t, dir)
	s := startSOP(t, dir)
	const read = "op-read-token-0123456789"

	// An unflagged account leaves no trail.
	s.decide(pay("u-quiet", "t-1", 20, ""))

	// 1. A payment abroad is stepped up and 2. the face check fails (the
	// verification is journaled as every one is); 3. a 60 000 CNY payment
	// is flagged; 4. a later small payment is tracked too; 5. an operator
	// freezes the account.
	_, d := s.decide(strings.Replace(pay("u-case", "t-abroad", 6000, ""), `"ip_country":"CN"`, `"ip_country":"SG"`, 1))
	if d["outcome"] != "step_up" {
		t.Fatalf("payment abroad: %v", d)
	}
	challenge := d["step_up"].(map[string]any)["challenge_id"].(string)
	if code, m := s.post("/v1/verifications", "application/json", fmt.Sprintf(`{"challenge_id":%q,"method":"face","result":"failed"}`, challenge)); code != 200 {
		t.Fatalf("verification: %d %v", code, m)
	}
	// The operator's account view lists it.
	_, acct := s.op("GET", "/admin/v1/accounts/u-case", read, "")
	if vs, _ := acct["verifications"].([]any); len(vs) != 1 || vs[0].(map[string]any)["challenge_id"] != challenge ||
		vs[0].(map[string]any)["status"] != "failed" || vs[0].(map[string]any)["results"].(map[string]any)["face"] != "failed" {
		t.Fatalf("account view verifications: %v", acct["verifications"])
	}
	_, d = s.decide(pay("u-case", "t-big", 60000, ""))
	if d["outcome"] != "deny" || !slices.Contains(reasons(d), "extreme_amount_unclear_purpose") {
		t.Fatalf("extreme amount: %v", d)
	}
	flagged := d["decision_id"].(string)
	_, later := s.decide(pay("u-case", "t-small", 15, ""))
	if code, m := s.op("POST", "/admin/v1/accounts/u-case/freeze", opToken, `{"kind":"review","operator":"alice","reason":"failed face check, then a 60k payment","ticket":"RISK-9"}`); code != 200 {
		t.Fatalf("freeze: %d %v", code, m)
	}

	// The case list: by UID, by flag, by time.
	var cases []any
	waitFor(t, func() bool {
		_, m := s.op("GET", "/admin/v1/cases?uid=u-case", read, "")
		cases, _ = m["cases"].([]any)
		return len(cases) == 1
	})
	c := cases[0].(map[string]any)
	if c["decision_id"] != flagged || !slices.Equal(toStrings(c["flags"]), []string{"key_tracking"}) ||
		c["decision"].(map[string]any)["amount"] != 60000.0 {
		t.Fatalf("case: %v", c)
	}
	if _, m := s.op("GET", "/admin/v1/cases?flag=key_tracking", read, ""); len(m["cases"].([]any)) != 1 {
		t.Fatalf("by flag: %v", m)
	}
	for _, q := range []string{"?flag=other", "?uid=u-quiet", "?since=2100-01-01T00:00:00Z", "?until=2000-01-01T00:00:00Z"} {
		if code, m := s.op("GET", "/admin/v1/cases"+q, read, ""); code != 200 || len(m["cases"].([]any)) != 0 {
			t.Fatalf("%s: %d %v", q, code, m)
		}
	}
	for q, field := range map[string]string{"?since=yesterday": "since", "?limit=0": "limit", "?from_seq=-1": "from_seq"} {
		if code, m := s.op("GET", "/admin/v1/cases"+q, read, ""); code != 400 || m["error"].(map[string]any)["field"] != field {
			t.Fatalf("%s: %d %v", q, code, m)
		}
	}
	if code, _ := s.op("GET", "/admin/v1/cases", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}

	// The trail, in time order.
	var trail []any
	var m map[string]any
	waitFor(t, func() bool {
		_, m = s.op("GET", "/admin/v1/cases/u-case", read, "")
		trail, _ = m["trail"].([]any)
		return len(trail) == 4
	})
	var actions []string
	for _, e := range trail {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	open := m["open_flags"].([]any)
	if !slices.Equal(actions, []string{"verification", "decision", "decision", "freeze"}) || len(open) != 2 ||
		open[0].(map[string]any)["kind"] != "key_tracking" || open[1].(map[string]any)["decision_id"] != flagged {
		t.Fatalf("trail %v, open flags %v", actions, open)
	}
	v := trail[0].(map[string]any)["detail"].(map[string]any)
	if v["challenge_id"] != challenge || v["result"] != "failed" {
		t.Fatalf("verification entry: %v", v)
	}
	if trail[1].(map[string]any)["detail"].(map[string]any)["decision_id"] != flagged ||
		trail[2].(map[string]any)["detail"].(map[string]any)["decision_id"] != later["decision_id"] {
		t.Fatalf("decisions in the trail: %v", trail[1:3])
	}

	// Closing: a write token, a reason; then the account's decisions are
	// no longer tracked.
	if code, _ := s.op("POST", "/admin/v1/cases/u-case/close", read, `{"operator":"bob","reason":"done"}`); code != 403 {
		t.Fatalf("close with a read token: %d", code)
	}
	if code, m := s.op("POST", "/admin/v1/cases/u-case/close", opToken, `{"operator":"alice"}`); code != 400 || m["error"].(map[string]any)["field"] != "reason" {
		t.Fatalf("close without a reason: %d %v", code, m)
	}
	if code, m := s.op("POST", "/admin/v1/cases/u-case/close", opToken, `{"operator":"alice","reason":"confirmed fraud, card blocked","ticket":"RISK-9"}`); code != 200 || len(m["flags"].([]any)) != 0 { // the account's view, its flags closed
		t.Fatalf("close: %d %v", code, m)
	}
	if code, m := s.op("POST", "/admin/v1/cases/u-case/close", opToken, `{"operator":"alice","reason":"again","ticket":"RISK-9"}`); code != 409 {
		t.Fatalf("closing a closed case: %d %v", code, m)
	}
	s.decide(pay("u-case", "t-after", 15, ""))
	waitFor(t, func() bool {
		_, m = s.op("GET", "/admin/v1/cases/u-case", read, "")
		trail, _ = m["trail"].([]any)
		return len(trail) == 5
	})
	if a := trail[4].(map[string]any)["action"]; a != "case.close" {
		t.Fatalf("last entry %v", a)
	}
}
