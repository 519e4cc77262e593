package velocity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// populate fills tr with keys in every state: small mode, rings, inline and
// overflowing distinct sets, failures, spending, and one already old key.
// It returns the ids to read back and the time of the last write.
func populate(t testing.TB, tr *Tracker) (uids, devs, ips []string, end time.Time) {
	var v pdp.Velocity
	tr.Observe(at(0), Observation{UID: "old", Device: "old-dev", Amount: 9}, &v)
	for i := range 40 {
		s := 3600 + i*37
		uid, dev, ip := "u"+itoa(i%7), "d"+itoa(i%11), "ip"+itoa(i%3)
		tr.Observe(at(s), Observation{UID: uid, Device: dev, IP: ip, Amount: float64(i), Login: i%5 == 0}, &v)
		tr.Observe(at(s), Observation{UID: "many", Device: "dev" + itoa(i)}, &v)
		if i%4 == 0 {
			if err := tr.RecordFailure(at(s), uid, pdp.FailureKind(1+i%3)); err != nil {
				t.Fatal(err)
			}
			tr.RecordSpend(at(s), uid, "", float64(10*i))
		}
	}
	for i := range 7 {
		uids = append(uids, "u"+itoa(i))
	}
	for i := range 11 {
		devs = append(devs, "d"+itoa(i))
	}
	uids = append(uids, "many", "old", "nobody")
	devs = append(devs, "old-dev", "dev0", "dev39")
	return uids, devs, []string{"ip0", "ip1", "ip2"}, at(3600 + 39*37)
}

func snapshot(t testing.TB, tr *Tracker) []byte {
	var buf bytes.Buffer
	if err := tr.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads every id at now from tr.
func readAll(tr *Tracker, now time.Time, uids, devs, ips []string) []pdp.Velocity {
	var out []pdp.Velocity
	for i := range max(len(uids), len(devs), len(ips)) {
		var v pdp.Velocity
		tr.Read(now, uids[i%len(uids)], devs[i%len(devs)], ips[i%len(ips)], &v)
		out = append(out, v)
	}
	return out
}

func TestSnapshotRoundTrip(t *testing.T) {
	modes(t, func(t *testing.T, small uint8) {
		src := newTracker(t, Config{}, small)
		uids, devs, ips, end := populate(t, src)
		data := snapshot(t, src)
		for _, later := range []time.Duration{0, time.Minute, 2 * time.Hour, 23 * time.Hour, 24 * time.Hour} {
			now := end.Add(later)
			dst := newTracker(t, Config{Shards: 16}, small)
			if err := dst.Restore(bytes.NewReader(data), now); err != nil {
				t.Fatal(err)
			}
			want, got := readAll(src, now, uids, devs, ips), readAll(dst, now, uids, devs, ips)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("+%v, read %d:\n got %+v\nwant %+v", later, i, got[i], want[i])
				}
			}
			// Restored keys keep counting.
			var a, b pdp.Velocity
			src2 := newTracker(t, Config{}, small)
			if err := src2.Restore(bytes.NewReader(data), now); err != nil {
				t.Fatal(err)
			}
			dst.Observe(now, Observation{UID: "u1", Device: "d1", IP: "ip1", Amount: 1}, &a)
			src2.Observe(now, Observation{UID: "u1", Device: "d1", IP: "ip1", Amount: 1}, &b)
			if a != b {
				t.Fatalf("after restore:\n%+v\n%+v", a, b)
			}
		}
	})
}

