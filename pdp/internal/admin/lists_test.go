package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// testAPI is the operator API over a real state file.
type testAPI struct {
	t    *testing.T
	h    http.Handler
	st   *state.Store
	path string
	now  time.Time
}

const testToken = "test-write-token-0123456789"

func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	a, _, _ := buildTestAPI(t, testToken+" write tester\n", nil)
	return a
}

// buildTestAPI is the operator API over a real state file in a new
// directory with the token file tokens, its clock the returned *time.Time
// (2026-11-22 10:00 UTC until the test moves it). wrap, if not nil, wraps
// the state file's backend (a fault injector). It returns the token file's
// path too.
func buildTestAPI(t *testing.T, tokens string, wrap func(state.Backend) state.Backend) (*testAPI, *time.Time, string) {
	t.Helper()
	dir := t.TempDir()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := &now
	path := filepath.Join(dir, "state.db")
	cfg := state.Config{Path: path, SweepInterval: -1, Clock: func() time.Time { return *clock }}
	if wrap != nil {
		be, err := state.OpenBolt(path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Backend = wrap(be)
	}
	st, err := state.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	toks, err := LoadTokens(tokenFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Store: st, Tokens: toks, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return *clock }}).srv.Handler
	return &testAPI{t: t, h: h, st: st, path: path, now: now}, clock, tokenFile
}

// do sends a request (target as a client would put it on the wire) and
// returns the status and the decoded answer.
func (a *testAPI) do(method, target, body string) (int, map[string]any) {
	a.t.Helper()
	return a.as(testToken, method, target, body)
}

// as is do with token's bearer.
func (a *testAPI) as(token, method, target, body string) (int, map[string]any) {
	a.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		a.t.Fatalf("%s %s: not JSON: %q", method, target, rec.Body)
	}
	return rec.Code, m
}

func (a *testAPI) journal() []pdp.AuditRecord {
	a.t.Helper()
	var out []pdp.AuditRecord
	if err := a.st.Journal(context.Background(), state.JournalFilter{}, func(r pdp.AuditRecord) error {
		out = append(out, r)
		return nil
	}); err != nil {
		a.t.Fatal(err)
	}
	return out
}

const why = `{"operator":"alice","reason":"fraud ring","ticket":"RISK-7"}`

func errorOf(m map[string]any) (code, field, msg string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	msg, _ = e["message"].(string)
	return
}

// Every value no request can carry is refused with 400 invalid_value for
// the field "value", for PUT and DELETE, before anything is stored or
// journaled; a card number is not even written to the file.
func TestListAPIRefusesValuesNoRequestCarries(t *testing.T) {
	a := newTestAPI(t)
	for _, path := range []string{
		"block/ip/999.1.1.1",
		"block/ip/1.2.3",
		"block/ip/01.2.3.4",
		"block/ip/%201.2.3.4",
		"block/ip/fe80::1%25eth0",
		"block/ip/10.1.2.3%2F8",
		"block/ip/10.1.2.3/8",
		"block/ip/0.0.0.0%2F0",
		"block/ip/0.0.0.0/0",
		"block/ip/::%2F0",
		"block/ip/10.0.0.0%2F33",
		"block/ip/10.0.0.0/x",
		"allow/ip/10.0.0.0%2F8",
		"vip/ip/2001:db8::%2F32",
		"allow/ip/::ffff:0:0%2F95",
		"block/card_bin/4111111111111111",
		"block/card_bin/4111-1111-1111-1111",
		"block/card_bin/41111",
		"block/card_bin/411111111",
		"block/card_bin/4111a1",
		"block/card_bin/%EF%BC%94%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91%EF%BC%91",
		"block/uid/u-1%00",
		"block/uid/u%0A1",
		"block/uid/u-1%7F",
		"block/uid/u-%EF%BF%BD",
		"block/uid/u-%FF",
		"block/uid/" + strings.Repeat("u", 129),
		"block/device/d-%1B",
		"vip/device/" + strings.Repeat("d", 129),
	} {
		for _, method := range []string{"PUT", "DELETE"} {
			code, m := a.do(method, "/admin/v1/lists/"+path, why)
			c, field, msg := errorOf(m)
			if code != 400 || c != "invalid_value" || field != "value" {
				t.Errorf("%s %s: %d %v", method, path, code, m)
			}
			if strings.Contains(msg, "4111111111111111") {
				t.Errorf("%s %s: the answer repeats the card number: %s", method, path, msg)
			}
		}
	}
	if j := a.journal(); len(j) != 0 {
		t.Fatalf("journaled: %+v", j)
	}
	for _, list := range []string{"block", "allow", "vip"} {
		for _, kind := range []string{"uid", "device", "ip", "card_bin"} {
			if code, m := a.do("GET", "/admin/v1/lists/"+list+"/"+kind, ""); code != 200 || len(m["entries"].([]any)) != 0 {
				t.Errorf("%s/%s: %d %v", list, kind, code, m)
			}
		}
	}
	a.st.Close()
	raw, err := os.ReadFile(a.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"4111111111111111", "999.1.1.1", "41111"} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("%q is in the state file", v)
		}
	}
}

