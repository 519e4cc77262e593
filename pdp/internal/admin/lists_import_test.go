package admin

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

const importWhy = "operator=alice&reason=" + "fraud+ring+sweep" + "&ticket=RISK-9"

// importCSV posts a CSV body to the import route.
func (a *testAPI) importCSV(query, body string) (int, map[string]any) {
	a.t.Helper()
	req := httptest.NewRequest("POST", "/admin/v1/lists/import?"+query, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "text/csv; charset=utf-8")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		a.t.Fatalf("import: not JSON: %q", rec.Body)
	}
	return rec.Code, m
}

// lineReport is one line of an import's answer, for comparing.
type lineReport struct {
	status, value, code, field string
}

func importLines(t *testing.T, m map[string]any) map[int]lineReport {
	t.Helper()
	out := map[int]lineReport{}
	for _, l := range m["lines"].([]any) {
		l := l.(map[string]any)
		r := lineReport{status: l["status"].(string)}
		r.value, _ = l["value"].(string)
		if e, ok := l["error"].(map[string]any); ok {
			r.code, _ = e["code"].(string)
			r.field, _ = e["field"].(string)
		}
		out[int(l["line"].(float64))] = r
	}
	return out
}

// The import checks every line as PUT does and imports the good ones, one
// journal record per entry (as PUT writes it, naming the import and the
// line); a byte order mark, CRLF line ends and quoted fields are CSV as a
// spreadsheet writes it.
func TestListImport(t *testing.T) {
	a := newTestAPI(t)
	csv := "\ufefflist,kind,value,ttl,reason\r\n" +
		"block,device,d-farm-1,72h,emulator farm\r\n" + // 2
		"block,ip,::ffff:198.51.100.0/120,,\"abuse report, \"\"ring 7\"\"\"\r\n" + // 3: quoted, canonical 198.51.100.0/24
		"block,card_bin,4111111111111111,,card number\r\n" + // 4: a card number is no BIN
		"block,ip,10.0.0.0/4,,too wide\r\n" + // 5: wider than /8
		"allow,uid,u-good,soon,bad ttl\r\n" + // 6
		"vip,uid,u-vip\r\n" + // 7: a missing column
		"vip,uid,u-vip,,\r\n" + // 8: reason empty: the import's
		"block,\"uid\",\"u-1\nu-2\",,newline in a uid\r\n" + // 9: a quoted field over two lines
		"block,card_bin, 411111 ,24h,padded BIN\r\n" + // 11
		"block,device,d-farm-1,,twice\r\n" + // 12: the same entry as line 2
		"grey,uid,u-x,,\r\n" + // 13
		"block,device, d-pad,,\r\n" // 14: padding around a device
	code, m := a.importCSV(importWhy, csv)
	if code != 200 {
		t.Fatalf("import: %d %v", code, m)
	}
	want := map[int]lineReport{
		2:  {"imported", "d-farm-1", "", ""},
		3:  {"imported", "198.51.100.0/24", "", ""},
		4:  {"refused", "", "invalid_value", "value"},
		5:  {"refused", "", "invalid_value", "value"},
		6:  {"refused", "", "invalid_value", "ttl"},
		7:  {"refused", "", "missing_field", ""},
		8:  {"imported", "u-vip", "", ""},
		9:  {"refused", "", "invalid_value", "value"},
		11: {"imported", "411111", "", ""},
		12: {"refused", "", "duplicate_key", "value"},
		13: {"refused", "", "invalid_value", "list"},
		14: {"refused", "", "invalid_value", "value"},
	}
	got := importLines(t, m)
	for n, w := range want {
		if got[n] != w {
			t.Errorf("line %d: %+v, want %+v", n, got[n], w)
		}
	}
	if len(got) != len(want) || m["imported"] != 4.0 || m["refused"] != 8.0 {
		t.Errorf("report: %v", m)
	}
	if b, _ := json.Marshal(m); bytes.Contains(b, []byte("4111111111111111")) {
		t.Errorf("the report repeats the card number: %s", b)
	}

	// In force, as PUT would have put them.
	if rep, _ := a.st.Reputation(pdp.SubjectIP, "198.51.100.7", a.now); !rep.Blocked {
		t.Error("the imported range blocks nothing")
	}
	if rep, _ := a.st.Reputation(pdp.SubjectDevice, "d-farm-1", a.now.Add(73*time.Hour)); rep.Blocked {
		t.Error("the 72h entry did not end")
	}
	_, l := a.do("GET", "/admin/v1/lists/vip/uid", "")
	if e := l["entries"].([]any)[0].(map[string]any); e["reason"] != "fraud ring sweep" || e["by"].(map[string]any)["ticket"] != "RISK-9" {
		t.Errorf("an empty reason is the import's: %v", e)
	}
	_, l = a.do("GET", "/admin/v1/lists/block/ip", "")
	if e := l["entries"].([]any)[0].(map[string]any); e["reason"] != `abuse report, "ring 7"` {
		t.Errorf("quoted reason: %v", e)
	}

	// One journal record per entry, as PUT writes them (in commit order:
	// sorted here by line).
	j := a.journal()
	if len(j) != 4 {
		t.Fatalf("journal: %d records, want 4: %+v", len(j), j)
	}
	slices.SortFunc(j, func(x, y pdp.AuditRecord) int { return cmp.Compare(lineOf(x), lineOf(y)) })
	for i, wantTarget := range []string{"block/device/d-farm-1", "block/ip/198.51.100.0/24", "vip/uid/u-vip", "block/card_bin/411111"} {
		r := j[i]
		var d map[string]any
		_ = json.Unmarshal([]byte(r.Detail), &d)
		if r.Action != "list.put" || r.Target != wantTarget || r.Actor.Operator != "alice" || r.Actor.Reason != "fraud ring sweep" ||
			d["import"] != m["import_id"] || d["token"] != "tester" || d["line"] == nil {
			t.Errorf("record %d: %+v (detail %v)", i, r, d)
		}
	}
	if j[2].UID != "u-vip" {
		t.Errorf("a uid entry's record is not in the account's trail: %+v", j[2])
	}
	if code, tr := a.do("GET", "/admin/v1/cases/u-vip", ""); code != 200 || len(tr["trail"].([]any)) != 1 {
		t.Errorf("case trail: %d %v", code, tr)
	}
}

