package decide

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// FuzzVerify sends any body to POST /v1/verifications' service over a real
// state file. "$C1" in the body stands for a valid challenge (u-1, t-1,
// face and sms) and "$CX" for an expired one, so that the fuzzer reaches
// the state path too. Every refusal is a *pdp.Error the caller can act on;
// an accepted result is stored durably, is for a method the challenge asked
// for, and a failed or refused method never turns into passed.
func FuzzVerify(f *testing.F) {
	for _, seed := range []string{
		`{"challenge_id":"$C1","method":"face","result":"passed"}`,
		`{"challenge_id":"$C1","method":"sms","result":"failed","uid":"u-1"}`,
		`{"challenge_id":"$C1","method":"face","result":"refused"}`,
		`{"challenge_id":"$C1","method":"pin","result":"passed"}`,
		`{"challenge_id":"$C1","method":"face","result":"passed","uid":"u-2"}`,
		`{"challenge_id":"$C1","method":"face","result":"maybe"}`,
		`{"challenge_id":"$CX","method":"sms","result":"passed"}`,
		`{"challenge_id":"c1.AAAAAGtJ.AAAA","method":"face","result":"passed"}`,
		`{"challenge_id":"$C1","method":"face"}`,
		`{"challenge_id":"$C1","method":"face","result":"passed","sms_code":"123456"}`,
		`{"challenge_id":"$C1","challenge_id":"$C1","method":"face","result":"passed"}`,
		`{"challenge_id":1,"method":"face","result":"passed"}`,
		`{"challenge_id":"$C1","method":"face","result":"passed"`,
		`[]`, ``,
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
	s := newTestService(f, Options{State: st, Now: func() time.Time { return now }})
	methods := []string{"face", "sms"}
	b1 := pdp.VerificationBinding{Stage: pdp.StagePayment, TxnID: "t-1", Amount: 6000, Currency: "CNY", DeviceID: "d-1"}
	c1 := s.signer.issue("u-1", b1, methods, now.Add(10*time.Minute))
	cx := s.signer.issue("u-1", pdp.VerificationBinding{Stage: pdp.StagePayment, TxnID: "t-2", Amount: 1, Currency: "CNY"}, methods, now.Add(-time.Second))
	stuck := map[string]pdp.VerificationResult{} // methods that failed or were refused

	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.ReplaceAll(body, []byte("$C1"), []byte(c1))
		body = bytes.ReplaceAll(body, []byte("$CX"), []byte(cx))
		v, err := s.Verify(context.Background(), body)
		if err != nil {
			var e *pdp.Error
			if !errors.As(err, &e) || e.Code == pdp.CodeInternal || e.Code == pdp.CodeUnavailable {
				t.Fatalf("%q: not a caller's error: %v", body, err)
			}
			return
		}
		if v.UID != "u-1" || v.Subject != "payment:t-1" || !v.Bound || v.Binding != b1 || v.ChallengeID != c1 || !slices.Equal(v.Methods, methods) {
			t.Fatalf("%q: accepted for another challenge: %+v", body, v)
		}
		for m, r := range v.Results {
			if !slices.Contains(methods, m) || r < pdp.VerificationPassed || r > pdp.VerificationRefused {
				t.Fatalf("%q: stored %s=%v", body, m, r)
			}
			if prev, ok := stuck[m]; ok && r != prev {
				t.Fatalf("%q: %s was %v, now %v", body, m, prev, r)
			}
			if r != pdp.VerificationPassed {
				stuck[m] = r
			}
		}
		got, found, err := st.Verification("u-1", "payment:t-1", now)
		if err != nil || !found || got.Status() != v.Status() {
			t.Fatalf("%q: stored %+v (%v, %v), answered %+v", body, got, found, err, v)
		}
	})
}
