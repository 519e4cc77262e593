package admin

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// opsAPI is the operator API over a real state file with two operators'
// write tokens (alice, bob) and a read token, and a clock the test moves.
type opsAPI struct {
	*testAPI
	clock     *time.Time
	tokenFile string
}

const (
	aliceToken = "alice-write-token-0123456789"
	bobToken   = "bob-write-token-01234567890"
	readToken  = "reader-read-token-0123456789"
)

func newOpsAPI(t *testing.T) *opsAPI {
	t.Helper()
	a, clock, tokenFile := buildTestAPI(t, aliceToken+" write alice\n"+bobToken+" write bob\n"+readToken+" read reader\n", nil)
	return &opsAPI{testAPI: a, clock: clock, tokenFile: tokenFile}
}

func (a *opsAPI) queue(token, query string) []map[string]any {
	a.t.Helper()
	code, m := a.as(token, "GET", "/admin/v1/queue?"+query, "")
	if code != 200 {
		a.t.Fatalf("queue ?%s: %d %v", query, code, m)
	}
	var out []map[string]any
	for _, it := range m["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func kinds(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["uid"].(string)+":"+it["kind"].(string))
	}
	return out
}

const (
	byAlice = `"operator":"alice","reason":"court order","ticket":"RISK-3"`
	byBob   = `"operator":"bob","reason":"second look","ticket":"RISK-3"`
)

// TestFourEyesRelease: a permanent freeze, or a freeze without a
// verification passed after it, is released only when a second operator
// (another token) approves; the request, the refusal of the same token,
// the approval and the rejection are journalled and visible at once.
func TestFourEyesRelease(t *testing.T) {
	a := newOpsAPI(t)
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-1/freeze", `{`+byAlice+`,"kind":"permanent"}`); code != 200 {
		t.Fatalf("freeze: %d %v", code, m)
	}
	code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-1/release", `{`+byAlice+`}`)
	if code != 202 || m["frozen"] != true {
		t.Fatalf("release of a permanent freeze: %d %v, want 202 and still frozen", code, m)
	}
	aps := m["approvals"].([]any)
	if len(aps) != 1 || aps[0].(map[string]any)["why"] != "permanent_freeze" || aps[0].(map[string]any)["requester"] != "alice" {
		t.Fatalf("approvals %v", aps)
	}
	id := aps[0].(map[string]any)["id"].(string)
	if got := kinds(a.queue(readToken, "kind=approval")); !slices.Equal(got, []string{"u-1:approval"}) {
		t.Fatalf("queue of approvals %v", got)
	}
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-1/release", `{`+byAlice+`}`); code != 409 {
		t.Fatalf("a second release request while one waits: %d %v", code, m)
	}
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-1/approvals/"+id+"/approve", `{`+byAlice+`}`); code != 403 {
		t.Fatalf("approved by the requester's own token: %d %v", code, m)
	}
	if code, m := a.as(readToken, "POST", "/admin/v1/accounts/u-1/approvals/"+id+"/approve", `{`+byBob+`}`); code != 403 {
		t.Fatalf("approved with a read token: %d %v", code, m)
	}
	code, m = a.as(bobToken, "POST", "/admin/v1/accounts/u-1/approvals/"+id+"/approve", `{`+byBob+`}`)
	if code != 200 || m["frozen"] != false || len(m["approvals"].([]any)) != 0 || m["probation"] == nil {
		t.Fatalf("approved by bob: %d %v", code, m)
	}
	var actions []string
	for _, r := range a.journal() {
		actions = append(actions, r.Action)
	}
	if want := []string{"freeze", "release.requested", "release.approved"}; !slices.Equal(actions, want) {
		t.Fatalf("journal %v, want %v", actions, want)
	}

	// A review freeze and no verification since: four eyes too; rejected.
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-2/freeze", `{`+byAlice+`,"kind":"review"}`); code != 200 {
		t.Fatalf("freeze: %d %v", code, m)
	}
	code, m = a.as(aliceToken, "POST", "/admin/v1/accounts/u-2/release", `{`+byAlice+`}`)
	if code != 202 || m["approvals"].([]any)[0].(map[string]any)["why"] != "no_verification" {
		t.Fatalf("release without a verification: %d %v", code, m)
	}
	id = m["approvals"].([]any)[0].(map[string]any)["id"].(string)
	code, m = a.as(bobToken, "POST", "/admin/v1/accounts/u-2/approvals/"+id+"/reject", `{`+byBob+`}`)
	if code != 200 || m["frozen"] != true || len(m["approvals"].([]any)) != 0 {
		t.Fatalf("rejected: %d %v", code, m)
	}
	if code, m := a.as(bobToken, "POST", "/admin/v1/accounts/u-2/approvals/"+id+"/approve", `{`+byBob+`}`); code != 404 {
		t.Fatalf("approving a rejected approval: %d %v", code, m)
	}

	// A freeze put on after the request is not lifted by approving it.
	code, m = a.as(aliceToken, "POST", "/admin/v1/accounts/u-2/release", `{`+byAlice+`}`)
	if code != 202 {
		t.Fatalf("release request: %d %v", code, m)
	}
	id = m["approvals"].([]any)[0].(map[string]any)["id"].(string)
	*a.clock = a.clock.Add(time.Minute)
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-2/freeze", `{`+byAlice+`,"kind":"permanent"}`); code != 200 {
		t.Fatalf("permanent freeze: %d %v", code, m)
	}
	if code, m := a.as(bobToken, "POST", "/admin/v1/accounts/u-2/approvals/"+id+"/approve", `{`+byBob+`}`); code != 409 {
		t.Fatalf("approving a request older than the freeze in force: %d %v", code, m)
	}
	if _, m := a.as(readToken, "GET", "/admin/v1/accounts/u-2", ""); m["frozen"] != true {
		t.Fatalf("lifted by a stale approval: %v", m)
	}
}

