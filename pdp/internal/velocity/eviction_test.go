package velocity

import (
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
)

func TestEvictionBound(t *testing.T) {
	const maxKeys = 64
	tr := newTracker(t, Config{MaxKeys: maxKeys, Shards: 4}, smallCap)
	var v pdp.Velocity
	for i := range 10_000 {
		tr.Observe(at(i), Observation{UID: "u" + itoa(i), Device: "d" + itoa(i), IP: "ip" + itoa(i), Amount: 1}, &v)
		// The hot key is used between every two new keys: it keeps its
		// second chance and is never evicted.
		tr.Observe(at(i), Observation{UID: "hot"}, &v)
		if n := tr.Len(); n > maxKeys {
			t.Fatalf("after %d requests: %d keys > %d", i, n, maxKeys)
		}
	}
	tr.Read(at(9999), "hot", "", "", &v)
	if v.UID.Count24h != 10_000 {
		t.Fatalf("hot key lost counts: %+v", v.UID)
	}
	st := tr.Stats()
	if st.Keys > maxKeys || st.Evictions+st.Expirations != uint64(3*10_000+1-st.Keys) {
		t.Fatalf("stats %+v", st)
	}
}

func TestEvictionPrefersExpired(t *testing.T) {
	tr := newTracker(t, Config{MaxKeys: 4, Shards: 1}, smallCap)
	var v pdp.Velocity
	for i := range 4 {
		tr.Observe(at(0), Observation{UID: "old" + itoa(i)}, &v)
	}
	// Make all four referenced, then let three expire.
	for i := range 4 {
		tr.Observe(at(0), Observation{UID: "old" + itoa(i)}, &v)
	}
	tr.Observe(at(26*3600), Observation{UID: "old3"}, &v)
	tr.Observe(at(26*3600), Observation{UID: "new"}, &v)
	if st := tr.Stats(); st.Expirations != 1 || st.Evictions != 0 {
		t.Fatalf("stats %+v", st)
	}
	tr.Read(at(26*3600), "old3", "", "", &v)
	if v.UID.Count24h != 1 {
		t.Fatalf("live key evicted: %+v", v.UID)
	}
}

func TestSweepReleasesParts(t *testing.T) {
	tr := newTracker(t, Config{Shards: 1}, 0)
	var v pdp.Velocity
	for i := range 10 {
		tr.Observe(at(0), Observation{UID: "u", Device: "d" + itoa(i)}, &v)
	}
	if err := tr.RecordFailure(at(0), "u", pdp.FailureLogin); err != nil {
		t.Fatal(err)
	}
	tr.RecordSpend(at(0), "u", "", 5)
	tr.Observe(at(20*3600), Observation{UID: "u", Login: true}, &v)
	s := &tr.shards[0]
	if s.sets.live() != 1 || s.fails.live() != 1 || s.spends.live() != 1 {
		t.Fatalf("parts before: sets %d fails %d spends %d", s.sets.live(), s.fails.live(), s.spends.live())
	}
	// At +25h the ids (1h) and failures and spending of +0 (24h) expired,
	// the login of +20h keeps the key and its rings.
	if n := tr.Sweep(at(25 * 3600)); n != 10 {
		t.Fatalf("swept %d keys, want the 10 devices", n)
	}
	if s.sets.live() != 0 || s.fails.live() != 0 || s.spends.live() != 0 || s.wins.live() != 1 {
		t.Fatalf("parts after: sets %d fails %d spends %d wins %d", s.sets.live(), s.fails.live(), s.spends.live(), s.wins.live())
	}
	if n := tr.Sweep(at(45 * 3600)); n != 1 || tr.Len() != 0 || s.wins.live() != 0 {
		t.Fatalf("swept %d, Len %d, wins %d", n, tr.Len(), s.wins.live())
	}
}
