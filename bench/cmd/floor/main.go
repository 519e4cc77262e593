// Command floor serves bench.FloorHandler: the no-op fasthttp server the
// load harness measures as the floor of HTTP on loopback.
//
//	floor -addr 127.0.0.1:9393
//
// With BENCH_CPUPROFILE set it writes a CPU profile there until it stops
// (SIGTERM or SIGINT).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/bench"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9393", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	srv := &fasthttp.Server{Handler: bench.FloorHandler, Name: "floor"}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(*addr) }()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	_ = srv.Shutdown()
}
