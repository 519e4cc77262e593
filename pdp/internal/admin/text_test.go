package admin

import (
	"context"
	"encoding/json"
	"fmt"
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

// blankTexts show nothing a person could read: each must be refused as
// an operator, a reason or a ticket.
var blankTexts = map[string]string{
	"space":                     " ",
	"spaces and tabs":           " \t ",
	"newline":                   "\n",
	"NBSP":                      "\u00a0",
	"ideographic space":         "\u3000",
	"em space":                  "\u2003",
	"line separator":            "\u2028",
	"zero-width space":          "\u200b",
	"zero-width joiners":        "\u200c\u200d",
	"LRM RLM":                   "\u200e\u200f",
	"word joiner":               "\u2060",
	"BOM":                       "\ufeff",
	"soft hyphen":               "\u00ad",
	"Mongolian vowel separator": "\u180e",
	"Hangul filler":             "\u3164",
	"halfwidth Hangul filler":   "\uffa0",
	"Braille blank":             "\u2800",
	"variation selector":        "\ufe0f",
	"combining acute alone":     "\u0301",
	"combining grapheme joiner": "\u034f",
	"tag space":                 "\U000e0020",
	"NUL":                       "\x00",
	"DEL":                       "\x7f",
	"C1 NEL":                    "\u0085",
	"mixed":                     " \u200b\u00a0\ufeff\u3164 ",
}

func TestTextRuleRefusesBlank(t *testing.T) {
	for name, s := range blankTexts {
		for _, r := range []textRule{operatorText, reasonText, ticketText} {
			err := r.check(s, "test")
			e := pdp.AsError(err)
			if err == nil || e.Field != r.field || (e.Code != pdp.CodeMissingField && e.Code != pdp.CodeInvalidValue) {
				t.Errorf("%s %s %q: %v", r.field, name, s, err)
			}
		}
	}
}

func TestTextRuleRefusesHiddenCharactersInside(t *testing.T) {
	for _, c := range []struct {
		name, s string
		rules   []textRule
	}{
		{"newline", "alice\nbob", []textRule{operatorText, reasonText, ticketText}},
		{"carriage return", "emulator farm\r", []textRule{operatorText, reasonText, ticketText}},
		{"NUL", "alice\x00", []textRule{operatorText, reasonText, ticketText}},
		{"escape sequence", "alice\x1b[31m", []textRule{operatorText, reasonText, ticketText}},
		{"tab", "a\tb", []textRule{operatorText, reasonText, ticketText}},
		{"C1 control", "alice\u009b", []textRule{operatorText, reasonText, ticketText}},
		{"RLO", "alice\u202eecila", []textRule{operatorText, reasonText, ticketText}},
		{"isolate", "ok \u2066x\u2069", []textRule{operatorText, reasonText, ticketText}},
		{"Arabic letter mark", "a\u061cb", []textRule{operatorText, reasonText, ticketText}},
		{"replacement character", "alice\ufffd", []textRule{operatorText, reasonText, ticketText}},
		{"invalid UTF-8", "alice\xff", []textRule{operatorText, reasonText, ticketText}},
		{"zero-width space in a name", "al\u200bice", []textRule{operatorText, ticketText}},
		{"BOM in a name", "\ufeffalice", []textRule{operatorText, ticketText}},
		{"Hangul filler in a name", "alice\u3164", []textRule{operatorText, ticketText}},
		{"tag characters in a name", "alice\U000e0041", []textRule{operatorText, ticketText}},
		{"too long", strings.Repeat("a", 129), []textRule{operatorText, ticketText}},
		{"too long reason", strings.Repeat("a", 1025), []textRule{reasonText}},
	} {
		for _, r := range c.rules {
			err := r.check(c.s, "test")
			if e := pdp.AsError(err); err == nil || e.Field != r.field || e.Code != pdp.CodeInvalidValue {
				t.Errorf("%s %s %q: %v", r.field, c.name, c.s, err)
			}
		}
	}
}

func TestTextRuleAcceptsReadableText(t *testing.T) {
	for _, s := range []string{"alice", "a", "王芳", "Zoë", "O'Brien", "ops-bot@payments", "1", "-", "😀", "alice smith",
		strings.Repeat("a", 128)} {
		for _, r := range []textRule{operatorText, reasonText, ticketText} {
			if err := r.check(s, "test"); err != nil {
				t.Errorf("%s %q refused: %v", r.field, s, err)
			}
		}
	}
	// Text shaping inside free text (a Persian ZWNJ, an emoji ZWJ
	// sequence) is fine in a reason, not in a name.
	for _, s := range []string{"می\u200cخواهم", "👩\u200d💻 on call", "fraud\u00a0ring"} {
		if err := reasonText.check(s, "test"); err != nil {
			t.Errorf("reason %q refused: %v", s, err)
		}
	}
	for _, r := range []textRule{operatorText, reasonText, ticketText} {
		if e := pdp.AsError(r.check("", "test")); e.Code != pdp.CodeMissingField || e.Field != r.field {
			t.Errorf("%s empty: %v", r.field, e)
		}
	}
}

// TestEveryWriteRefusesBlankActor: every operator write route refuses a
// blank or invisible operator, reason or ticket with 400 naming the field,
// and journals nothing.
func TestEveryWriteRefusesBlankActor(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(state.Config{Path: filepath.Join(dir, "state.db"), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tokenFile := filepath.Join(dir, "tokens")
	const token = "write-token-0123456789"
	os.WriteFile(tokenFile, []byte(token+" write\n"), 0o600)
	toks, err := LoadTokens(tokenFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Store: st, Tokens: toks, Now: time.Now}).srv.Handler
	writes := []struct{ method, path, extra string }{
		{"POST", "/admin/v1/accounts/u-1/freeze", `,"kind":"review"`},
		{"POST", "/admin/v1/accounts/u-1/release", ``},
		{"PUT", "/admin/v1/accounts/u-1/limit", `,"daily_amount":5000,"currency":"CNY"`},
		{"DELETE", "/admin/v1/accounts/u-1/limit", ``},
		{"PUT", "/admin/v1/lists/block/device/d-77", ``},
		{"DELETE", "/admin/v1/lists/block/device/d-77", ``},
		{"POST", "/admin/v1/cases/u-1/close", ``},
	}
	call := func(method, path, body string) (int, map[string]map[string]string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var m map[string]map[string]string
		json.Unmarshal(w.Body.Bytes(), &m)
		return w.Code, m
	}
	journaled := func() int {
		n := 0
		st.Journal(context.Background(), state.JournalFilter{}, func(pdp.AuditRecord) error { n++; return nil })
		return n
	}
	before := journaled()
	for _, w := range writes {
		for name, blank := range map[string]string{"zero-width space": "\u200b", "space": " ", "BOM and NBSP": "\ufeff\u00a0"} {
			for _, field := range []string{"operator", "reason", "ticket"} {
				act := map[string]string{"operator": "alice", "reason": "emulator farm", "ticket": "RISK-1"}
				act[field] = blank
				b, _ := json.Marshal(act)
				body := strings.TrimSuffix(string(b), "}") + w.extra + "}"
				code, m := call(w.method, w.path, body)
				if code != http.StatusBadRequest || m["error"]["field"] != field {
					t.Errorf("%s %s with %s %s: %d %v", w.method, w.path, field, name, code, m)
				}
			}
		}
	}
	if n := journaled(); n != before {
		t.Errorf("%d journal records for refused changes", n-before)
	}
	// The same writes with a readable actor pass the check (a case with
	// no open flag is a conflict, a list entry already gone not found).
	for _, w := range writes {
		body := fmt.Sprintf(`{"operator":"alice","reason":"emulator farm","ticket":"RISK-1"%s}`, w.extra)
		if code, m := call(w.method, w.path, body); code == http.StatusBadRequest || code >= 500 {
			t.Errorf("%s %s: %d %v", w.method, w.path, code, m)
		}
	}
}
