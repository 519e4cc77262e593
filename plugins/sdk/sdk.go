//go:build wasip1

package sdk

import (
	"runtime/debug"
	"unsafe"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// exchange is the buffer the host writes features into: abi.Slots feature
// slots followed by the reason mask. A global, so the Go runtime never
// moves it and the host can cache its address.
var exchange [abi.Slots + 1]uint64

var scorer Scorer

// A panic ends the guest (see score): print its message only. The full
// goroutine traceback takes milliseconds to format in WebAssembly, which
// would turn a trap into a timeout against a budget of a millisecond or two.
func init() { debug.SetTraceback("none") }

// Register installs the plugin's scoring function. Call it from an init
// function: with -buildmode=c-shared the runtime runs package
// initialization in _initialize and never calls main.
func Register(s Scorer) { scorer = s }

//go:wasmexport riskpdp_abi_version
func abiVersion() int32 { return abi.Version }

//go:wasmexport riskpdp_buffer
func buffer() int32 { return int32(uintptr(unsafe.Pointer(&exchange))) }

//go:wasmexport riskpdp_score
func score() (s float64) {
	// No recover here: a deferred recover costs more than the call itself
	// on every call of a Go guest. A panic ends the guest (the Go
	// runtime prints it to stderr, which the host logs, and exits); the host
	// counts that as a trap and replaces the instance, as for any trap.
	if scorer == nil {
		return abi.ScoreError // sdk.Register was not called in an init function
	}
	s, r := scorer((*Features)(unsafe.Pointer(&exchange)))
	exchange[abi.Slots] = uint64(r)
	return s
}
