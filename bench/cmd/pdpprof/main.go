// Command pdpprof is the pdp command (pdp/cli) with a CPU profile around
// it, for the load harness: the sidecar has no pprof endpoint, so the
// harness runs this build of the same code when it wants to see where a
// decision's time goes. With BENCH_CPUPROFILE set, `pdpprof serve …`
// profiles until the sidecar stops (SIGTERM), then writes the profile.
// Benchmark numbers always come from the real pdp binary.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/riskpdp/riskpdp/pdp/cli"
)

func main() {
	path := os.Getenv("BENCH_CPUPROFILE")
	if path == "" {
		os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pdpprof:", err)
		os.Exit(1)
	}
	code := cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	f.Close()
	os.Exit(code)
}
