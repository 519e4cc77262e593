package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// console sends a request with the session cookie (and csrf, if not "").
func (a *opsAPI) console(cookie *http.Cookie, csrf, method, target, body string) (int, map[string]any, *httptest.ResponseRecorder) {
	a.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if cookie != nil {
		req.AddCookie(cookie)
	}
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		a.t.Fatalf("%s %s: not JSON: %q", method, target, rec.Body)
	}
	return rec.Code, m, rec
}

func (a *opsAPI) signIn(token string) (*http.Cookie, string) {
	a.t.Helper()
	code, m, rec := a.console(nil, "", "POST", "/console/api/session", `{"token":"`+token+`"}`)
	if code != 201 {
		a.t.Fatalf("sign in: %d %v", code, m)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		a.t.Fatalf("sign in set %d cookies", len(cookies))
	}
	return cookies[0], m["csrf_token"].(string)
}

// TestConsoleSession: an operator token is exchanged for an HttpOnly,
// SameSite=Strict session cookie; every change made with the cookie needs
// the session's CSRF token; a read token's session may only read; the
// session ends with sign-out, after 30 minutes idle, 12 hours after sign-in,
// and at once when its token leaves the token file.
func TestConsoleSession(t *testing.T) {
	a := newOpsAPI(t)
	if code, m, _ := a.console(nil, "", "POST", "/console/api/session", `{"token":"not-a-token-at-all-000"}`); code != 401 {
		t.Fatalf("sign in with a wrong token: %d %v", code, m)
	}
	cookie, csrf := a.signIn(aliceToken)
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Value == "" ||
		strings.Contains(cookie.Value, aliceToken) {
		t.Fatalf("session cookie %+v", cookie)
	}
	if code, m, _ := a.console(cookie, "", "GET", "/console/api/session", ""); code != 200 || m["name"] != "alice" || m["role"] != "write" || m["csrf_token"] != csrf {
		t.Fatalf("session: %d %v", code, m)
	}
	if code, m, _ := a.console(cookie, "", "GET", "/admin/v1/accounts/u-1", ""); code != 200 {
		t.Fatalf("read with the session: %d %v", code, m)
	}
	freeze := `{` + byAlice + `,"kind":"review"}`
	for _, bad := range []string{"", "wrong", csrf + "x"} {
		code, m, _ := a.console(cookie, bad, "POST", "/admin/v1/accounts/u-1/freeze", freeze)
		if code != 403 || m["error"].(map[string]any)["field"] != csrfHeader {
			t.Fatalf("change with CSRF token %q: %d %v", bad, code, m)
		}
	}
	if n := len(a.journal()); n != 0 {
		t.Fatalf("%d journal records after refused changes", n)
	}
	if code, m, _ := a.console(cookie, csrf, "POST", "/admin/v1/accounts/u-1/freeze", freeze); code != 200 || m["frozen"] != true {
		t.Fatalf("change with the CSRF token: %d %v", code, m)
	}
	if j := a.journal(); len(j) != 1 || !strings.Contains(j[0].Detail, `"token":"alice"`) {
		t.Fatalf("journal %+v: want the change by the session's token name", j)
	}

	// A read token's session reads only.
	rc, rcsrf := a.signIn(readToken)
	if code, m, _ := a.console(rc, rcsrf, "POST", "/admin/v1/accounts/u-2/freeze", freeze); code != 403 {
		t.Fatalf("change with a read session: %d %v", code, m)
	}

	// Sign-out needs the CSRF token, then the cookie is dead.
	if code, m, _ := a.console(rc, "", "DELETE", "/console/api/session", ""); code != 403 {
		t.Fatalf("sign out without the CSRF token: %d %v", code, m)
	}
	if code, m, rec := a.console(rc, rcsrf, "DELETE", "/console/api/session", ""); code != 200 || rec.Result().Cookies()[0].MaxAge >= 0 {
		t.Fatalf("sign out: %d %v", code, m)
	}
	if code, m, _ := a.console(rc, "", "GET", "/admin/v1/accounts/u-1", ""); code != 401 {
		t.Fatalf("read after sign-out: %d %v", code, m)
	}

	// Idle for more than 30 minutes.
	*a.clock = a.clock.Add(31 * time.Minute)
	if code, m, _ := a.console(cookie, "", "GET", "/admin/v1/accounts/u-1", ""); code != 401 {
		t.Fatalf("read after 31 idle minutes: %d %v", code, m)
	}

	// Busy, but 12 hours after sign-in.
	cookie, _ = a.signIn(aliceToken)
	for range 12 * 3 {
		*a.clock = a.clock.Add(20 * time.Minute)
		if code, m, _ := a.console(cookie, "", "GET", "/console/api/session", ""); code != 200 {
			t.Fatalf("busy session at %v: %d %v", a.clock, code, m)
		}
	}
	*a.clock = a.clock.Add(20 * time.Minute)
	if code, m, _ := a.console(cookie, "", "GET", "/console/api/session", ""); code != 401 {
		t.Fatalf("session 12h20m after sign-in: %d %v", code, m)
	}

	// The token leaves the file: its session ends with it.
	cookie, _ = a.signIn(bobToken)
	if err := os.WriteFile(a.tokenFile, []byte(aliceToken+" write alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, m, _ := a.console(cookie, "", "GET", "/admin/v1/accounts/u-1", ""); code != 401 {
		t.Fatalf("read after the token was removed from the file: %d %v", code, m)
	}
}