// TestFourEyesRule: who needs a second operator.
func TestFourEyesRule(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	temp := pdp.Freeze{Kind: pdp.FreezeTemporary, Since: now.Add(-time.Hour), Until: now.Add(time.Hour)}
	perm := pdp.Freeze{Kind: pdp.FreezePermanent, Since: now.Add(-48 * time.Hour)}
	lifted := pdp.Freeze{Kind: pdp.FreezePermanent, Since: now.Add(-96 * time.Hour), Until: now.Add(-72 * time.Hour)}
	for _, tc := range []struct {
		freezes []pdp.Freeze
		passed  time.Time
		want    string
	}{
		{nil, time.Time{}, ""},
		{[]pdp.Freeze{lifted}, time.Time{}, ""},
		{[]pdp.Freeze{temp}, time.Time{}, "no_verification"},
		{[]pdp.Freeze{temp}, now.Add(-2 * time.Hour), "no_verification"}, // passed before the freeze
		{[]pdp.Freeze{temp}, now.Add(-time.Minute), ""},
		{[]pdp.Freeze{temp, perm}, now.Add(-time.Minute), "permanent_freeze"},
	} {
		a := &pdp.AccountState{UID: "u", Freezes: tc.freezes}
		if got := fourEyes(a, now, tc.passed); got != tc.want {
			t.Errorf("freezes %+v, passed %v: %q, want %q", tc.freezes, tc.passed, got, tc.want)
		}
	}
}

