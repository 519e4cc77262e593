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
	"github.com/riskpdp/riskpdp/pdp/internal/cli"
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

// sidecar runs `pdp serve` in this process on two loopback ports (the
// decision API and the operator API, three operators in its token file)
// over a state file, and returns their base URLs.
func sidecar(t *testing.T) (decision, operator string) {
	t.Helper()
	dir := t.TempDir()
	tf := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tf, []byte(aliceToken+" write alice\n"+bobToken+" write bob\n"+readerToken+" read reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A budget a loaded machine under the race detector keeps.
	cfg := filepath.Join(dir, "pdp.yaml")
	if err := os.WriteFile(cfg, []byte("policies:\n  eval_timeout: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, adminAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs strings.Builder
	var logMu sync.Mutex
	go func() {
		done <- cli.Run(ctx, []string{"serve", "--addr", addr, "--admin-addr", adminAddr, "--admin-token-file", tf,
			"--state", filepath.Join(dir, "state.db"), "--config", cfg, "--log-format", "text"}, io.Discard, lockedWriter{&logMu, &logs})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	decision, operator = "http://"+addr, "http://"+adminAddr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(decision + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return decision, operator
			}
		}
		select {
		case code := <-done:
			logMu.Lock()
			defer logMu.Unlock()
			t.Fatalf("pdp serve exited with %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("pdp serve not ready after 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// operatorAPI is the operator API alone, over a state file, for the tests
// that need no decisions.
func operatorAPI(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := state.Open(state.Config{Path: filepath.Join(dir, "state.db"), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tf := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tf, []byte(aliceToken+" write alice\n"), 0o600); err != nil {
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

// call is an API call as a script or the payment service makes it: the
// operator API with a bearer token, the decision API with none ("").
func call(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
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
	dec, base := sidecar(t)

	// The day's work, as the payment service and other operators left it.
	// Six review freezes, one of them with a release that waits for a
	// second operator; one permanent freeze.
	const by = `"operator":"alice","reason":"setup","ticket":"T-1"`
	for _, uid := range []string{"u-review-1", "u-review-2", "u-review-3", "u-review-4", "u-review-5", "u-reject"} {
		if code, m := call(t, base, aliceToken, "POST", "/admin/v1/accounts/"+uid+"/freeze", `{`+by+`,"kind":"review"}`); code != 200 {
			t.Fatalf("review freeze: %d %v", code, m)
		}
	}
	if code, m := call(t, base, aliceToken, "POST", "/admin/v1/accounts/u-perm/freeze", `{`+by+`,"kind":"permanent"}`); code != 200 {
		t.Fatalf("permanent freeze: %d %v", code, m)
	}
	if code, m := call(t, base, aliceToken, "POST", "/admin/v1/accounts/u-reject/release", `{`+by+`}`); code != 202 {
		t.Fatalf("release without a verification: %d %v, want 202 (it waits)", code, m)
	}
	// A user appeals; a 60 000 CNY payment with no purpose is denied and
	// flagged (a case); an ordinary customer pays, is stepped up abroad,
	// passes the face check, retries, and the service reports outcomes.
	if code, m := call(t, dec, "", "POST", "/v1/appeals", `{"uid":"u-review-1","reason":"I was abroad on holiday","documents":["doc-17"]}`); code != 201 {
		t.Fatalf("appeal: %d %v", code, m)
	}
	decide := func(uid, device, txn string, amount float64, country string) map[string]any {
		t.Helper()
		code, m := call(t, dec, "", "POST", "/v1/decide", fmt.Sprintf(`{"stage":"payment","uid":%q,"device":{"id":%q,"ip":"203.0.113.7","ip_country":%q},
			"txn":{"id":%q,"amount":%v,"currency":"CNY","category":"digital"},"account":{"home_country":"CN","created_at":"2022-01-01T00:00:00Z"}}`,
			uid, device, country, txn, amount))
		if code != 200 {
			t.Fatalf("decide %s %s: %d %v", uid, txn, code, m)
		}
		return m
	}
	if d := decide("u-case", "d-case", "t-big", 60000, "CN"); d["outcome"] != "deny" {
		t.Fatalf("60 000 CNY without a purpose: %v", d)
	}
	decide("u-day", "d-phone", "t-1", 60, "CN")
	d := decide("u-day", "d-hotel", "t-abroad", 6000, "SG")
	su, _ := d["step_up"].(map[string]any)
	if d["outcome"] != "step_up" || su == nil {
		t.Fatalf("6 000 CNY abroad: %v", d)
	}
	for _, m := range su["methods"].([]any) {
		if code, v := call(t, dec, "", "POST", "/v1/verifications", fmt.Sprintf(`{"challenge_id":%q,"method":%q,"result":"passed"}`, su["challenge_id"], m)); code != 200 {
			t.Fatalf("verification: %d %v", code, v)
		}
	}
	if d := decide("u-day", "d-hotel", "t-abroad", 6000, "SG"); d["outcome"] != "allow" {
		t.Fatalf("the verified retry: %v", d)
	}
	for txn, status := range map[string]string{"t-1": "completed", "t-abroad": "confirmed_legit"} {
		if code, m := call(t, dec, "", "POST", "/v1/outcomes", fmt.Sprintf(`{"uid":"u-day","txn_id":%q,"status":%q}`, txn, status)); code != 200 {
			t.Fatalf("outcome: %d %v", code, m)
		}
	}
	if code, m := call(t, dec, "", "POST", "/v1/events", fmt.Sprintf(`{"uid":"u-day","kind":"phone_change","at":%q}`, time.Now().UTC().Format(time.RFC3339))); code != 200 {
		t.Fatalf("event: %d %v", code, m)
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
	// An exception in the page, a Content-Security-Policy violation or a
	// text in no dictionary fails the test (the refusals the test provokes
	// log "Failed to load resource" lines: expected).
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
			if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") ||
				strings.Contains(m.Text, "missing dictionary key") {
				pageErrors = append(pageErrors, m.Text)
			}
			mu.Unlock()
		}
	}()
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
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
	eval := func(expr string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return s
	}
	textOf := func(sel string) string {
		t.Helper()
		return eval(fmt.Sprintf(`(document.querySelector(%q) || {textContent: '<absent>'}).textContent`, sel))
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
	rows := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel+" tbody tr")))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	queueLoaded := poll(`!!document.querySelector('#queue-table, #queue-empty')`)
	// queue opens the queue with the filters of the query q.
	queue := func(q string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/#/queue?"+q)); err != nil {
				return err
			}
			return chromedp.Do(ctx, poll(fmt.Sprintf(`location.hash === %q && !!document.querySelector('#queue-table, #queue-empty')`, "#/queue?"+q)))
		})
	}
	account := func(uid string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/#/account/"+uid)); err != nil {
				return err
			}
			return chromedp.Do(ctx, poll(fmt.Sprintf(`document.getElementById('account-title')?.textContent.includes(%q) && !!document.getElementById('journal')`, uid)))
		})
	}
	signIn := func(token string) {
		t.Helper()
		run("sign in",
			chromedp.WaitVisible(chromedp.ID("signin-token")),
			chromedp.SendKeys(chromedp.ID("signin-token"), token),
			chromedp.Click(chromedp.ID("signin-submit")), queueLoaded)
	}
	signOut := func() {
		t.Helper()
		run("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin-form")), flashHas("Signed out"))
	}
	who := func(form, reason, ticket string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS(form+` input[name=reason]`), reason),
			chromedp.SendKeys(chromedp.CSS(form+` input[name=ticket]`), ticket)}
	}

	// Sign-in page, a wrong token, then alice. The queue holds all the
	// open work the API lists.
	run("open", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("signin-form")),
		poll(`document.getElementById('nav').offsetParent === null`), shot("01-signin"),
		chromedp.SendKeys(chromedp.ID("signin-token"), "not-a-token"), chromedp.Click(chromedp.ID("signin-submit")),
		flashHas("Not a valid operator token"), setValue("#signin-token", ""))
	signIn(aliceToken)
	_, all := call(t, base, readerToken, "GET", "/admin/v1/queue", "")
	if n := len(all["items"].([]any)); rows("#queue-table") != n || n != 9 {
		t.Fatalf("queue: %d rows, the API lists %d, want 9 (6 review freezes, an appeal, a case, an approval)", rows("#queue-table"), n)
	}
	run("queue", shot("02-queue"))

	// Filters: by kind, kind and stage, paging.
	run("appeals", queue("kind=appeal"), shot("03-queue-appeals"))
	if rows("#queue-table") != 1 || eval(`document.querySelector('#queue-table tbody tr').dataset.uid`) != "u-review-1" {
		t.Errorf("kind=appeal: %d rows", rows("#queue-table"))
	}
	run("cases of payments", queue("kind=case&stage=payment"))
	if rows("#queue-table") != 1 || eval(`document.querySelector('#queue-table tbody tr').dataset.uid`) != "u-case" {
		t.Errorf("kind=case&stage=payment: %d rows", rows("#queue-table"))
	}
	run("cases of withdrawals", queue("kind=case&stage=withdrawal"), chromedp.WaitVisible(chromedp.ID("queue-empty")))
	run("filter form", chromedp.Navigate(base+"/console/#/queue"), queueLoaded, setValue("#q-kind", "review"), setValue("#q-limit", "4"),
		chromedp.Click(chromedp.ID("q-apply")),
		poll(`location.hash.includes('kind=review') && document.querySelectorAll('#queue-table tbody tr').length === 4`),
		chromedp.Click(chromedp.ID("q-next")),
		poll(`location.hash.includes('after=') && document.querySelectorAll('#queue-table tbody tr').length === 2 && !document.getElementById('q-next')`),
		shot("04-queue-review-page2"),
		chromedp.Click(chromedp.ID("q-prev")),
		poll(`!location.hash.includes('after=') && document.querySelectorAll('#queue-table tbody tr').length === 4 && !document.getElementById('q-prev')`))

	// Claim the first review; "assigned to me" shows that account's work
	// alone.
	claimed := eval(`document.querySelector('#queue-table tbody tr').dataset.uid`)
	run("claim", chromedp.Click(chromedp.CSS(`#queue-table tbody tr:first-child button.claim`)), flashHas("is yours"),
		chromedp.Navigate(base+"/console/#/queue"), queueLoaded,
		chromedp.Click(chromedp.ID("q-mine")), chromedp.Click(chromedp.ID("q-apply")),
		poll(fmt.Sprintf(`location.hash.includes('mine=true') && [...document.querySelectorAll('#queue-table tbody tr')].every(r => r.dataset.uid === %q)`, claimed)),
		shot("05-queue-mine"))
	if got := textOf(`#queue-table tbody tr:first-child td:nth-child(8)`); got != "alice" {
		t.Errorf("assigned to me: assignee %q", got)
	}

	// The permanent freeze: alice asks for the release, which waits; she
	// may not approve her own.
	run("account", account("u-perm"), chromedp.WaitVisible(chromedp.ID("f-release")))
	if got := textOf(`#status-text`); !strings.Contains(got, "restricted while we review") {
		t.Errorf("what the user is told: %q", got)
	}
	run("release", chromedp.SendKeys(chromedp.ID("f-release-reason"), "identity checked by phone"),
		chromedp.SendKeys(chromedp.ID("f-release-ticket"), "RISK-9"), chromedp.Click(chromedp.ID("f-release-submit")),
		flashHas("waits for approval"), chromedp.WaitVisible(chromedp.CSS(`#approvals .waits`)), shot("06-account-release-waits"))
	if code, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-perm", ""); code != 200 || m["frozen"] != true {
		t.Fatalf("after alice's release: %d frozen=%v, want still frozen", code, m["frozen"])
	}
	run("self-approve", append(who(`#approvals form.approval`, "mine", "RISK-9"),
		chromedp.Click(chromedp.CSS(`#approvals form.approval button[type=submit]`)), flashHas("403"))...)

	// Bob approves it, rejects the release of u-reject, answers the appeal,
	// assigns an account to alice and closes the case.
	signOut()
	signIn(bobToken)
	run("approve", append(append([]chromedp.Action[chromedp.Void]{account("u-perm"), chromedp.WaitVisible(chromedp.CSS(`#approvals form.approval`))},
		who(`#approvals form.approval`, "second look: agreed", "RISK-9")...),
		chromedp.Click(chromedp.CSS(`#approvals form.approval button[type=submit]`)), flashHas("Approved"),
		poll(`!document.getElementById('approvals-table') && document.getElementById('status-facts').textContent.includes('probation')`),
		shot("07-account-approved"))...)
	if code, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-perm", ""); code != 200 || m["frozen"] != false {
		t.Fatalf("after bob's approval: %d frozen=%v", code, m["frozen"])
	}
	run("reject", append(append([]chromedp.Action[chromedp.Void]{account("u-reject"), chromedp.WaitVisible(chromedp.CSS(`#approvals form.approval`))},
		who(`#approvals form.approval`, "no verification yet", "RISK-12")...),
		chromedp.Click(chromedp.CSS(`#approvals form.approval button.reject`)), flashHas("Rejected"),
		poll(`!document.getElementById('approvals-table')`))...)
	if _, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-reject", ""); m["frozen"] != true || len(m["approvals"].([]any)) != 0 {
		t.Errorf("u-reject after the rejection: frozen %v approvals %v", m["frozen"], m["approvals"])
	}
	const answer = "We checked your documents; the review continues and we will write again within two days."
	run("answer appeal", append(append([]chromedp.Action[chromedp.Void]{account("u-review-1"), chromedp.WaitVisible(chromedp.CSS(`#appeals form.action`)),
		setValue(`#appeals form.action select[name=status]`, "rejected"),
		chromedp.SendKeys(chromedp.CSS(`#appeals form.action textarea[name=answer]`), answer)},
		who(`#appeals form.action`, "documents do not explain the transfers", "RISK-13")...),
		chromedp.Click(chromedp.CSS(`#appeals form.action button[type=submit]`)), flashHas("Answered"),
		poll(fmt.Sprintf(`document.getElementById('status-appeals')?.textContent.includes(%q)`, answer)),
		shot("08-account-appeal-answered"))...)
	if _, st := call(t, dec, "", "GET", "/v1/accounts/u-review-1/status", ""); fmt.Sprint(st["appeals"]) == "" ||
		st["appeals"].([]any)[0].(map[string]any)["answer"] != answer || st["appeals"].([]any)[0].(map[string]any)["status"] != "rejected" {
		t.Errorf("the app's status after the answer: %v", st)
	}
	run("assign", account("u-review-2"), setValue("#f-assign-to", "alice"), chromedp.Click(chromedp.ID("f-assign-submit")),
		poll(`document.getElementById('account-assignee')?.textContent.includes('alice')`),
		queue("assignee=alice"))
	if n := rows("#queue-table"); n < 2 || eval(`[...document.querySelectorAll('#queue-table tbody tr')].some(r => r.dataset.uid === 'u-review-2') ? 'y' : 'n'`) != "y" {
		t.Errorf("assignee=alice: %d rows, u-review-2 among them: want it", n)
	}
	run("case", account("u-case"), chromedp.WaitVisible(chromedp.ID("decisions-table")), shot("09-account-case"))
	if got := textOf("#decisions-table"); !strings.Contains(got, "deny") || !strings.Contains(got, "extreme_amount_unclear_purpose") || !strings.Contains(got, "60,000") {
		t.Errorf("decisions of u-case: %q", got)
	}
	run("close case", append(append([]chromedp.Action[chromedp.Void]{}, who("#f-close", "user explained: a car purchase", "RISK-14")...),
		chromedp.Click(chromedp.ID("f-close-submit")), flashHas("Case closed"), poll(`!document.getElementById('flags-table') && !document.getElementById('f-close')`),
		queue("kind=case"), chromedp.WaitVisible(chromedp.ID("queue-empty")))...)

	// The customer's account: what she was asked, what she paid, what the
	// service reported; what she is told.
	run("customer", account("u-day"), chromedp.WaitVisible(chromedp.ID("verifications-table")), shot("10-account-customer"))
	for sel, want := range map[string]string{"#verifications-table": "passed", "#payments-table": "confirmed_legit", "#devices-table": "d-hotel",
		"#velocity-windows": "6,060", "#events-table": "phone_change", "#status-facts": "May appeal", "#journal": "verification"} {
		if got := textOf(sel); !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", sel, got, want)
		}
	}

	// A grey freeze of withdrawals, a limit and a note, each journalled and
	// shown at once.
	run("grey freeze", account("u-grey"), chromedp.WaitVisible(chromedp.ID("f-freeze")),
		setValue("#f-freeze-kind", "review"), chromedp.Click(chromedp.CSS(`#f-freeze input[name=fn][value=withdrawal]`)),
		chromedp.SendKeys(chromedp.ID("f-freeze-reason"), "mule pattern"), chromedp.SendKeys(chromedp.ID("f-freeze-ticket"), "RISK-11"),
		chromedp.Click(chromedp.ID("f-freeze-submit")), flashHas("Frozen"),
		poll(`document.getElementById('status-facts').textContent.includes('withdrawal')`),
		chromedp.SendKeys(chromedp.CSS(`#f-limit input[name=daily_amount]`), "500"),
		chromedp.SendKeys(chromedp.CSS(`#f-limit input[name=currency]`), "CNY"),
		chromedp.SendKeys(chromedp.ID("f-limit-reason"), "cap while we look"), chromedp.SendKeys(chromedp.ID("f-limit-ticket"), "RISK-11"),
		chromedp.Click(chromedp.ID("f-limit-submit")), flashHas("Done"), chromedp.WaitVisible(chromedp.ID("limits-table")),
		chromedp.SendKeys(chromedp.CSS(`#f-note textarea[name=text]`), "called the user; waiting for documents"),
		chromedp.SendKeys(chromedp.ID("f-note-reason"), "contact"), chromedp.SendKeys(chromedp.ID("f-note-ticket"), "RISK-11"),
		chromedp.Click(chromedp.ID("f-note-submit")), flashHas("Done"),
		poll(`document.getElementById('sec-notes').textContent.includes('waiting for documents') &&
			document.getElementById('journal').textContent.includes('note')`),
		shot("11-account-grey-limit-note"))
	if _, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-grey", ""); m["frozen"] != false ||
		fmt.Sprint(m["restricted"]) != "[withdrawal]" || len(m["limits"].([]any)) != 1 || len(m["notes"].([]any)) != 1 {
		t.Errorf("u-grey: frozen %v restricted %v limits %v notes %v", m["frozen"], m["restricted"], m["limits"], m["notes"])
	}
	if got := textOf("#limits-table"); !strings.Contains(got, "500 CNY") {
		t.Errorf("limits: %q", got)
	}

	// A CSV import with a per-line report; then one entry deleted.
	csv := "list,kind,value,ttl,reason\nblock,uid,u-bad-1,72h,fraud ring\nblock,ip,10.1.2.3/8,,\nblock,card_bin,411111,,\n"
	run("import", chromedp.Navigate(base+"/console/#/lists"), chromedp.WaitVisible(chromedp.ID("import-csv")),
		setValue("#import-csv", csv),
		chromedp.SendKeys(chromedp.ID("f-import-reason"), "weekly list"), chromedp.SendKeys(chromedp.ID("f-import-ticket"), "RISK-10"),
		chromedp.Click(chromedp.ID("f-import-submit")), chromedp.WaitVisible(chromedp.ID("import-summary")), shot("12-lists-import"))
	if got := textOf(`#import-summary`); got != "2 imported, 1 refused." {
		t.Errorf("import summary %q", got)
	}
	if code, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-bad-1", ""); code != 200 || m["lists"].(map[string]any)["block"] != true {
		t.Errorf("u-bad-1 after the import: %d %v", code, m["lists"])
	}
	run("delete entry", chromedp.Click(chromedp.ID("f-list-show")), poll(`document.getElementById('entries-table')?.textContent.includes('u-bad-1')`),
		chromedp.SendKeys(chromedp.ID("l-value"), "u-bad-1"), chromedp.SendKeys(chromedp.ID("f-list-reason"), "cleared by the bank"),
		chromedp.SendKeys(chromedp.ID("f-list-ticket"), "RISK-15"), chromedp.Click(chromedp.ID("f-list-delete")), flashHas("Done"),
		poll(`!!document.querySelector('#entries h3') && !document.getElementById('entries').textContent.includes('u-bad-1')`), shot("13-lists-deleted"))
	if _, m := call(t, base, readerToken, "GET", "/admin/v1/accounts/u-bad-1", ""); m["lists"].(map[string]any)["block"] != false {
		t.Errorf("u-bad-1 after the delete: %v", m["lists"])
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

	// A reader sees the account, and no action.
	signOut()
	signIn(readerToken)
	run("reader", account("u-day"), shot("14-account-reader"))
	if eval(`document.querySelectorAll('#account-actions, form.action:not(#queue-filters)').length === 0 ? 'none' : 'some'`) != "none" {
		t.Error("a read-only operator is shown action forms")
	}

	// Chinese: the queue and an account, the user's words in Chinese too.
	run("zh", setValue("#lang", "zh"),
		void(chromedp.Evaluate[bool](`document.getElementById('lang').dispatchEvent(new Event('change'))`)),
		poll(`document.getElementById('nav-queue').textContent === '待办队列' && document.getElementById('status-text')?.textContent.includes('为')`),
		shot("15-account-zh"), chromedp.Navigate(base+"/console/#/queue"), queueLoaded, shot("16-queue-zh"))

	// The session ends (the cookie gone, as after the server restarts):
	// the next page is the sign-in, with why.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	run("expiry", chromedp.Navigate(base+"/console/#/account/u-perm"), chromedp.WaitVisible(chromedp.ID("signin-form")),
		flashHas("会话已结束"), poll(`document.getElementById('nav').offsetParent === null`), shot("17-expired-zh"))
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
