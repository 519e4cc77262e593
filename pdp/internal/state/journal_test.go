package state

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func TestJournalFilters(t *testing.T) {
	s, clk, _ := openTest(t)
	// seq 1..9: list puts for uids u-0..u-2 (UID subjects), one per minute.
	for i := range 9 {
		mustPut(t, s, block(pdp.SubjectUID, fmt.Sprint("u-", i%3), fmt.Sprint(i)))
		clk.Add(time.Minute)
	}
	// seq 10: an async account audit.
	if _, err := s.UpdateAccount(bg, "u-1", Async, &pdp.AuditRecord{Action: "flag"}, func(*pdp.AccountState) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(bg); err != nil {
		t.Fatal(err)
	}
	seqs := func(f JournalFilter) string {
		var out []uint64
		for _, a := range journal(t, s, f) {
			out = append(out, a.Seq)
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name string
		f    JournalFilter
		want string
	}{
		{"all", JournalFilter{}, "[1 2 3 4 5 6 7 8 9 10]"},
		{"from", JournalFilter{FromSeq: 8}, "[8 9 10]"},
		{"range", JournalFilter{FromSeq: 3, ToSeq: 5}, "[3 4 5]"},
		{"uid", JournalFilter{UID: "u-1"}, "[2 5 8 10]"},
		{"uid range", JournalFilter{UID: "u-1", FromSeq: 3, ToSeq: 8}, "[5 8]"},
		{"time", JournalFilter{Since: t0.Add(2 * time.Minute), Until: t0.Add(4 * time.Minute)}, "[3 4]"},
		{"uid time", JournalFilter{UID: "u-0", Since: t0.Add(time.Minute)}, "[4 7]"},
		{"unknown uid", JournalFilter{UID: "u-9"}, "[]"},
		{"past end", JournalFilter{FromSeq: 11}, "[]"},
	}
	for _, tt := range tests {
		if got := seqs(tt.f); got != tt.want {
			t.Errorf("%s: seqs %s, want %s", tt.name, got, tt.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := s.Journal(bg, JournalFilter{}, func(pdp.AuditRecord) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("fn error: Journal returned %v after %d records", err, n)
	}
}

func TestSecret(t *testing.T) {
	s, clk, path := openTest(t)
	a, err := s.Secret(bg, "stepup")
	if err != nil || len(a) != SecretSize {
		t.Fatalf("Secret = %x, %v", a, err)
	}
	a[0] ^= 0xff // the caller's copy
	b, _ := s.Secret(bg, "stepup")
	c, _ := s.Secret(bg, "other")
	if a[0] == b[0] || string(b) == string(c) {
		t.Errorf("Secret not stable or not distinct: %x %x %x", a, b, c)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t, path, clk)
	if d, err := s2.Secret(bg, "stepup"); err != nil || string(d) != string(b) {
		t.Errorf("after restart Secret = %x, %v; want %x", d, err, b)
	}
	if _, err := s2.Secret(bg, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Secret(\"\") error = %v", err)
	}
}