// IP values are stored in one spelling; PUT, DELETE, GET and the journal
// use it, whatever spelling the operator sent.
func TestListAPICanonicalIP(t *testing.T) {
	a := newTestAPI(t)
	for _, tt := range []struct{ sent, stored string }{
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"::FFFF:1.2.3.4", "1.2.3.4"},
		{"1.2.3.4", "1.2.3.4"},
		{"1.2.3.4%2F32", "1.2.3.4"},
		{"2001:DB8:0:0::1", "2001:db8::1"},
		{"::ffff:10.0.0.0%2F104", "10.0.0.0/8"},
		{"2001:DB8:AB00::%2F40", "2001:db8:ab00::/40"},
	} {
		code, m := a.do("PUT", "/admin/v1/lists/block/ip/"+tt.sent, why)
		if code != 200 || m["value"] != tt.stored {
			t.Fatalf("PUT %s: %d %v", tt.sent, code, m)
		}
		j := a.journal()
		if got := j[len(j)-1].Target; got != "block/ip/"+tt.stored {
			t.Fatalf("PUT %s: journal target %q", tt.sent, got)
		}
	}
	_, m := a.do("GET", "/admin/v1/lists/block/ip", "")
	var values []string
	for _, e := range m["entries"].([]any) {
		values = append(values, e.(map[string]any)["value"].(string))
	}
	if got := strings.Join(values, " "); got != "1.2.3.4 2001:db8::1 10.0.0.0/8 2001:db8:ab00::/40" {
		t.Fatalf("entries: %s", got)
	}
	// Paging: the cursor in any spelling.
	if code, m := a.do("GET", "/admin/v1/lists/block/ip?limit=1&after=::ffff:1.2.3.4", ""); code != 200 || m["next_after"] != "2001:db8::1" {
		t.Fatalf("page: %d %v", code, m)
	}
	if code, m := a.do("GET", "/admin/v1/lists/block/ip?after=1.2.3", ""); code != 400 {
		t.Fatalf("bad cursor: %d %v", code, m)
	} else if _, field, _ := errorOf(m); field != "after" {
		t.Fatalf("bad cursor names %q", field)
	}
	if rep, _ := a.st.Reputation(pdp.SubjectIP, "::ffff:1.2.3.4", a.now); !rep.Blocked {
		t.Fatal("not blocked")
	}
	if code, m := a.do("DELETE", "/admin/v1/lists/block/ip/::FFFF:1.2.3.4", why); code != 200 || m["deleted"] != "block/ip/1.2.3.4" {
		t.Fatalf("DELETE: %d %v", code, m)
	}
	if code, _ := a.do("DELETE", "/admin/v1/lists/block/ip/1.2.3.4", why); code != 404 {
		t.Fatalf("second DELETE: %d", code)
	}
	if rep, _ := a.st.Reputation(pdp.SubjectIP, "1.2.3.4", a.now); rep.Blocked {
		t.Fatal("still blocked")
	}
}

