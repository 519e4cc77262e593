package cli

import (
	"fmt"
	"slices"
	"testing"
)

// Account events over HTTP reach the policy and outlive a restart: a phone
// change before a large withdrawal steps it up, five PIN failures lock
// payments, five failed logins step the next login up.
func TestEventsReachThePolicy(t *testing.T) {
	dir := t.TempDir()
	policiesWithShortFreeze(t, dir)
	s := startSOP(t, dir)
	withdraw := func(uid, txn string) string {
		return fmt.Sprintf(`{"stage":"withdrawal","uid":%q,"device":{"id":"d-%s","ip":"203.0.113.7","ip_country":"CN"},
			"txn":{"id":%q,"amount":3000,"currency":"CNY"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`, uid, uid, txn)
	}
	login := func(uid string) string {
		return fmt.Sprintf(`{"stage":"login","uid":%q,"device":{"id":"d-%s","ip":"203.0.113.7","ip_country":"CN"}}`, uid, uid)
	}
	event := func(uid, kind string) {
		t.Helper()
		if code, m := s.post("/v1/events", "application/json", fmt.Sprintf(`{"uid":%q,"kind":%q}`, uid, kind)); code != 200 {
			t.Fatalf("event %s: %d %v", kind, code, m)
		}
	}
	// Bad events are refused with the field named.
	for body, field := range map[string]string{
		`{"uid":"u-ev","kind":"hair_cut"}`:                    "kind",
		`{"kind":"phone_change"}`:                             "uid",
		`{"uid":"u-ev","kind":"phone_change","at":"Monday"}`:  "at",
		`{"uid":"u-ev","kind":"phone_change","extra":true}`:   "extra",
		`{"uid":"u-ev","kind":"phone_change","pin":"123456"}`: "pin",
	} {
		if code, m := s.post("/v1/events", "application/json", body); code != 400 || m["error"].(map[string]any)["field"] != field {
			t.Errorf("%s: %d %v, want 400 naming %s", body, code, m, field)
		}
	}

	if _, d := s.decide(withdraw("u-calm", "t-1")); slices.Contains(reasons(d), "sensitive_change_before_large_amount") {
		t.Fatalf("no event, yet %v", d)
	}
	event("u-ev", "phone_change")
	for range 5 {
		event("u-pin", "pin_failed")
		event("u-login", "login_failed")
	}
	check := func(when string) {
		t.Helper()
		if _, d := s.decide(withdraw("u-ev", "t-1")); d["outcome"] != "step_up" || !slices.Contains(reasons(d), "sensitive_change_before_large_amount") {
			t.Fatalf("%s: phone change, then a large withdrawal: %v", when, d)
		}
		if _, d := s.decide(pay("u-pin", "t-1", 20, "")); d["outcome"] != "deny" || !slices.Contains(reasons(d), "pin_lockout") {
			t.Fatalf("%s: five PIN failures, then a payment: %v", when, d)
		}
		if _, d := s.decide(login("u-login")); d["outcome"] != "step_up" || !slices.Contains(reasons(d), "login_failures") {
			t.Fatalf("%s: five failed logins, then a login: %v", when, d)
		}
	}
	check("live")
	if code := s.shutdown(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	s = &sop{sidecar: startSidecar(t, s.args...), admin: s.admin, args: s.args}
	check("after a restart")
}