func TestRestoreDropsExpired(t *testing.T) {
	src := newTracker(t, Config{}, smallCap)
	_, _, _, end := populate(t, src)
	n := src.Len()
	dst := newTracker(t, Config{}, smallCap)
	if err := dst.Restore(bytes.NewReader(snapshot(t, src)), end); err != nil {
		t.Fatal(err)
	}
	// At end (+1h24m) every key counts, including those of +0; 30 hours
	// later nothing does.
	if dst.Len() != n {
		t.Fatalf("Len %d, want %d", dst.Len(), n)
	}
	dst = newTracker(t, Config{}, smallCap)
	if err := dst.Restore(bytes.NewReader(snapshot(t, src)), end.Add(30*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if dst.Len() != 0 {
		t.Fatalf("Len %d after 30 h, want 0", dst.Len())
	}
	// Restoring into a smaller tracker drops the keys that do not fit.
	dst = newTracker(t, Config{MaxKeys: 8, Shards: 4}, smallCap)
	if err := dst.Restore(bytes.NewReader(snapshot(t, src)), end); err != nil {
		t.Fatal(err)
	}
	if st := dst.Stats(); st.Keys > 8 || st.Keys+int(st.Evictions) != n {
		t.Fatalf("stats %+v, want %d keys in all", st, n)
	}
}

func TestRestoreErrors(t *testing.T) {
	src := newTracker(t, Config{}, smallCap)
	_, _, _, end := populate(t, src)
	good := snapshot(t, src)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		data []byte
		is   error
		msg  string
	}{
		{"empty", nil, ErrSnapshotCorrupt, "not a velocity snapshot"},
		{"wrong magic", edit(func(b []byte) []byte { b[0] = 'X'; return b }), ErrSnapshotCorrupt, "not a velocity snapshot"},
		{"unknown version", edit(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[8:], 2); return b }),
			ErrSnapshotVersion, "version 2 (this build reads version 1)"},
		{"truncated", good[:len(good)/2], ErrSnapshotCorrupt, "truncated"},
		{"no trailer", good[:len(good)-17], ErrSnapshotCorrupt, "truncated"},
		{"flipped byte", edit(func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }), ErrSnapshotCorrupt, ""},
		{"bad checksum", edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrSnapshotCorrupt, "checksum"},
		{"trailing data", append(bytes.Clone(good), 0), ErrSnapshotCorrupt, "after the trailer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := newTracker(t, Config{}, smallCap)
			seed := dst.seed
			err := dst.Restore(bytes.NewReader(tt.data), end)
			if !errors.Is(err, tt.is) || !strings.Contains(fmtErr(err), tt.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tt.is, tt.msg)
			}
			if dst.Len() != 0 || dst.seed != seed {
				t.Fatalf("failed restore left %d keys, seed changed %v", dst.Len(), dst.seed != seed)
			}
		})
	}
	t.Run("from the future", func(t *testing.T) {
		dst := newTracker(t, Config{}, smallCap)
		err := dst.Restore(bytes.NewReader(good), end.Add(-time.Hour))
		if !errors.Is(err, ErrSnapshotCorrupt) || !strings.Contains(err.Error(), "after now") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not empty", func(t *testing.T) {
		if err := src.Restore(bytes.NewReader(good), end); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("got %v", err)
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestSnapshotDuplicates feeds a snapshot that holds one key twice, as a
// snapshot taken under load can: the newer copy wins.
func TestSnapshotDuplicates(t *testing.T) {
	tr := newTracker(t, Config{Shards: 1}, smallCap)
	var v pdp.Velocity
	tr.Observe(at(0), Observation{UID: "u", Amount: 1}, &v)
	s := &tr.shards[0]
	older := s.appendEntry(nil, s.entries.at(1))
	tr.Observe(at(10), Observation{UID: "u", Amount: 2}, &v)
	data := snapshot(t, tr)
	// Splice the older entry in front of the newer one and fix the trailer.
	hdr := len(snapshotMagic) + 2 + 16
	body := data[hdr : len(data)-17]
	out := append(append(append([]byte{}, data[:hdr]...), older...), body...)
	out = append(out, tagEnd)
	out = binary.LittleEndian.AppendUint64(out, 2)
	out = binary.LittleEndian.AppendUint32(out, tr.latest.Load())
	out = binary.LittleEndian.AppendUint32(out, crc32c(out))
	dst := newTracker(t, Config{}, smallCap)
	if err := dst.Restore(bytes.NewReader(out), at(10)); err != nil {
		t.Fatal(err)
	}
	dst.Read(at(10), "u", "", "", &v)
	if dst.Len() != 1 || v.UID.Count1m != 2 || v.UID.Amount1m != 3 {
		t.Fatalf("Len %d, %+v", dst.Len(), v.UID)
	}
}
