package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/riskpdp/riskpdp/pdp/internal/admin"
	"github.com/riskpdp/riskpdp/pdp/internal/admin/console"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// The console in a real browser: headless Chromium (Debian's chromium,
// `make deps`) driven by chromedp against an operator API on a loopback
// port over a state file. Screenshots of every page go to
// $PDP_TEST_ARTIFACTS (default: console-artifacts in the system's temp
// directory). Without a chromium the test is skipped, unless
// PDP_REQUIRE_BROWSER is set (CI).

const (
	aliceToken  = "alice-write-token-0123456789"
	bobToken    = "bob-write-token-01234567890"
	readerToken = "reader-read-token-0123456789"
)

func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PDP_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium: make deps installs it")
	}
	t.Skip("no chromium (make deps installs it)")
	return ""
}

func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PDP_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "console-artifacts")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// operatorAPI serves the operator API on a loopback port and returns its
// base URL.
func operatorAPI(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := state.Open(state.Config{Path: filepath.Join(dir, "state.db"), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tf := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tf, []byte(aliceToken+" write alice\n"+bobToken+" write bob\n"+readerToken+" read reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toks, err := admin.LoadTokens(tf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := admin.New(admin.Options{Store: st, Tokens: toks, Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String()
}

// call is the operator API with a bearer token, as a script calls it.
func call(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser: not with -short")
	}
	exe := browser(t)
	shots := artifacts(t)
	base := operatorAPI(t)

	// Work to do: five accounts frozen for review (five queue items), one
	// frozen for good.
	const by = `"operator":"alice","reason":"setup","ticket":"T-1"`
	for i := 1; i <= 5; i++ {
		if code, m := call(t, base, aliceToken, "POST", fmt.Sprintf("/admin/v1/accounts/u-review-%d/freeze", i), `{`+by+`,"kind":"review"}`); code != 200 {
			t.Fatalf("review freeze: %d %v", code, m)
		}
	}
	if code, m := call(t, base, aliceToken, "POST", "/admin/v1/accounts/u-perm/freeze", `{`+by+`,"kind":"permanent"}`); code != 200 {
		t.Fatalf("permanent freeze: %d %v", code, m)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("lang", "en-GB"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	// An exception in the page or a Content-Security-Policy violation fails
	// the test (the refusals the test provokes log "Failed to load
	// resource" lines: expected).
	var mu sync.Mutex
	var pageErrors, allMsgs []string
	msgs := chromedp.Console(bctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			mu.Lock()
			allMsgs = append(allMsgs, string(m.Type)+": "+m.Text)
			mu.Unlock()
			if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				pageErrors = append(pageErrors, m.Text)
				mu.Unlock()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			b, err := chromedp.FullScreenshot(100)(ctx, tg) // quality 100: PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644)
		})
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, a := range actions {
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := chromedp.Do(sctx, a)
			cancel()
			if err != nil {
				html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('flash').textContent + ' | ' + location.hash`))
				mu.Lock()
				t.Logf("console: %q", allMsgs)
				mu.Unlock()
				t.Fatalf("%s, action %d: %v (page: %s)", step, i, err, html)
			}
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return void(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second)))
	}
	flashHas := func(want string) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`document.getElementById('flash').textContent.includes(%q)`, want))
	}
	setValue := func(sel, v string) chromedp.Action[chromedp.Void] {
		js, _ := json.Marshal(v)
		return void(chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).value = %s, true)`, sel, js)))
	}
	signIn := func(token string) {
		t.Helper()
		run("sign in",
			chromedp.WaitVisible(chromedp.ID("signin-token")),
			chromedp.SendKeys(chromedp.ID("signin-token"), token),
			chromedp.Click(chromedp.ID("signin-submit")),
			poll(`!!document.querySelector('#queue-table, #queue-empty')`))
	}

	// Sign-in page, a wrong token, then alice.
	run("open", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("signin-form")),
		poll(`document.getElementById('nav').offsetParent === null`), shot("01-signin"),
		chromedp.SendKeys(chromedp.ID("signin-token"), "not-a-token"), chromedp.Click(chromedp.ID("signin-submit")),
		flashHas("Not a valid operator token"), setValue("#signin-token", ""))
	signIn(aliceToken)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue-table tbody tr').length`))
	if err != nil || rows != 5 {
		t.Fatalf("queue: %d rows (%v), want the 5 review freezes", rows, err)
	}
	run("queue", shot("02-queue"))

	// Claim the first, then "assigned to me" shows it alone.
	run("claim", chromedp.Click(chromedp.CSS(`#queue-table tbody tr:first-child button.claim`)), flashHas("is yours"),
		chromedp.Click(chromedp.ID("q-mine")), chromedp.Click(chromedp.ID("q-apply")),
		poll(`location.hash.includes('mine=true') && document.querySelectorAll('#queue-table tbody tr').length === 1`),
		shot("03-queue-mine"))
	if got := textOf(`#queue-table tbody tr:first-child td:nth-child(8)`); got != "alice" {
		t.Errorf("assigned to me: assignee %q", got)
	}
	// Paging: two a page, three pages.
	run("paging", chromedp.Click(chromedp.ID("q-mine")), setValue("#q-limit", "2"),
		chromedp.Click(chromedp.ID("q-apply")),
		poll(`!location.hash.includes('mine') && document.querySelectorAll('#queue-table tbody tr').length === 2`),
		chromedp.Click(chromedp.ID("q-next")), poll(`location.hash.includes('after=') && !!document.getElementById('q-prev')`),
		chromedp.Click(chromedp.ID("q-next")),
		poll(`document.querySelectorAll('#queue-table tbody tr').length === 1 && !document.getElementById('q-next')`),
		shot("04-queue-page3"))

	// The permanent freeze: alice asks for the release, which waits.
	run("account", chromedp.Navigate(base+"/console/#/account/u-perm"), chromedp.WaitVisible(chromedp.ID("f-release")))
	if got := textOf(`#status-text`); !strings.Contains(got, "frozen") {
		t.Errorf("status text %q", got)
	}
	run("release", chromedp.SendKeys(chromedp.ID("f-release-reason"), "identity checked by phone"),
		chromedp.SendKeys(chromedp.ID("f-release-ticket"), "RISK-9"), chromedp.Click(chromedp.ID("f-release-submit")),
		flashHas("waits for approval"), chromedp.WaitVisible(chromedp.CSS(`#approvals .waits`)), shot("05-account-release-waits"))
	if code, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-perm", ""); code != 200 || m["frozen"] != true {
		t.Fatalf("after alice's release: %d frozen=%v, want still frozen", code, m["frozen"])
	}
	// alice may not approve her own.
	run("self-approve", chromedp.SendKeys(chromedp.CSS(`#approvals form.approval input[name=reason]`), "mine"),
		chromedp.SendKeys(chromedp.CSS(`#approvals form.approval input[name=ticket]`), "RISK-9"),
		chromedp.Click(chromedp.CSS(`#approvals form.approval button[type=submit]`)), flashHas("403"))

	// Sign out; bob approves.
	run("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin-form")), flashHas("Signed out"))
	signIn(bobToken)
	run("approve", chromedp.Navigate(base+"/console/#/account/u-perm"), chromedp.WaitVisible(chromedp.CSS(`#approvals form.approval`)),
		chromedp.SendKeys(chromedp.CSS(`#approvals form.approval input[name=reason]`), "second look: agreed"),
		chromedp.SendKeys(chromedp.CSS(`#approvals form.approval input[name=ticket]`), "RISK-9"),
		chromedp.Click(chromedp.CSS(`#approvals form.approval button[type=submit]`)), flashHas("Approved"),
		poll(`!document.querySelector('#approvals table') && !!document.getElementById('status-text')`),
		shot("06-account-approved"))
	if code, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-perm", ""); code != 200 || m["frozen"] != false {
		t.Fatalf("after bob's approval: %d frozen=%v", code, m["frozen"])
	}
	if got := textOf(`#status-text`); strings.Contains(got, "frozen") {
		t.Errorf("status text after the release: %q", got)
	}

	// A grey freeze of withdrawals, a limit and a note on another account,
	// each journalled and shown at once.
	run("grey freeze", chromedp.Navigate(base+"/console/#/account/u-grey"), chromedp.WaitVisible(chromedp.ID("f-freeze")),
		setValue("#f-freeze-kind", "review"), chromedp.Click(chromedp.CSS(`#f-freeze input[name=fn][value=withdrawal]`)),
		chromedp.SendKeys(chromedp.ID("f-freeze-reason"), "mule pattern"), chromedp.SendKeys(chromedp.ID("f-freeze-ticket"), "RISK-11"),
		chromedp.Click(chromedp.ID("f-freeze-submit")), flashHas("Frozen"),
		poll(`document.getElementById('status-text').textContent.includes('withdrawal')`),
		chromedp.SendKeys(chromedp.CSS(`#f-limit input[name=daily_amount]`), "500"),
		chromedp.SendKeys(chromedp.CSS(`#f-limit input[name=currency]`), "CNY"),
		chromedp.SendKeys(chromedp.ID("f-limit-reason"), "cap while we look"), chromedp.SendKeys(chromedp.ID("f-limit-ticket"), "RISK-11"),
		chromedp.Click(chromedp.ID("f-limit-submit")), flashHas("Done"), chromedp.WaitVisible(chromedp.CSS(`#sec-limits table`)),
		chromedp.SendKeys(chromedp.CSS(`#f-note textarea[name=text]`), "called the user; waiting for documents"),
		chromedp.SendKeys(chromedp.ID("f-note-reason"), "contact"), chromedp.SendKeys(chromedp.ID("f-note-ticket"), "RISK-11"),
		chromedp.Click(chromedp.ID("f-note-submit")), flashHas("Done"),
		poll(`document.getElementById('sec-notes').textContent.includes('waiting for documents') &&
			document.getElementById('journal').textContent.includes('note')`),
		shot("07-account-grey-limit-note"))
	if _, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-grey", ""); m["frozen"] != false ||
		fmt.Sprint(m["restricted"]) != "[withdrawal]" || len(m["limits"].([]any)) != 1 || len(m["notes"].([]any)) != 1 {
		t.Errorf("u-grey: frozen %v restricted %v limits %v notes %v", m["frozen"], m["restricted"], m["limits"], m["notes"])
	}

	// A CSV import with a per-line report.
	csv := "list,kind,value,ttl,reason\nblock,uid,u-bad-1,72h,fraud ring\nblock,ip,10.1.2.3/8,,\nblock,card_bin,411111,,\n"
	run("import", chromedp.Navigate(base+"/console/#/lists"), chromedp.WaitVisible(chromedp.ID("import-csv")),
		setValue("#import-csv", csv),
		chromedp.SendKeys(chromedp.ID("f-import-reason"), "weekly list"), chromedp.SendKeys(chromedp.ID("f-import-ticket"), "RISK-10"),
		chromedp.Click(chromedp.ID("f-import-submit")), chromedp.WaitVisible(chromedp.ID("import-summary")), shot("08-lists-import"))
	if got := textOf(`#import-summary`); got != "2 imported, 1 refused." {
		t.Errorf("import summary %q", got)
	}
	if code, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-bad-1", ""); code != 200 || m["lists"].(map[string]any)["block"] != true {
		t.Errorf("u-bad-1 after the import: %d %v", code, m["lists"])
	}

	// A change without the CSRF token is refused, even with the cookie.
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/admin/v1/lists/block/uid/u-csrf', {method: 'PUT', credentials: 'same-origin',
		headers: {'Content-Type': 'application/json'}, body: JSON.stringify({operator: 'bob', reason: 'x', ticket: 'T'})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Errorf("PUT without the CSRF token: %d (%v), want 403", status, err)
	}
	if _, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-csrf", ""); m["lists"].(map[string]any)["block"] == true {
		t.Error("the change without the CSRF token was made")
	}

	// Chinese.
	run("zh", setValue("#lang", "zh"),
		void(chromedp.Evaluate[bool](`document.getElementById('lang').dispatchEvent(new Event('change'))`)),
		poll(`document.getElementById('nav-queue').textContent === '待办队列'`), shot("09-lists-zh"),
		chromedp.Navigate(base+"/console/#/queue"), poll(`!!document.querySelector('#queue-table, #queue-empty')`), shot("10-queue-zh"))

	// The session ends (the cookie gone, as after the server restarts):
	// the next page is the sign-in, with why.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	run("expiry", chromedp.Navigate(base+"/console/#/account/u-perm"), chromedp.WaitVisible(chromedp.ID("signin-form")),
		flashHas("会话已结束"), poll(`document.getElementById('nav').offsetParent === null`), shot("11-expired-zh"))
	mu.Lock()
	defer mu.Unlock()
	if len(pageErrors) > 0 {
		t.Errorf("the page logged errors: %q", pageErrors)
	}
}

// void drops an action's value.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// TestConsoleOnOperatorListener: the operator API serves the console's
// page and files at /console/ with the security headers; the session
// route and the API stay theirs.
func TestConsoleOnOperatorListener(t *testing.T) {
	base := operatorAPI(t)
	for _, c := range []struct {
		method, path string
		code         int
		csp          bool
	}{
		{"GET", "/console/", 200, true},
		{"GET", "/console/app.js", 200, true},
		{"GET", "/console/i18n/zh.json", 200, true},
		{"GET", "/console", 307, false}, // the mux's redirect to /console/
		{"GET", "/console/a/../app.js", 404, false},
		{"GET", "/console/api/session", 401, false},
		{"GET", "/admin/v1/queue", 401, false},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
		if got := resp.Header.Get("Content-Security-Policy"); (got == console.CSP) != c.csp {
			t.Errorf("%s %s: CSP %q", c.method, c.path, got)
		}
		if c.csp && (resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("Referrer-Policy") != "no-referrer") {
			t.Errorf("%s %s: headers %v", c.method, c.path, resp.Header)
		}
	}
}
