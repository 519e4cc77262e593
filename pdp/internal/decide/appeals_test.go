package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/policies"
)

// setAccount changes an account as an operator would, durably.
func setAccount(t *testing.T, st *state.Store, uid string, fn func(a *pdp.AccountState)) {
	t.Helper()
	if _, err := st.UpdateAccount(context.Background(), uid, state.Sync, nil, func(a *pdp.AccountState) error {
		fn(a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func appeal(s *Service, body string) (Lodged, error) {
	return s.Appeal(context.Background(), []byte(body))
}

// errCode is err's code and field ("" for nil).
func errCode(err error) (pdp.ErrorCode, string) {
	var e *pdp.Error
	if errors.As(err, &e) {
		return e.Code, e.Field
	}
	if err != nil {
		return "not a *pdp.Error: " + pdp.ErrorCode(err.Error()), ""
	}
	return "", ""
}

// A frozen account's appeal is stored with the account, open, due the
// answer time after it was lodged, journaled without the user's words, and
// the status shows it; the status says frozen without naming the rule,
// the operator or the ticket.
func TestAppealOfAFrozenAccount(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	now := clk.Now()
	setAccount(t, st, "u-f", func(a *pdp.AccountState) {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Since: now, Rule: "mule_pattern", DecisionID: "dec-1",
			Actor: pdp.Actor{Operator: "alice", Ticket: "RISK-7", Reason: "mule ring"}})
	})
	clk.Add(time.Minute)
	reason := "I was travelling; the payments were mine."
	l, err := appeal(s, `{"uid":"u-f","reason":"`+reason+`","documents":["doc-123","kyc/ticket/9"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if l.Duplicate || l.Appeal.Status != pdp.AppealOpen || !strings.HasPrefix(l.Appeal.ID, "ap-") ||
		!l.Appeal.At.Equal(clk.Now()) || !l.Due.Equal(clk.Now().Add(48*time.Hour)) {
		t.Fatalf("lodged %+v", l)
	}
	a, _ := st.Account("u-f", clk.Now())
	if len(a.Appeals) != 1 || a.Appeals[0].Reason != reason || !slices.Equal(a.Appeals[0].Documents, []string{"doc-123", "kyc/ticket/9"}) {
		t.Fatalf("stored appeals %+v", a.Appeals)
	}
	if !a.OpenWork(clk.Now()) {
		t.Fatal("an open appeal is not the operators' work")
	}
	var recs []pdp.AuditRecord
	if err := st.Journal(context.Background(), state.JournalFilter{UID: "u-f"}, func(r pdp.AuditRecord) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Action != "appeal" || recs[0].Target != "appeal/"+l.Appeal.ID || recs[0].Actor.Operator != "service" {
		t.Fatalf("journal %+v", recs)
	}
	var d AppealDetail
	if err := json.Unmarshal([]byte(recs[0].Detail), &d); err != nil || d.AppealID != l.Appeal.ID || d.Standing != "frozen" ||
		d.ReasonChars != len(reason) || len(d.Documents) != 2 || strings.Contains(recs[0].Detail, "travelling") {
		t.Fatalf("journal detail %s (%v)", recs[0].Detail, err)
	}

	got, err := s.AccountStatus(context.Background(), "u-f", "")
	if err != nil {
		t.Fatal(err)
	}
	want := AccountStatus{UID: "u-f", Standing: Standing{Status: "frozen", Functions: pdp.Stages},
		Message:   "For your security this account is restricted while we review recent activity. Please contact customer service through the official app.",
		CanAppeal: true,
		Appeals:   []AppealState{{ID: l.Appeal.ID, Status: pdp.AppealOpen, LodgedAt: l.Appeal.At, DueAt: l.Due}}}
	if got.UID != want.UID || got.Status != want.Status || !slices.Equal(got.Functions, want.Functions) || !got.Until.IsZero() ||
		got.Message != want.Message || got.CanAppeal != want.CanAppeal || !slices.Equal(got.Appeals, want.Appeals) {
		t.Fatalf("status\n got %+v\nwant %+v", got, want)
	}
	if zh, _ := s.AccountStatus(context.Background(), "u-f", "zh-CN"); !strings.Contains(zh.Message, "账户已受限") {
		t.Fatalf("zh-CN message %q", zh.Message)
	}
}

// Appeals are refused with 400 naming the field when they carry what must
// never be stored (a card or identity number, a secret, a document instead
// of a reference) or break a bound.
func TestAppealRefusals(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	setAccount(t, st, "u-r", func(a *pdp.AccountState) {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeTemporary, Since: clk.Now(), Until: clk.Now().Add(time.Hour)})
	})
	docs := func(refs ...string) string { b, _ := json.Marshal(refs); return string(b) }
	long := strings.Repeat("a", 129)
	for _, c := range []struct {
		body  string
		code  pdp.ErrorCode
		field string
	}{
		{`{"uid":"u-r","reason":"my card 4111 1111 1111 1111 was charged twice"}`, pdp.CodeCardNumber, "reason"},
		{`{"uid":"u-r","reason":"my id is 110101199003078515"}`, pdp.CodeIdentityNumber, "reason"},
		{`{"uid":"u-r","reason":"my PIN is 4321, please unfreeze"}`, pdp.CodeSecretField, "reason"},
		{`{"uid":"u-r","reason":"验证码是123456"}`, pdp.CodeSecretField, "reason"},
		{`{"uid":"u-r","reason":"ok","documents":["4111111111111111"]}`, pdp.CodeCardNumber, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":["doc-1","110101199003078515"]}`, pdp.CodeIdentityNumber, "documents[1]"},
		{`{"uid":"u-r","reason":"ok","documents":["data:image/png;base64,iVBORw0KGgo="]}`, pdp.CodeInvalidValue, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":["DATA:text/plain,x"]}`, pdp.CodeInvalidValue, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":["` + long + `"]}`, pdp.CodeInvalidValue, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":["my passport"]}`, pdp.CodeInvalidValue, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":["护照"]}`, pdp.CodeInvalidValue, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":[""]}`, pdp.CodeInvalidValue, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":["pin=4321"]}`, pdp.CodeSecretField, "documents[0]"},
		{`{"uid":"u-r","reason":"ok","documents":` + docs(strings.Split("a b c d e f g h i j k", " ")...) + `}`, pdp.CodeInvalidValue, "documents"},
		{`{"uid":"u-r","reason":"ok","documents":[{"file":"x"}]}`, pdp.CodeWrongType, "documents"},
		{`{"uid":"u-r","reason":"ok","documents":"doc-1"}`, pdp.CodeWrongType, "documents"},
		{`{"reason":"ok"}`, pdp.CodeMissingField, "uid"},
		{`{"uid":"` + long + `","reason":"ok"}`, pdp.CodeInvalidValue, "uid"},
		{`{"uid":"u-r"}`, pdp.CodeMissingField, "reason"},
		{`{"uid":"u-r","reason":" \n\t\u200b "}`, pdp.CodeInvalidValue, "reason"},
		{`{"uid":"u-r","reason":"` + strings.Repeat("长", 2001) + `"}`, pdp.CodeInvalidValue, "reason"},
		{`{"uid":"u-r","reason":"mine \u202e enim"}`, pdp.CodeInvalidValue, "reason"},
		{`{"uid":"u-r","reason":"mine\u0007"}`, pdp.CodeInvalidValue, "reason"},
		{`{"uid":"u-r","reason":"ok","request_id":"` + long + `"}`, pdp.CodeInvalidValue, "request_id"},
		{`{"uid":"u-r","reason":"ok","request_id":"r 1"}`, pdp.CodeInvalidValue, "request_id"},
		{`{"uid":"u-r","reason":"ok","documents":["d"],"passport_no":"E1234"}`, pdp.CodeSecretField, "passport_no"},
		{`{"uid":"u-r","reason":"ok","photo":"x"}`, pdp.CodeUnknownField, "photo"},
		{`{"uid":"u-r","reason":"ok","reason":"again"}`, pdp.CodeDuplicateKey, "reason"},
	} {
		_, err := appeal(s, c.body)
		if code, field := errCode(err); code != c.code || field != c.field {
			t.Errorf("%.80s: %s %q, want %s %q", c.body, code, field, c.code, c.field)
		}
	}
	if a, _ := st.Account("u-r", clk.Now()); len(a.Appeals) != 0 {
		t.Fatalf("refused appeals stored: %+v", a.Appeals)
	}
	// At the bounds: accepted.
	refs := make([]string, pdp.MaxAppealDocuments)
	for i := range refs {
		refs[i] = fmt.Sprintf("%0128d", i)[:128]
	}
	refs[0] = "doc-" + strings.Repeat("x", 124)
	if _, err := appeal(s, `{"uid":"u-r","reason":"`+strings.Repeat("长", 2000)+`","documents":`+docs(refs...)+`}`); err != nil {
		t.Fatalf("at the bounds: %v", err)
	}
	if _, err := appeal(s, `{"uid":"u-r","reason":"my password was stolen, I did not pay"}`); err != nil {
		t.Fatalf("the user's story about a password: %v", err)
	}
}