// TestQueueWork: the queue lists open cases, review freezes, approvals
// and appeals oldest first with their waiting time against the answer
// time; filters, claim and "mine", notes and the answer to an appeal.
func TestQueueWork(t *testing.T) {
	a := newOpsAPI(t)
	start := *a.clock
	if _, err := a.st.UpdateAccount(context.Background(), "u-appeal", state.Sync, nil, func(s *pdp.AccountState) error {
		s.Freezes = append(s.Freezes, pdp.Freeze{Kind: pdp.FreezeTemporary, Since: start, Until: start.Add(72 * time.Hour)})
		s.Appeals = append(s.Appeals, pdp.Appeal{ID: "ap-1", Reason: "I was travelling", Documents: []string{"doc-1"}, At: start, Status: pdp.AppealOpen})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	*a.clock = start.Add(time.Hour)
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-review/freeze", `{`+byAlice+`,"kind":"review","functions":["withdrawal"]}`); code != 200 {
		t.Fatalf("freeze: %d %v", code, m)
	}
	*a.clock = start.Add(49 * time.Hour)
	items := a.queue(readToken, "")
	if got := kinds(items); !slices.Equal(got, []string{"u-appeal:appeal", "u-review:review"}) {
		t.Fatalf("queue %v", got)
	}
	if it := items[0]; it["waited"] != "49h0m0s" || it["overdue"] != true || it["due_at"] != "2026-11-24T10:00:00Z" {
		t.Fatalf("appeal item %v: want waited 49h, overdue, due 48h after", it)
	}
	if got := kinds(a.queue(readToken, "stage=withdrawal")); !slices.Equal(got, []string{"u-review:review"}) {
		t.Fatalf("stage=withdrawal: %v", got)
	}
	if got := kinds(a.queue(readToken, "min_age=48h30m")); !slices.Equal(got, []string{"u-appeal:appeal"}) {
		t.Fatalf("min_age: %v", got)
	}
	first := a.queue(readToken, "limit=1")
	if code, m := a.as(readToken, "GET", "/admin/v1/queue?limit=1", ""); code != 200 || m["next_after"] == nil || len(first) != 1 {
		t.Fatalf("first page: %d %v", code, m)
	} else if got := kinds(a.queue(readToken, "limit=1&after="+m["next_after"].(string))); !slices.Equal(got, []string{"u-review:review"}) {
		t.Fatalf("second page %v", got)
	}
	if code, m := a.as(readToken, "GET", "/admin/v1/queue?after=garbage", ""); code != 400 || m["error"].(map[string]any)["field"] != "after" {
		t.Fatalf("bad cursor: %d %v", code, m)
	}

	// Claim and "mine".
	if code, m := a.as(bobToken, "POST", "/admin/v1/accounts/u-review/claim", ""); code != 200 || m["assignee"].(map[string]any)["to"] != "bob" {
		t.Fatalf("claim: %d %v", code, m)
	}
	if got := kinds(a.queue(bobToken, "mine=true")); !slices.Equal(got, []string{"u-review:review"}) {
		t.Fatalf("bob's: %v", got)
	}
	if got := kinds(a.queue(readToken, "assignee=none")); !slices.Equal(got, []string{"u-appeal:appeal"}) {
		t.Fatalf("unassigned: %v", got)
	}
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-none/claim", ""); code != 409 {
		t.Fatalf("claiming an account without work: %d %v", code, m)
	}

	// Notes: reason and ticket required; no card numbers.
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-appeal/notes", `{"operator":"alice","reason":"call","text":"called"}`); code != 400 ||
		m["error"].(map[string]any)["field"] != "ticket" {
		t.Fatalf("note without a ticket: %d %v", code, m)
	}
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-appeal/notes", `{`+byAlice+`,"text":"paid with 4111 1111 1111 1111"}`); code != 400 ||
		m["error"].(map[string]any)["field"] != "text" {
		t.Fatalf("note with a card number: %d %v", code, m)
	}
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-appeal/notes", `{`+byAlice+`,"text":"called the user: abroad on holiday"}`); code != 200 ||
		len(m["notes"].([]any)) != 1 {
		t.Fatalf("note: %d %v", code, m)
	}

	// The appeal: not granted while the account is frozen; rejected with
	// an answer; then out of the queue.
	if code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-appeal/appeals/ap-1/answer", `{`+byAlice+`,"status":"granted","answer":"lifted"}`); code != 409 {
		t.Fatalf("granted while frozen: %d %v", code, m)
	}
	code, m := a.as(aliceToken, "POST", "/admin/v1/accounts/u-appeal/appeals/ap-1/answer", `{`+byAlice+`,"status":"rejected","answer":"The hold stays until 25 November."}`)
	if ap := m["appeals"].([]any)[0].(map[string]any); code != 200 || ap["status"] != "rejected" || ap["closed_at"] == nil {
		t.Fatalf("rejected: %d %v", code, m)
	}
	if got := kinds(a.queue(readToken, "kind=appeal")); len(got) != 0 {
		t.Fatalf("answered appeal still queued: %v", got)
	}
}

// TestQueueCaseStage: a case raised by a refused decision (no payment
// recorded) is found by the stage of the decision that raised it, and the
// account view names that stage.
func TestQueueCaseStage(t *testing.T) {
	a := newOpsAPI(t)
	now := *a.clock
	if _, err := a.st.UpdateAccount(context.Background(), "u-case", state.Sync, nil, func(s *pdp.AccountState) error {
		s.Flags = append(s.Flags, pdp.CaseFlag{Kind: "key_tracking", Reason: "new_destination_large", TxnID: "w-1", DecisionID: "d-1",
			At: now, Stage: pdp.StageWithdrawal})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := kinds(a.queue(readToken, "stage=withdrawal")); !slices.Equal(got, []string{"u-case:case"}) {
		t.Fatalf("stage=withdrawal: %v", got)
	}
	if got := kinds(a.queue(readToken, "stage=payment")); len(got) != 0 {
		t.Fatalf("stage=payment: %v", got)
	}
	_, m := a.as(readToken, "GET", "/admin/v1/accounts/u-case", "")
	if f := m["flags"].([]any)[0].(map[string]any); f["stage"] != "withdrawal" || f["txn_id"] != "w-1" {
		t.Fatalf("flag %v", f)
	}
}

// TestUserStatusWithoutDecisionService: without a decision service the
// operator API has no user status to show: 404 naming why.
func TestUserStatusWithoutDecisionService(t *testing.T) {
	a := newOpsAPI(t)
	code, m := a.as(readToken, "GET", "/admin/v1/accounts/u-1/user-status", "")
	if e, _ := m["error"].(map[string]any); code != 404 || e["code"] != "not_found" || !strings.Contains(e["message"].(string), "decision service") {
		t.Fatalf("%d %v", code, m)
	}
}
