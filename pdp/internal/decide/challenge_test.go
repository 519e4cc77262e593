package decide

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func TestChallengeTokens(t *testing.T) {
	s := newSigner([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_800_000_000, 0)
	bd := pdp.VerificationBinding{Stage: pdp.StagePayment, TxnID: "t-9", Amount: 6800.5, Currency: "CNY", DeviceID: "d-1"}
	tok := s.issue("u-1", bd, []string{"face", "sms"}, now.Add(10*time.Minute))
	c, err := s.open(tok, now)
	if err != nil || c.UID != "u-1" || c.Binding != bd || strings.Join(c.Methods, ",") != "face,sms" || c.ID != tok {
		t.Fatalf("%+v %v", c, err)
	}
	// Identifiers cannot run into each other: moving a byte from one
	// field to the next makes another token.
	if tok2 := s.issue("u-1t", pdp.VerificationBinding{Stage: pdp.StagePayment, TxnID: "-9", Amount: 6800.5, Currency: "CNY", DeviceID: "d-1"},
		[]string{"face", "sms"}, now.Add(10*time.Minute)); tok2 == tok {
		t.Fatal("uid and txn are not delimited")
	}
	if _, err := s.open(tok, now.Add(10*time.Minute)); !errors.Is(err, errChallengeExpired) {
		t.Fatalf("expired token: %v", err)
	}
	other := newSigner([]byte("another key another key another k"))
	if _, err := other.open(tok, now); !errors.Is(err, errChallengeInvalid) {
		t.Fatalf("token under another key: %v", err)
	}
	// Any single-byte change is caught.
	for i := len(challengePrefix); i < len(tok); i++ {
		b := []byte(tok)
		b[i] ^= 1
		if _, err := s.open(string(b), now); err == nil {
			t.Fatalf("altered token at %d accepted", i)
		}
	}
	// Tokens of the first format (bound to the transaction id alone) are
	// no longer accepted.
	for _, bad := range []string{"", "c1.", "c1.x.y", "c1.AAAAAGsCeAh1LTEwMDEfdC05H2ZhY2U.WMDCSbhnnnT5DedGUjlPIA", "x" + tok, tok + "x", strings.Repeat("a", 2000)} {
		if _, err := s.open(bad, now); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func FuzzChallengeOpen(f *testing.F) {
	s := newSigner([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_800_000_000, 0)
	f.Add(s.issue("u", pdp.VerificationBinding{Stage: pdp.StageWithdrawal, TxnID: "t", Amount: 1, Currency: "CNY"}, []string{"face"}, now.Add(time.Minute)))
	f.Add(s.issue("u", pdp.VerificationBinding{Stage: pdp.StageLogin, DeviceID: "d"}, []string{"sms", "face"}, now.Add(time.Minute)))
	f.Add("c2.AAAAAAAAAAA.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		// Never panics; whatever opens is exactly what issue produced.
		c, err := s.open(tok, now)
		if err == nil && s.issue(c.UID, c.Binding, c.Methods, c.Expires) != tok {
			t.Fatalf("opened a token issue would not produce: %q", tok)
		}
	})
}
