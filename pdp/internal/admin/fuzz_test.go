package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// fuzzRoutes are the operator API's routes; a fuzz input picks one by
// number and fills in its path value, query and body.
var fuzzRoutes = []struct {
	method, prefix, suffix string
	write                  bool
}{
	{"GET", "/admin/v1/accounts/", "", false},
	{"POST", "/admin/v1/accounts/", "/freeze", true},
	{"POST", "/admin/v1/accounts/", "/release", true},
	{"PUT", "/admin/v1/accounts/", "/limit", true},
	{"DELETE", "/admin/v1/accounts/", "/limit", true},
	{"GET", "/admin/v1/lists/", "", false},
	{"PUT", "/admin/v1/lists/", "", true},
	{"DELETE", "/admin/v1/lists/", "", true},
	{"GET", "/admin/v1/journal", "", false},
	{"GET", "/admin/v1/queue", "", false},
	{"POST", "/admin/v1/accounts/", "/assign", true},
	{"POST", "/admin/v1/accounts/", "/claim", true},
	{"POST", "/admin/v1/accounts/", "/notes", true},
	{"POST", "/admin/v1/accounts/", "/approve", true}, // value uid/approvals/id
	{"POST", "/admin/v1/accounts/", "/reject", true},
	{"POST", "/admin/v1/accounts/", "/answer", true}, // value uid/appeals/id
}

