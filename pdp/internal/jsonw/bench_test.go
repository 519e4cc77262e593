package jsonw

import (
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
)

var numbers = []string{"0", "-1", "6800", "123456789.125", "-0.000000123", "1e21", "1.7976931348623157e+308", "01", "1."}

// BenchmarkValidNumber checks nine literals, seven valid, per op.
func BenchmarkValidNumber(b *testing.B) {
	b.ReportAllocs()
	benchutil.CPUTime(b)
	n := 0
	for b.Loop() {
		for _, s := range numbers {
			if ValidNumber(s) {
				n++
			}
		}
	}
	_ = n
}

// BenchmarkCompact compacts the decision log line README shows.
func BenchmarkCompact(b *testing.B) {
	src := []byte(sampleRecord)
	buf := make([]byte, 0, len(src))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	benchutil.CPUTime(b)
	for b.Loop() {
		var err error
		if buf, err = Compact(buf[:0], src); err != nil {
			b.Fatal(err)
		}
	}
}