// A range travels percent-encoded in one segment or unencoded in two;
// either way it is one entry that blocks the addresses inside it, expires
// by its TTL and is deleted by either spelling. Other kinds take no
// second segment.
func TestListAPIRanges(t *testing.T) {
	a := newTestAPI(t)
	if code, m := a.do("PUT", "/admin/v1/lists/block/ip/10.0.0.0%2F8", why); code != 200 || m["value"] != "10.0.0.0/8" {
		t.Fatalf("encoded: %d %v", code, m)
	}
	if code, m := a.do("PUT", "/admin/v1/lists/block/ip/2001:db8::/32", `{"operator":"alice","reason":"abuse","ticket":"RISK-8","ttl":"1h"}`); code != 200 || m["value"] != "2001:db8::/32" || m["expires"] == nil {
		t.Fatalf("unencoded: %d %v", code, m)
	}
	if code, m := a.do("PUT", "/admin/v1/lists/allow/ip/192.168.0.0/16", why); code != 200 {
		t.Fatalf("allow /16: %d %v", code, m)
	}
	for _, tt := range []struct {
		ip       string
		at       time.Duration
		blocked  bool
		allowed  bool
		question string
	}{
		{"10.200.1.1", 0, true, false, "inside the IPv4 range"},
		{"::ffff:10.200.1.1", 0, true, false, "inside, v4-mapped"},
		{"11.0.0.1", 0, false, false, "outside the IPv4 range"},
		{"2001:db8:1::1", 0, true, false, "inside the IPv6 range"},
		{"2001:db8:1::1", time.Hour, false, false, "inside, after the TTL"},
		{"192.168.3.4", 0, false, true, "inside the allowed range"},
	} {
		rep, err := a.st.Reputation(pdp.SubjectIP, tt.ip, a.now.Add(tt.at))
		if err != nil || rep.Blocked != tt.blocked || rep.Allowed != tt.allowed {
			t.Errorf("%s (%s): %+v %v", tt.ip, tt.question, rep, err)
		}
	}
	if code, m := a.do("DELETE", "/admin/v1/lists/block/ip/10.0.0.0/8", why); code != 200 || m["deleted"] != "block/ip/10.0.0.0/8" {
		t.Fatalf("DELETE: %d %v", code, m)
	}
	if rep, _ := a.st.Reputation(pdp.SubjectIP, "10.200.1.1", a.now); rep.Blocked {
		t.Fatal("blocked after the delete")
	}
	if code, m := a.do("PUT", "/admin/v1/lists/block/uid/u/1", why); code != 404 {
		t.Fatalf("two segments for a uid: %d %v", code, m)
	}
	if code, m := a.do("GET", "/admin/v1/lists/block/ip/1.0.0.0/8", why); code != 405 {
		t.Fatalf("GET of one range: %d %v", code, m)
	}
}

// A BIN entry is 6 to 8 digits and blocks every longer BIN it begins.
func TestListAPIBINPrefixes(t *testing.T) {
	a := newTestAPI(t)
	if code, m := a.do("PUT", "/admin/v1/lists/block/card_bin/411111", why); code != 200 {
		t.Fatalf("%d %v", code, m)
	}
	for bin, want := range map[string]bool{"411111": true, "4111112": true, "41111111": true, "411112": false, "41111": false} {
		rep, err := a.st.Reputation(pdp.SubjectCardBIN, bin, a.now)
		if rep.Blocked != want || (err != nil) != (len(bin) < 6) {
			t.Errorf("%s: %+v %v", bin, rep, err)
		}
	}
}
