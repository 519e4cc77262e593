package decide

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestChallengeTokens(t *testing.T) {
	s := newSigner([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_800_000_000, 0)
	tok := s.issue("u-1", "t-9", []string{"face", "sms"}, now.Add(10*time.Minute))
	c, err := s.open(tok, now)
	if err != nil || c.UID != "u-1" || c.Subject != "t-9" || strings.Join(c.Methods, ",") != "face,sms" || c.ID != tok {
		t.Fatalf("%+v %v", c, err)
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
	for _, bad := range []string{"", "c1.", "c1.x.y", "x" + tok, tok + "x", strings.Repeat("a", 2000)} {
		if _, err := s.open(bad, now); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

func FuzzChallengeOpen(f *testing.F) {
	s := newSigner([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_800_000_000, 0)
	f.Add(s.issue("u", "t", []string{"face"}, now.Add(time.Minute)))
	f.Add("c1.AAAAAAAAAAA.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		// Never panics; whatever opens is exactly what issue produced.
		c, err := s.open(tok, now)
		if err == nil && s.issue(c.UID, c.Subject, c.Methods, c.Expires) != tok {
			t.Fatalf("opened a token issue would not produce: %q", tok)
		}
	})
}