// A dry run checks the same and writes nothing.
func TestListImportDryRun(t *testing.T) {
	a := newTestAPI(t)
	code, m := a.importCSV(importWhy+"&dry_run=true", "list,kind,value,ttl,reason\nblock,uid,u-1,,x\nblock,ip,0.0.0.0/0,,all\n")
	got := importLines(t, m)
	if code != 200 || got[2].status != "valid" || got[2].value != "u-1" || got[3].status != "refused" ||
		m["valid"] != 1.0 || m["imported"] != 0.0 || m["refused"] != 1.0 || m["dry_run"] != true {
		t.Fatalf("dry run: %d %v", code, m)
	}
	if j := a.journal(); len(j) != 0 {
		t.Fatalf("a dry run journalled: %+v", j)
	}
	if rep, _ := a.st.Reputation(pdp.SubjectUID, "u-1", a.now); rep.Blocked {
		t.Fatal("a dry run listed")
	}
}

// What is wrong with the whole import refuses it whole: 400, nothing
// written.
func TestListImportRefusedWhole(t *testing.T) {
	a := newTestAPI(t)
	good := "list,kind,value,ttl,reason\nblock,uid,u-1,,x\n"
	for _, tt := range []struct {
		name, query, body, code, field string
	}{
		{"no operator", "reason=x&ticket=T-1", good, "missing_field", "operator"},
		{"no reason", "operator=alice&ticket=T-1", good, "missing_field", "reason"},
		{"blank reason", "operator=alice&reason=%E2%80%8B&ticket=T-1", good, "missing_field", "reason"},
		{"invisible operator", "operator=al%E2%80%8Bice&reason=x&ticket=T-1", good, "invalid_value", "operator"},
		{"bad dry_run", importWhy + "&dry_run=yes", good, "invalid_value", "dry_run"},
		{"empty", importWhy, "", "missing_field", "header"},
		{"header only", importWhy, "list,kind,value,ttl,reason\n", "missing_field", ""},
		{"no header", importWhy, "block,uid,u-1,,x\n", "unknown_field", "header"},
		{"header without ttl", importWhy, "list,kind,value,reason\nblock,uid,u-1,x\n", "missing_field", "header"},
		{"column twice", importWhy, "list,kind,value,ttl,reason,value\n", "duplicate_key", "header"},
		{"unbalanced quote", importWhy, good + "block,uid,\"u-2,,x\n", "invalid_value", ""},
		{"bare quote", importWhy, good + "block,uid,u\"2,,x\n", "invalid_value", ""},
	} {
		code, m := a.importCSV(tt.query, tt.body)
		c, field, msg := errorOf(m)
		if code != 400 || c != tt.code || field != tt.field {
			t.Errorf("%s: %d %s %s %q", tt.name, code, c, field, msg)
		}
	}
	if j := a.journal(); len(j) != 0 {
		t.Fatalf("journalled: %+v", j)
	}
	// JSON is not CSV; a read token may not import.
	req := httptest.NewRequest("POST", "/admin/v1/lists/import?"+importWhy, strings.NewReader(good))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if rec.Code != 415 {
		t.Errorf("JSON body: %d %s", rec.Code, rec.Body)
	}
	// Over the body limit: 413, nothing written.
	big := good + strings.Repeat("block,device,d-0123456789,,bulk\n", maxBody/30)
	if code, m := a.importCSV(importWhy, big); code != 413 {
		t.Errorf("over the limit: %d %v", code, m)
	}
	if j := a.journal(); len(j) != 0 {
		t.Fatalf("journalled: %d records", len(j))
	}
}

// lineOf is the import line a journal record names.
func lineOf(r pdp.AuditRecord) int {
	var d struct {
		Line int `json:"line"`
	}
	_ = json.Unmarshal([]byte(r.Detail), &d)
	return d.Line
}

