package fleet

import (
	"bytes"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// FuzzInvalidationMessage: any message from the channel (another sidecar,
// the risk platform, garbage) is decoded without panicking; what decodes
// encodes back to the same bytes.
func FuzzInvalidationMessage(f *testing.F) {
	b := &Backend{log: quiet}
	good := appendChange(appendChange(b.newMessage(), state.BucketAccounts, []byte("u-1")), state.BucketLists, []byte{1, 2, 'd'})
	f.Add(good)
	f.Add([]byte{})
	f.Add(append(make([]byte, 24), 4, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Fuzz(func(t *testing.T, msg []byte) {
		b.apply(msg) // no callbacks registered: decoding only
		if len(msg) < 24 {
			return
		}
		var again []byte
		if err := decodeChanges(msg[24:], func(bk state.Bucket, key []byte) { again = appendChange(again, bk, key) }); err == nil && !bytes.Equal(again, msg[24:]) {
			// Non-minimal uvarints decode to the same lengths: compare decoded.
			var a, c [][]byte
			_ = decodeChanges(msg[24:], func(_ state.Bucket, k []byte) { a = append(a, k) })
			_ = decodeChanges(again, func(_ state.Bucket, k []byte) { c = append(c, k) })
			if len(a) != len(c) {
				t.Fatalf("re-encoding changed the message: %x → %x", msg[24:], again)
			}
		}
	})
}
