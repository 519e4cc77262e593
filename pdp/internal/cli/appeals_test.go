package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// getJSON GETs path from the decision listener.
func (s *sidecar) getJSON(path string) (int, map[string]any, string) {
	s.t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		s.t.Fatalf("GET %s: not JSON (%d): %q", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m, string(raw)
}

func errField(m map[string]any) (code, field any) {
	e, _ := m["error"].(map[string]any)
	return e["code"], e["field"]
}

// Appeals against a running sidecar: a frozen account's appeal lands in
// the queue and the status shows it open with its due time; an account in
// good standing cannot appeal; a card number in the reason or in a
// document is refused naming the field; the same request_id twice lodges
// one appeal; the status never shows the freeze's rule, operator, ticket
// or decision.
func TestAppealsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "policies", "riskpdp"))
	s := startSOP(t, dir)

	// An operator's freeze, and a policy's (six payments in a minute).
	if code, m := s.op("POST", "/admin/v1/accounts/u-ap/freeze", opToken,
		`{"kind":"review","operator":"alice","reason":"mule ring suspected","ticket":"RISK-4242"}`); code != 200 {
		t.Fatalf("freeze: %d %v", code, m)
	}
	var decisionIDs []string
	for i := 1; i <= 6; i++ {
		_, d := s.decide(pay("u-hf", fmt.Sprintf("t-%d", i), 20, ""))
		decisionIDs = append(decisionIDs, d["decision_id"].(string))
	}

	// Good standing: nothing to appeal.
	if code, m := s.post("/v1/appeals", "application/json", `{"uid":"u-calm","reason":"why?"}`); code != 409 {
		t.Fatalf("appeal in good standing: %d %v", code, m)
	} else if c, _ := errField(m); c != "nothing_to_appeal" {
		t.Fatalf("appeal in good standing: %v", m)
	}
	// What must never be stored is refused, naming the field.
	for body, field := range map[string]string{
		`{"uid":"u-ap","reason":"my card 4111 1111 1111 1111 is mine"}`:               "reason",
		`{"uid":"u-ap","reason":"my PIN is 4321"}`:                                    "reason",
		`{"uid":"u-ap","reason":"mine","documents":["4111111111111111"]}`:             "documents[0]",
		`{"uid":"u-ap","reason":"mine","documents":["data:image/jpeg;base64,/9j/4"]}`: "documents[0]",
	} {
		if code, m := s.post("/v1/appeals", "application/json", body); code != 400 {
			t.Errorf("%s: %d %v, want 400", body, code, m)
		} else if _, f := errField(m); f != field {
			t.Errorf("%s: field %v, want %s", body, f, field)
		}
	}

	before := time.Now().UTC()
	body := `{"uid":"u-ap","reason":"I did nothing wrong; the transfers were to my sister.","documents":["kyc-77"],"request_id":"app-req-1"}`
	code, first := s.post("/v1/appeals", "application/json", body)
	if code != 201 || first["status"] != "open" || !strings.HasPrefix(first["appeal_id"].(string), "ap-") {
		t.Fatalf("appeal: %d %v", code, first)
	}
	lodged, _ := time.Parse(time.RFC3339Nano, first["lodged_at"].(string))
	due, _ := time.Parse(time.RFC3339Nano, first["answer_due_at"].(string))
	if lodged.Before(before.Add(-time.Second)) || !due.Equal(lodged.Add(48*time.Hour)) {
		t.Fatalf("lodged %v, due %v", lodged, due)
	}
	code, again := s.post("/v1/appeals", "application/json", body)
	if code != 200 || again["appeal_id"] != first["appeal_id"] || again["lodged_at"] != first["lodged_at"] {
		t.Fatalf("the same request_id again: %d %v, first %v", code, again, first)
	}
	if code, m := s.post("/v1/appeals", "application/json", `{"uid":"u-hf","reason":"those payments were mine"}`); code != 201 {
		t.Fatalf("appeal of the policy's freeze: %d %v", code, m)
	}

	code, st, raw := s.getJSON("/v1/accounts/u-ap/status")
	if code != 200 || st["status"] != "frozen" || st["can_appeal"] != true || st["until"] != nil ||
		!strings.Contains(st["message"].(string), "review") {
		t.Fatalf("status: %d %s", code, raw)
	}
	appeals := st["appeals"].([]any)
	if len(appeals) != 1 {
		t.Fatalf("status: %d appeals, want one: %s", len(appeals), raw)
	}
	if a := appeals[0].(map[string]any); a["appeal_id"] != first["appeal_id"] || a["status"] != "open" ||
		a["answer_due_at"] != first["answer_due_at"] || a["answered_at"] != nil {
		t.Fatalf("status appeal %v, lodged %v", a, first)
	}
	_, hf, rawHF := s.getJSON("/v1/accounts/u-hf/status?locale=zh")
	if hf["status"] != "frozen" || hf["until"] == nil || !strings.Contains(hf["message"].(string), "账户暂时受限") {
		t.Fatalf("status of the policy's freeze: %s", rawHF)
	}
	// Nothing internal.
	for _, secret := range append([]string{"alice", "RISK-4242", "mule ring", "high_frequency", "operator", "ticket", "rule",
		"reason", "sister", "kyc-77", "decision_id"}, decisionIDs...) {
		if strings.Contains(raw, secret) || strings.Contains(rawHF, secret) {
			t.Errorf("status shows %q:\n%s\n%s", secret, raw, rawHF)
		}
	}
	// The operator reads the words the user reads: the operator API's
	// user-status is the app's answer, byte for byte, in either locale.
	for path, app := range map[string]string{"/u-ap/user-status": raw, "/u-hf/user-status?locale=zh": rawHF} {
		if code, got := s.opRaw("GET", "/admin/v1/accounts"+path, "op-read-token-0123456789"); code != 200 || got != app {
			t.Errorf("GET %s: %d\n%s\nwant the app's\n%s", path, code, got, app)
		}
	}
	if code, got := s.opRaw("GET", "/admin/v1/accounts/u-ap/user-status?locale=no%20such", opToken); code != 400 || !strings.Contains(got, `"field":"locale"`) {
		t.Errorf("user-status in a bad locale: %d %s", code, got)
	}
	if code, _ := s.opRaw("GET", "/admin/v1/accounts/u-ap/user-status", "not-a-token"); code != 401 {
		t.Errorf("user-status without a token: %d", code)
	}
	// The appeal is journaled without the user's words.
	_, journal := s.opRaw("GET", "/admin/v1/journal?uid=u-ap", opToken)
	if !strings.Contains(journal, `appeal/`+first["appeal_id"].(string)) || strings.Contains(journal, "sister") {
		t.Errorf("journal: %s", journal)
	}

	// The edge's rules, as for the other endpoints.
	if code, _, _ := s.getJSON("/v1/accounts/u-ap/other"); code != 404 {
		t.Errorf("GET /v1/accounts/u-ap/other: %d", code)
	}
	if code, m := s.post("/v1/accounts/u-ap/status", "application/json", `{}`); code != 405 {
		t.Errorf("POST status: %d %v", code, m)
	}
	if code, m := s.post("/v1/appeals", "text/plain", body); code != 415 {
		t.Errorf("appeal as text/plain: %d %v", code, m)
	}
	if code, _, _ := s.getJSON("/v1/appeals"); code != 405 {
		t.Errorf("GET /v1/appeals: %d", code)
	}
	if code, _, raw := s.getJSON("/v1/accounts/u%2Fslash/status"); code != 200 || !strings.Contains(raw, `"uid":"u/slash"`) {
		t.Errorf("a UID with an escaped slash: %d %s", code, raw)
	}
	req, _ := http.NewRequest("GET", s.url+"/v1/accounts/u-ap/status", nil)
	req.Host = "evil.example"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 421 {
		t.Errorf("status with a foreign Host: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
