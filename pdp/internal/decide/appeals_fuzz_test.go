package decide

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// FuzzAppeal sends any body to POST /v1/appeals' service over a real
// state file in which u-1 is frozen. Every refusal is a *pdp.Error the
// caller can act on; an accepted appeal is stored, with a reason of 1 to
// 2000 characters holding no card or identity number and no secret's
// value, and at most pdp.MaxAppealDocuments references that are ids: no
// number, no data: URI, ≤ 128 visible ASCII bytes.
func FuzzAppeal(f *testing.F) {
	for _, seed := range []string{
		`{"uid":"u-1","reason":"I was travelling","documents":["doc-1"],"request_id":"r-1"}`,
		`{"uid":"u-1","reason":"mine"}`,
		`{"uid":"u-2","reason":"mine"}`,
		`{"uid":"u-1","reason":"card 4111 1111 1111 1111"}`,
		`{"uid":"u-1","reason":"my pin is 4321"}`,
		`{"uid":"u-1","reason":"ok","documents":["data:image/png;base64,AAAA"]}`,
		`{"uid":"u-1","reason":"ok","documents":["110101199003078515"]}`,
		`{"uid":"u-1","reason":"ok","documents":["a","b","c","d","e","f","g","h","i","j","k"]}`,
		`{"uid":"u-1","reason":"\u202e","request_id":"x y"}`,
		`{"uid":"u-1","reason":"ok","cvv":"123"}`,
		`{"uid":"u-1","uid":"u-1","reason":"ok"}`,
		`{"uid":1,"reason":"ok"}`, `[]`, ``,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st, err := state.Open(state.Config{Path: filepath.Join(f.TempDir(), "state.db"), SweepInterval: -1,
		Clock: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if _, err := st.UpdateAccount(context.Background(), "u-1", state.Sync, nil, func(a *pdp.AccountState) error {
		a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeReview, Since: now})
		return nil
	}); err != nil {
		f.Fatal(err)
	}
	s := newTestService(f, Options{State: st, Now: func() time.Time { return now }})

	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := s.Appeal(context.Background(), body)
		if err != nil {
			var e *pdp.Error
			if !errors.As(err, &e) || e.Code == pdp.CodeInternal || e.Code == pdp.CodeUnavailable {
				t.Fatalf("%q: not a caller's error: %v", body, err)
			}
			return
		}
		ap := l.Appeal
		var scan pii.Scanner
		if n := utf8.RuneCountInString(ap.Reason); n == 0 || n > 2000 || scan.FirstNumber(ap.Reason, pii.Refuse) != pii.None ||
			writesSecret(ap.Reason) {
			t.Fatalf("%q: accepted reason %q", body, ap.Reason)
		}
		if len(ap.Documents) > pdp.MaxAppealDocuments {
			t.Fatalf("%q: %d documents", body, len(ap.Documents))
		}
		for _, d := range ap.Documents {
			if d == "" || len(d) > 128 || strings.HasPrefix(strings.ToLower(d), "data:") || scan.FirstNumber(d, pii.Refuse) != pii.None ||
				strings.ContainsFunc(d, func(c rune) bool { return c <= ' ' || c > '~' }) {
				t.Fatalf("%q: accepted document %q", body, d)
			}
		}
		a, err := st.Account(l.UID, now)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range a.Appeals {
			found = found || x.ID == ap.ID && x.Reason == ap.Reason
		}
		if !found || l.UID != "u-1" {
			t.Fatalf("%q: answered %+v, not stored for u-1", body, l)
		}
		if !l.Duplicate {
			// Room for the next input: the operators answer it at once.
			if _, err := st.UpdateAccount(context.Background(), "u-1", state.Sync, nil, func(a *pdp.AccountState) error {
				for i := range a.Appeals {
					a.Appeals[i].Status = pdp.AppealRejected
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
