//go:build wasip1

// Command faulty is a test plugin that misbehaves on demand: the feature
// stage selects the behaviour (see the constants), so one module covers
// every runtime fault the host must survive.
package main

import (
	"math"
	"unsafe"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
	"github.com/riskpdp/riskpdp/plugins/sdk"
)

// Behaviours, selected by f[abi.Stage].
const (
	ok       = 0 // score amount/1000, reason 0 when amount > 500
	spin     = 1 // loop forever
	trap     = 2 // panic
	oob      = 3 // write outside linear memory
	grow     = 4 // allocate until the memory cap
	nan      = 5 // return NaN
	badBits  = 6 // return a reason bit the manifest does not declare
	tooLarge = 7 // return 2
	work     = 8 // loop amount times, then succeed
	recurse  = 9 // unbounded recursion
)

var (
	counter uint64
	hold    [][]byte
)

func init() { sdk.Register(score) }

func score(f *sdk.Features) (float64, sdk.Reasons) {
	switch f[abi.Stage] {
	case spin:
		for {
			counter++
		}
	case trap:
		panic("faulty: trap on purpose")
	case oob:
		// 2 GiB past a global: beyond any memory the cap allows.
		unsafe.Slice((*byte)(unsafe.Pointer(&counter)), 1<<31)[1<<31-1] = 1
	case grow:
		for {
			hold = append(hold, make([]byte, 4<<20))
		}
	case nan:
		return math.NaN(), 0
	case badBits:
		return 0.5, 1 << 5
	case tooLarge:
		return 2, 0
	case work:
		for i := 0; i < int(f[abi.Amount]); i++ {
			counter++
		}
		return 0.1, 0
	case recurse:
		return deep(int(f[abi.Amount])), 0
	}
	var r sdk.Reasons
	if f[abi.Amount] > 500 {
		r = 1
	}
	return sdk.Clamp01(f[abi.Amount] / 1000), r
}

//go:noinline
func deep(n int) float64 {
	if n == -1 {
		return 0
	}
	return deep(n+1) / 2
}

func main() {}