// Only an account that is frozen, restricted, limited or on probation may
// appeal, with at most pdp.MaxOpenAppeals open.
func TestAppealOnlyWithSomethingToAppeal(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	now := clk.Now()
	if _, err := appeal(s, `{"uid":"u-ok","reason":"why?"}`); !isCode(err, pdp.CodeNothingToAppeal) {
		t.Fatalf("an account in good standing: %v", err)
	}
	setAccount(t, st, "u-old", func(a *pdp.AccountState) {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeTemporary, Since: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)})
		a.Limits = append(a.Limits, pdp.Limit{DailyAmount: 100, Currency: "CNY", Until: now.Add(-time.Minute)})
	})
	if _, err := appeal(s, `{"uid":"u-old","reason":"why?"}`); !isCode(err, pdp.CodeNothingToAppeal) {
		t.Fatalf("an account whose freeze and limit ended: %v", err)
	}
	for uid, fn := range map[string]func(a *pdp.AccountState){
		"u-grey": func(a *pdp.AccountState) {
			a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Since: now, Functions: []pdp.Stage{pdp.StageWithdrawal}})
		},
		"u-cap":  func(a *pdp.AccountState) { a.Limits = append(a.Limits, pdp.Limit{DailyAmount: 500, Currency: "CNY"}) },
		"u-prob": func(a *pdp.AccountState) { a.Probation = pdp.Probation{Since: now, Until: now.Add(24 * time.Hour)} },
	} {
		setAccount(t, st, uid, fn)
		for i := range pdp.MaxOpenAppeals {
			if _, err := appeal(s, `{"uid":"`+uid+`","reason":"please"}`); err != nil {
				t.Fatalf("%s: appeal %d: %v", uid, i, err)
			}
		}
		if _, err := appeal(s, `{"uid":"`+uid+`","reason":"please"}`); !isCode(err, pdp.CodeTooManyAppeals) {
			t.Fatalf("%s: appeal past %d open: %v", uid, pdp.MaxOpenAppeals, err)
		}
		if got, _ := s.AccountStatus(context.Background(), uid, ""); got.CanAppeal || len(got.Appeals) != pdp.MaxOpenAppeals {
			t.Fatalf("%s: status with %d open: %+v", uid, pdp.MaxOpenAppeals, got)
		}
		// An answered appeal makes room for another.
		setAccount(t, st, uid, func(a *pdp.AccountState) {
			a.Appeals[0].Status, a.Appeals[0].ClosedAt, a.Appeals[0].Answer = pdp.AppealRejected, now, "The limit stays for a week."
		})
		if _, err := appeal(s, `{"uid":"`+uid+`","reason":"please"}`); err != nil {
			t.Fatalf("%s: after one was answered: %v", uid, err)
		}
	}
}

