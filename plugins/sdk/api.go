// Package sdk is the Go guest SDK for riskpdp scoring plugins. A plugin is
// a main package built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o NAME.wasm .
//
// that registers one function over the typed feature record:
//
//	func init() { sdk.Register(score) }
//
//	func score(f *sdk.Features) (float64, sdk.Reasons) {
//		if f[abi.DeviceNew] == 1 && f[abi.IPForeign] == 1 {
//			return 0.8, reasonNewDeviceForeignIP
//		}
//		return 0, 0
//	}
//
//	func main() {}
//
// The SDK provides the ABI v1 exports (see plugins/ABI.md): the version
// marker, the exchange buffer and the score entry point. The score function
// runs once per decision; it must not block, should not allocate, and must
// return a score in [0, 1] and only reason bits its manifest declares,
// otherwise the host counts a fault. Only the features the manifest lists
// are written; the others read as 0.
//
// The helpers in this file build on any platform, so plugin logic can be
// unit-tested on the host; the exports build only for wasip1.
package sdk

import (
	"math"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// Features is the feature record; index it with the constants of package
// abi.
type Features = abi.Features

// Reasons is a bitmask over the manifest's reasons list: bit i is
// reasons[i].
type Reasons uint64

// Scorer scores one decision.
type Scorer func(f *Features) (score float64, reasons Reasons)

// Clamp01 limits x to [0, 1], mapping NaN to 0.
func Clamp01(x float64) float64 {
	switch {
	case x > 1:
		return 1
	case x >= 0:
		return x
	}
	return 0 // negative or NaN
}

// Sigmoid is the logistic function.
func Sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Saturate maps x ≥ 0 to [0, 1): 0 at 0, 0.5 at half, approaching 1.
func Saturate(x, half float64) float64 {
	if !(x > 0) || !(half > 0) {
		return 0
	}
	return x / (x + half)
}

// NoisyOr combines independent risk probabilities: 1 - Π(1 - p).
func NoisyOr(ps ...float64) float64 {
	q := 1.0
	for _, p := range ps {
		q *= 1 - Clamp01(p)
	}
	return 1 - q
}

// Bool reports whether a 0/1 feature is set.
func Bool(f *Features, i abi.Feature) bool { return f[i] >= 0.5 }
