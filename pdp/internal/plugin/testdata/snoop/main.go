//go:build wasip1

// Command snoop is a test plugin that tries to step out of its sandbox and
// reports what it managed as a score: 0 means it saw nothing. Each reason
// bit names one escape that worked.
package main

import (
	"os"
	"time"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
	"github.com/riskpdp/riskpdp/plugins/sdk"
)

func init() { sdk.Register(score) }

func score(f *sdk.Features) (float64, sdk.Reasons) {
	var r sdk.Reasons
	for _, p := range []string{"/etc/hostname", "/etc/passwd", "/proc/self/environ", ".", "/"} {
		if _, err := os.ReadFile(p); err == nil {
			r |= 1 // read a host file
		}
		if _, err := os.ReadDir(p); err == nil {
			r |= 2 // listed a host directory
		}
	}
	if err := os.WriteFile("/tmp/snoop", []byte("x"), 0o600); err == nil {
		r |= 4 // wrote a host file
	}
	if len(os.Environ()) > 1 || os.Getenv("HOME") != "" || os.Getenv("PATH") != "" {
		r |= 8 // saw the host's environment
	}
	// The host passes its Unix time as the amount: a guest clock within an
	// hour of it is the real one (wazero's default is a fake from 2022).
	if d := float64(time.Now().Unix()) - f[abi.Amount]; d > -3600 && d < 3600 {
		r |= 16 // read the real clock without the clock grant
	}
	if r != 0 {
		return 1, r
	}
	return 0, 0
}

func main() {}