func isCode(err error, code pdp.ErrorCode) bool {
	c, _ := errCode(err)
	return c == code
}

// The same request_id twice, also at once, lodges one appeal and answers
// it each time; another request_id, or none, lodges another.
func TestAppealIdempotent(t *testing.T) {
	s, st, clk := newStateService(t, Options{AnswerTime: 24 * time.Hour})
	setAccount(t, st, "u-i", func(a *pdp.AccountState) {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezePermanent, Since: clk.Now()})
	})
	body := `{"uid":"u-i","reason":"mine","request_id":"req-1"}`
	first, err := appeal(s, body)
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v %v", first, err)
	}
	clk.Add(time.Hour)
	var wg sync.WaitGroup
	answers := make([]Lodged, 8)
	for i := range answers {
		wg.Go(func() {
			l, err := appeal(s, body)
			if err != nil {
				t.Error(err)
			}
			answers[i] = l
		})
	}
	wg.Wait()
	for _, l := range answers {
		if !l.Duplicate || l.Appeal.ID != first.Appeal.ID || !l.Appeal.At.Equal(first.Appeal.At) || !l.Due.Equal(first.Due) ||
			!first.Due.Equal(first.Appeal.At.Add(24*time.Hour)) {
			t.Fatalf("again: %+v, first %+v", l, first)
		}
	}
	// The same request_id of another account is another appeal.
	setAccount(t, st, "u-j", func(a *pdp.AccountState) { a.Probation = pdp.Probation{Until: clk.Now().Add(time.Hour)} })
	if l, err := appeal(s, `{"uid":"u-j","reason":"mine","request_id":"req-1"}`); err != nil || l.Duplicate || l.Appeal.ID == first.Appeal.ID {
		t.Fatalf("u-j: %+v %v", l, err)
	}
	if l, err := appeal(s, `{"uid":"u-i","reason":"mine","request_id":"req-2"}`); err != nil || l.Duplicate {
		t.Fatalf("req-2: %+v %v", l, err)
	}
	if l, err := appeal(s, `{"uid":"u-i","reason":"mine"}`); err != nil || l.Duplicate {
		t.Fatalf("no request_id: %+v %v", l, err)
	}
	a, _ := st.Account("u-i", clk.Now())
	if len(a.Appeals) != 3 {
		t.Fatalf("%d appeals, want 3: %+v", len(a.Appeals), a.Appeals)
	}
	if got := metricValue(t, s, "pdp_appeals_lodged_total"); got != "4" {
		t.Fatalf("pdp_appeals_lodged_total %s, want 4", got)
	}
}