// failingBackend fails every commit that writes a key containing poison,
// or every commit while down.
type failingBackend struct {
	state.Backend
	poison atomic.Pointer[string]
	down   atomic.Bool
}

func (f *failingBackend) Commit(b *state.Batch) (uint64, error) {
	if f.down.Load() {
		return 0, errors.New("injected I/O error")
	}
	if p := f.poison.Load(); p != nil {
		for _, w := range b.Writes {
			if bytes.Contains(w.Key, []byte(*p)) {
				return 0, errors.New("injected I/O error")
			}
		}
	}
	return f.Backend.Commit(b)
}

// A store failure part-way answers 500 with the report: the lines before
// it imported (and durable), the others not written.
func TestListImportStoreFailsPartWay(t *testing.T) {
	var fb *failingBackend
	a, _, _ := buildTestAPI(t, testToken+" write tester\n", func(be state.Backend) state.Backend {
		fb = &failingBackend{Backend: be}
		return fb
	})
	csv := "list,kind,value,ttl,reason\nblock,uid,u-1,,x\nblock,uid,u-2,,x\nblock,ip,0.0.0.0/0,,x\nblock,uid,u-poison,,x\nblock,uid,u-4,,x\n"
	poison := "u-poison"
	fb.poison.Store(&poison)
	code, m := a.importCSV(importWhy, csv)
	got := importLines(t, m)
	if e, _ := m["error"].(map[string]any); code != 500 || e["code"] != "internal" {
		t.Fatalf("store failure: %d %v", code, m)
	}
	if got[4].status != "refused" || got[5].status != "not_written" || got[5].value != "u-poison" {
		t.Fatalf("store failure: %v", m)
	}
	// The report is exact: a line is "imported" if and only if its entry
	// and record are written.
	fb.poison.Store(nil)
	journalled := map[int]bool{}
	for _, r := range a.journal() {
		journalled[lineOf(r)] = true
	}
	imported := 0
	for n, l := range got {
		if (l.status == "imported") != journalled[n] {
			t.Errorf("line %d: %s, journalled %v", n, l.status, journalled[n])
		}
		if uid := []string{2: "u-1", 3: "u-2", 6: "u-4"}; n != 4 && n < len(uid) && uid[n] != "" {
			rep, _ := a.st.Reputation(pdp.SubjectUID, uid[n], a.now)
			if rep.Blocked != (l.status == "imported") {
				t.Errorf("line %d: %s, blocked %v", n, l.status, rep.Blocked)
			}
		}
		if l.status == "imported" {
			imported++
		}
	}
	if m["imported"] != float64(imported) || m["imported"].(float64)+m["not_written"].(float64) != 4 || m["refused"] != 1.0 {
		t.Errorf("counts: %v", m)
	}
	// The store down: nothing written, every good line not_written.
	fb.down.Store(true)
	code, m = a.importCSV(importWhy, "list,kind,value,ttl,reason\nblock,uid,u-7,,x\nblock,uid,u-8,,x\n")
	if got := importLines(t, m); code != 500 || got[2].status != "not_written" || got[3].status != "not_written" || m["imported"] != 0.0 {
		t.Fatalf("store down: %d %v", code, m)
	}
}

// The import route is behind the write role and named in the 405s.
func TestListImportRoute(t *testing.T) {
	a := newTestAPI(t)
	if code, m := a.do("GET", "/admin/v1/lists/import", ""); code != 405 {
		t.Fatalf("GET import: %d %v", code, m)
	}
	q := url.Values{"operator": {"alice"}, "reason": {"a reason, with spaces & more"}, "ticket": {"RISK 10"}}.Encode()
	if code, m := a.importCSV(q, "list,kind,value,ttl,reason\nallow,device,d-1,,\n"); code != 200 || m["imported"] != 1.0 {
		t.Fatalf("encoded query: %d %v", code, m)
	}
	if j := a.journal(); j[0].Actor.Reason != "a reason, with spaces & more" || j[0].Actor.Ticket != "RISK 10" {
		t.Fatalf("journal actor: %+v", j[0].Actor)
	}
}

// BenchmarkListImport imports a body at the size limit (2 112 device
// entries) into a real state file: the time of a full import.
func BenchmarkListImport(b *testing.B) {
	var body strings.Builder
	body.WriteString("list,kind,value,ttl,reason\n")
	for i := 0; body.Len() < maxBody-64; i++ {
		fmt.Fprintf(&body, "block,device,d-%06d,72h,farm\n", i)
	}
	dir := b.TempDir()
	st, err := state.Open(state.Config{Path: filepath.Join(dir, "state.db"), SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte(testToken+" write tester\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	toks, err := LoadTokens(tokenFile, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := New(Options{Store: st, Tokens: toks, Logger: slog.New(slog.DiscardHandler)}).srv.Handler
	b.ResetTimer()
	for range b.N {
		req := httptest.NewRequest("POST", "/admin/v1/lists/import?"+importWhy, strings.NewReader(body.String()))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"imported":2112,"refused":0`) {
			b.Fatalf("%d %.300s", rec.Code, rec.Body)
		}
	}
}
