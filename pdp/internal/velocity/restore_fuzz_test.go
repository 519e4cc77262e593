package velocity

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
)

// FuzzRestore feeds arbitrary bytes to Restore. It must never panic; a
// snapshot it accepts must leave a tracker that works and snapshots to
// bytes that restore to the same snapshot again. With fixCRC the last four
// bytes are replaced by the checksum of the rest, so that mutations get past
// the checksum to the validation of the entries.
func FuzzRestore(f *testing.F) {
	src := newTracker(f, Config{}, smallCap)
	_, _, _, end := populate(f, src)
	rings := newTracker(f, Config{}, 0)
	populate(f, rings)
	for _, fix := range []bool{false, true} {
		f.Add(snapshot(f, src), fix)
		f.Add(snapshot(f, rings), fix)
		f.Add(snapshot(f, newTracker(f, Config{}, smallCap)), fix)
		f.Add([]byte(snapshotMagic), fix)
		f.Add([]byte{}, fix)
	}

	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if n := len(data) - 4; fixCRC && n >= 0 {
			binary.LittleEndian.PutUint32(data[n:], crc32c(data[:n]))
		}
		tr := newTracker(t, Config{MaxKeys: 256, Shards: 4}, smallCap)
		if err := tr.Restore(bytes.NewReader(data), end); err != nil {
			if tr.Len() != 0 {
				t.Fatalf("failed restore left %d keys", tr.Len())
			}
			return
		}
		var v pdp.Velocity
		tr.Observe(end, Observation{UID: "u1", Device: "d1", IP: "ip1", Amount: 1}, &v)
		tr.Read(end, "many", "d2", "ip0", &v)
		tr.Sweep(end)
		again := newTracker(t, Config{MaxKeys: 256, Shards: 4}, smallCap)
		first := snapshot(t, tr)
		if err := again.Restore(bytes.NewReader(first), end); err != nil {
			t.Fatalf("restoring our own snapshot: %v", err)
		}
		if second := snapshot(t, again); !bytes.Equal(first, second) {
			t.Fatalf("snapshot changed across restore: %d bytes vs %d", len(first), len(second))
		}
	})
}
