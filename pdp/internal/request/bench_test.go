package request

import (
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
)

// paymentBody's phone change is 14 hours before the benchmark runs (a fixed
// date would leave the 72-hour window and change the decision measured).
var paymentBody = PaymentWithChangeAt(time.Now().Add(-14 * time.Hour))

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	benchutil.CPUTime(b)
	now := time.Now()
	for b.Loop() {
		if _, err := DecodeRequest(paymentBody, now, Limits{MaxDepth: 16, MaxAmount: 1e12}); err != nil {
			b.Fatal(err)
		}
	}
}