// FuzzOperatorAPI sends any request body, path value and query to the
// operator API over a real state file, with a write token. Every answer is
// JSON with a status the API documents (never 500 while the state is
// healthy); an error carries a code whose status is that status; and the
// audit journal grows by exactly one record for every change answered 200
// or 202 (a release waiting for a second operator), and by none otherwise
// (nothing changes without its record), each with a readable operator and
// reason.
func FuzzOperatorAPI(f *testing.F) {
	act := `"operator":"alice","reason":"emulator farm","ticket":"RISK-1"`
	for _, seed := range []struct {
		route    uint8
		value, q string
		body     string
	}{
		{0, "u-1", "", ``},
		{1, "u-1", "", `{` + act + `,"kind":"temporary","duration":"30m"}`},
		{1, "u-1", "", `{` + act + `,"kind":"review","functions":["withdrawal","payment"]}`},
		{1, "u-1", "", `{` + act + `,"kind":"permanent","duration":"30m"}`},
		{1, "u-2", "", `{` + act + `,"kind":"temporary","duration":"-1s"}`},
		{1, "u-2", "", `{"kind":"review"}`},
		{2, "u-1", "", `{` + act + `,"probation":"0s"}`},
		{2, "u-1", "", `{` + act + `,"probation":"soon"}`},
		{3, "u-1", "", `{` + act + `,"daily_amount":5000,"currency":"CNY","duration":"24h"}`},
		{3, "u-1", "", `{` + act + `,"daily_amount":1e309,"currency":"CNY"}`},
		{3, "u-1", "", `{` + act + `,"max_amount":-0,"currency":"CN"}`},
		{4, "u-1", "", `{` + act + `}`},
		{5, "block/uid", "limit=2&after=u-0", ``},
		{5, "nope/uid", "limit=0", ``},
		{6, "block/device/d-77", "", `{` + act + `,"ttl":"72h"}`},
		{6, "allow/card_bin/411111", "", `{` + act + `}`},
		{6, "vip/ip/" + strings.Repeat("9", 129), "", `{` + act + `}`},
		{6, "block/ip/10.0.0.0/8", "", `{` + act + `,"ttl":"1h"}`},
		{6, "block/ip/::ffff:1.2.3.4", "", `{` + act + `}`},
		{6, "block/ip/999.1.1.1", "", `{` + act + `}`},
		{6, "block/card_bin/4111111111111111", "", `{` + act + `}`},
		{7, "block/ip/::ffff:10.0.0.0/104", "", `{` + act + `}`},
		{5, "block/ip", "after=::ffff:1.2.3.4", ``},
		{7, "block/device/d-77", "", `{` + act + `}`},
		{7, "block/device/never", "", `{` + act + `}`},
		{8, "", "uid=u-1&from_seq=1&limit=5", ``},
		{8, "", "since=yesterday", ``},
		{1, "u-1", "", `{` + act + `,"kind":"review","password":"x"}`},
		{1, "u-1", "", `{` + act + `,"operator":"bob","kind":"review"}`},
		{1, "u-1", "", `{` + act + `,"kind":"review","note":"4111111111111111"}`},
		{3, "u-1", "", `{` + act + `,"daily_amount":"5000","currency":"CNY"}`},
		{2, "u-1", "", `{"operator":`},
		{6, "block/uid/u-1", "", `[]`},
		{1, "u-1", "", `{"operator":"\u200b","reason":"x","kind":"review"}`},
		{6, "block/uid/u-1", "", `{"operator":"alice","reason":" \u00a0","ticket":"\ufeff"}`},
		{9, "", "kind=appeal&min_age=1h&limit=2", ``},
		{9, "", "mine=true&stage=withdrawal", ``},
		{9, "", "after=bm9wZQ", ``},
		{10, "u-1", "", `{"assignee":"bob"}`},
		{11, "u-1", "", ``},
		{12, "u-1", "", `{` + act + `,"text":"called the user, travelling"}`},
		{12, "u-1", "", `{` + act + `,"text":"card 4111 1111 1111 1111"}`},
		{13, "u-1/approvals/apr-000000000000", "", `{` + act + `}`},
		{14, "u-1/approvals/apr-000000000000", "", `{` + act + `}`},
		{15, "u-1/appeals/ap-1", "", `{` + act + `,"status":"rejected","answer":"the freeze stays"}`},
	} {
		f.Add(seed.route, seed.value, seed.q, []byte(seed.body))
	}
	dir := f.TempDir()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st, err := state.Open(state.Config{Path: filepath.Join(dir, "state.db"), SweepInterval: -1,
		Clock: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	tokenFile := filepath.Join(dir, "tokens")
	const token = "fuzz-write-token-0123456789"
	if err := os.WriteFile(tokenFile, []byte(token+" write fuzzer\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	toks, err := LoadTokens(tokenFile, nil)
	if err != nil {
		f.Fatal(err)
	}
	h := New(Options{Store: st, Tokens: toks, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), Now: func() time.Time { return now }}).srv.Handler
	var seq uint64 // the journal's last sequence number seen

	f.Fuzz(func(t *testing.T, route uint8, value, query string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		segs := strings.Split(value, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		target := rt.prefix + strings.Join(segs, "/") + rt.suffix
		if !strings.HasSuffix(rt.prefix, "/") {
			target = rt.prefix
		}
		req, err := http.NewRequest(rt.method, target+"?"+query, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		switch rec.Code {
		case 200, 202, 400, 403, 404, 405, 409, 413:
		default:
			t.Fatalf("%s %s %q: status %d: %s", rt.method, req.URL, body, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q: %s", rt.method, req.URL, ct, rec.Body)
		}
		var answer map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %q", rt.method, req.URL, rec.Body)
		}
		if rec.Code >= 300 {
			var e struct{ Code pdp.ErrorCode }
			if json.Unmarshal(answer["error"], &e) != nil || e.Code == "" || server.StatusOf(e.Code) != rec.Code {
				t.Fatalf("%s %s: status %d with %s", rt.method, req.URL, rec.Code, rec.Body)
			}
		}
		added := 0
		err = st.Journal(context.Background(), state.JournalFilter{FromSeq: seq + 1}, func(r pdp.AuditRecord) error {
			added++
			seq = r.Seq
			if operatorText.check(r.Actor.Operator, "") != nil || reasonText.check(r.Actor.Reason, "") != nil ||
				r.Actor.Ticket != "" && ticketText.check(r.Actor.Ticket, "") != nil {
				t.Errorf("journal record without a readable operator, reason or ticket: %+v", r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if rt.write && rec.Code < 300 {
			want = 1
		}
		if added != want {
			t.Fatalf("%s %s %q: status %d, %d journal records (want %d)", rt.method, req.URL, body, rec.Code, added, want)
		}
	})
}