// The status is the most severe standing, with the functions it denies,
// its end when it has one, the message of its situation and the appeals'
// answers.
func TestAccountStatus(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	now := clk.Now()
	in := func(d time.Duration) time.Time { return now.Add(d) }
	type want struct {
		status    string
		functions []pdp.Stage
		until     time.Time
		message   string
	}
	for _, c := range []struct {
		uid  string
		set  func(a *pdp.AccountState)
		want want
	}{
		{"u-none", func(*pdp.AccountState) {}, want{"ok", nil, time.Time{}, ""}},
		{"u-temp", func(a *pdp.AccountState) {
			a.Freezes = []pdp.Freeze{{Kind: pdp.FreezeTemporary, Since: now, Until: in(30 * time.Minute)},
				{Kind: pdp.FreezeTemporary, Since: now, Until: in(time.Hour)},
				{Kind: pdp.FreezeReview, Since: now, Functions: []pdp.Stage{pdp.StageWithdrawal}}}
			a.Limits = []pdp.Limit{{DailyAmount: 100, Currency: "CNY"}}
		}, want{"frozen", pdp.Stages, in(time.Hour), "For your security this account is restricted until 2026-11-22 11:00 UTC. Please try again later."}},
		{"u-perm", func(a *pdp.AccountState) {
			a.Freezes = []pdp.Freeze{{Kind: pdp.FreezeTemporary, Since: now, Until: in(time.Hour)}, {Kind: pdp.FreezePermanent, Since: now}}
		}, want{"frozen", pdp.Stages, time.Time{}, "For your security this account is restricted while we review recent activity. Please contact customer service through the official app."}},
		{"u-grey", func(a *pdp.AccountState) {
			a.Freezes = []pdp.Freeze{{Kind: pdp.FreezeTemporary, Since: now, Until: in(2 * time.Hour), Functions: []pdp.Stage{pdp.StageWithdrawal}},
				{Kind: pdp.FreezeTemporary, Since: now, Until: in(time.Hour), Functions: []pdp.Stage{pdp.StagePayment, pdp.StageWithdrawal}}}
			a.Probation = pdp.Probation{Until: in(48 * time.Hour)}
		}, want{"restricted", []pdp.Stage{pdp.StagePayment, pdp.StageWithdrawal}, in(2 * time.Hour), "For your security this account is restricted until 2026-11-22 12:00 UTC. Please try again later."}},
		{"u-cap", func(a *pdp.AccountState) {
			a.Limits = []pdp.Limit{{DailyAmount: 2000, Currency: "CNY", Until: in(24 * time.Hour)}, {MaxAmount: 50, DailyAmount: 500, Currency: "CNY", Until: in(12 * time.Hour)}}
			a.Probation = pdp.Probation{Until: in(48 * time.Hour)}
		}, want{"limited", nil, in(24 * time.Hour), "For your security, payments from this account are limited to 500 CNY a day for now."}},
		{"u-cap-forever", func(a *pdp.AccountState) {
			a.Limits = []pdp.Limit{{MaxAmount: 50, Currency: "CNY", Until: in(time.Hour)}, {MaxAmount: 80, Currency: "CNY"}}
		}, want{"limited", nil, time.Time{}, ""}},
		{"u-prob", func(a *pdp.AccountState) {
			a.Probation = pdp.Probation{Since: now, Until: in(24 * time.Hour), Reason: "released by alice"}
		}, want{"probation", nil, in(24 * time.Hour), "For your security, large payments from this account need an extra verification for now."}},
		{"u-lifted", func(a *pdp.AccountState) { // a temporary freeze that lifted itself leaves probation
			a.Freezes = []pdp.Freeze{{Kind: pdp.FreezeTemporary, Since: in(-2 * time.Hour), Until: in(-time.Hour), ProbationAfter: 24 * time.Hour}}
		}, want{"probation", nil, in(23 * time.Hour), "For your security, large payments from this account need an extra verification for now."}},
	} {
		setAccount(t, st, c.uid, c.set)
		got, err := s.AccountStatus(context.Background(), c.uid, "en")
		if err != nil {
			t.Fatal(err)
		}
		w := c.want
		if got.Status != w.status || !slices.Equal(got.Functions, w.functions) || !got.Until.Equal(w.until) || got.Message != w.message ||
			got.CanAppeal != (w.status != "ok") {
			t.Errorf("%s:\n got %s %v %v %q can_appeal %v\nwant %s %v %v %q", c.uid, got.Status, got.Functions, got.Until, got.Message, got.CanAppeal,
				w.status, w.functions, w.until, w.message)
		}
	}
	// A policy whose messages predate the status's own situations: the
	// decision's (limit_applied, verify) speak for them.
	older := fstest.MapFS{}
	if err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS, p)
		if p == "riskpdp/config/data.json" {
			b = regexp.MustCompile(`\n\s*"(limited|probation)": "[^"]*",`).ReplaceAll(b, nil)
		}
		older[p] = &fstest.MapFile{Data: b}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(older["riskpdp/config/data.json"].Data, []byte(`"limited"`)) {
		t.Fatal("the messages' layout changed: the test no longer removes them")
	}
	o := Options{State: st, Now: clk.Now, Velocity: newTracker(t), Engine: testEngine(t, older)}
	for uid, want := range map[string]string{"u-cap": "Done. For your security, payments today are limited to 500 CNY in total.",
		"u-prob": "Please verify your identity to continue."} {
		if got, err := newTestService(t, o).AccountStatus(context.Background(), uid, "en"); err != nil || got.Message != want {
			t.Errorf("%s with the older messages: %q %v, want %q", uid, got.Message, err, want)
		}
	}
	// An answered appeal shows the answer and when; an open one neither.
	setAccount(t, st, "u-prob", func(a *pdp.AccountState) {
		a.Appeals = []pdp.Appeal{{ID: "ap-1", Reason: "x", At: now, Status: pdp.AppealGranted, ClosedAt: in(time.Hour), Answer: "Lifted, sorry."},
			{ID: "ap-2", Reason: "y", At: in(time.Minute), Status: pdp.AppealOpen}}
	})
	got, _ := s.AccountStatus(context.Background(), "u-prob", "")
	wantAppeals := []AppealState{{ID: "ap-1", Status: pdp.AppealGranted, LodgedAt: now, DueAt: in(48 * time.Hour), AnsweredAt: in(time.Hour), Answer: "Lifted, sorry."},
		{ID: "ap-2", Status: pdp.AppealOpen, LodgedAt: in(time.Minute), DueAt: in(48*time.Hour + time.Minute)}}
	if !slices.Equal(got.Appeals, wantAppeals) {
		t.Fatalf("appeals\n got %+v\nwant %+v", got.Appeals, wantAppeals)
	}
	for uid, code := range map[string]pdp.ErrorCode{"": pdp.CodeMissingField, strings.Repeat("u", 129): pdp.CodeInvalidValue,
		"4111111111111111": pdp.CodeCardNumber, "110101199003078515": pdp.CodeIdentityNumber} {
		if _, err := s.AccountStatus(context.Background(), uid, ""); !isCode(err, code) {
			t.Errorf("uid %q: %v, want %s", uid, err, code)
		}
	}
	if _, err := s.AccountStatus(context.Background(), "u-prob", "zh_CN"); !isCode(err, pdp.CodeInvalidValue) {
		t.Errorf("locale zh_CN: %v", err)
	}
}

// Without risk state there is nothing to appeal to nor to show: 503.
func TestAppealsNeedState(t *testing.T) {
	s := newTestService(t, Options{})
	if _, err := appeal(s, `{"uid":"u","reason":"x"}`); !isCode(err, pdp.CodeUnavailable) {
		t.Fatalf("appeal: %v", err)
	}
	if _, err := s.AccountStatus(context.Background(), "u", ""); !isCode(err, pdp.CodeUnavailable) {
		t.Fatalf("status: %v", err)
	}
}
