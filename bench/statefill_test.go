package bench

import (
	"slices"
	"testing"
	"time"
)

// The state file's population is the one NewTraffic(mix) plays: every
// parameter it is made from goes to pdp simulate prime-state, the time to
// the nanosecond; the Zipf mix primes none.
func TestPrimeStateArgs(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 1, 2, 345, time.UTC)
	mix := MixConfig{Kind: MixPopulation, Seed: 9, UIDs: 1234, Now: now}
	got := primeStateArgs("/s.db", 500, mix)
	want := []string{"simulate", "prime-state", "--state", "/s.db", "--block-devices", "500",
		"--seed", "9", "--accounts", "1234", "--now", "2026-12-07T06:01:02.000000345Z"}
	if !slices.Equal(got, want) {
		t.Fatalf("population: %q\nwant %q", got, want)
	}
	if tr := NewTraffic(mix); tr.Population().Start != now || len(tr.Population().Accounts) != 1234 {
		t.Fatalf("NewTraffic(mix): start %v, %d accounts", tr.Population().Start, len(tr.Population().Accounts))
	}
	mix.Kind = MixZipf
	got = primeStateArgs("/s.db", 500, mix)
	want = []string{"simulate", "prime-state", "--state", "/s.db", "--block-devices", "500", "--accounts", "0"}
	if !slices.Equal(got, want) {
		t.Fatalf("zipf: %q\nwant %q", got, want)
	}
}
