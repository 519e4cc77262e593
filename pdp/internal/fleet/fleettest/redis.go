// Package fleettest starts a Redis for tests: a real redis-server on a
// loopback port in a temporary directory, or, where the binary is missing
// (or RISKPDP_TEST_MINIREDIS is set), the in-process miniredis; the test
// log says which. Under CI (CI set) a missing redis-server fails the test:
// make deps installs it.
package fleettest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// Redis is a Redis for one test: a real redis-server on a loopback
// port in a temporary directory, or, where the binary is missing, an
// in-process miniredis (the test log says which).
type Redis struct {
	t    testing.TB
	Addr string
	dir  string
	bin  string
	srv  *server
	mini *miniredis.Miniredis
	// hold keeps the port while the server is stopped, so that another
	// test process cannot start its own Redis there and answer in its
	// place (clients see their connection closed at once: down).
	hold net.Listener
}

var announce sync.Once

// redisArgs: durable (every write fsynced to the append-only file), so a
// restart after Stop keeps the data.
var redisArgs = []string{"--appendonly", "yes", "--appendfsync", "always"}

// Start starts a Redis, stopped when the test ends.
func Start(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, dir: t.TempDir()}
	if bin, err := exec.LookPath("redis-server"); err == nil && os.Getenv("RISKPDP_TEST_MINIREDIS") == "" {
		r.bin = bin
		r.Addr, r.srv = launchFree(t, bin, r.dir, redisArgs...)
		announce.Do(func() { t.Logf("using %s", bin) })
	} else {
		if os.Getenv("CI") != "" && os.Getenv("RISKPDP_TEST_MINIREDIS") == "" {
			t.Fatal("CI runs the Redis tests on a real redis-server: install it (make deps)")
		}
		announce.Do(func() { t.Logf("redis-server not found: using the in-process miniredis") })
		r.mini = miniredis.NewMiniRedis()
		if err := r.mini.Start(); err != nil {
			t.Fatal(err)
		}
		r.Addr = r.mini.Addr()
	}
	t.Cleanup(func() {
		if r.mini != nil {
			r.mini.Close()
		} else if r.srv != nil {
			r.srv.kill()
		}
	})
	return r
}

// Real reports whether this is a real redis-server.
func (r *Redis) Real() bool { return r.mini == nil }

// Start starts the server again after Stop (same port, same data).
func (r *Redis) Start() {
	r.t.Helper()
	if r.mini != nil {
		if err := r.mini.Restart(); err != nil {
			r.t.Fatal(err)
		}
		return
	}
	if r.hold != nil {
		r.hold.Close()
		r.hold = nil
	}
	srv, err := launch(r.bin, r.dir, r.Addr, redisArgs...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.srv = srv
}

// Stop kills the server (SIGKILL: an outage, not a maintenance stop).
func (r *Redis) Stop() {
	if r.mini != nil {
		r.mini.Close()
		return
	}
	if r.srv != nil {
		r.srv.kill()
		r.srv = nil
		ln, err := net.Listen("tcp", r.Addr)
		if err != nil {
			r.t.Fatalf("holding the port of the stopped %s: %v", r, err)
		}
		r.hold = ln
		r.t.Cleanup(func() { ln.Close() })
		go func() { // close every connection at once, as a refused one
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
}

func (r *Redis) String() string {
	if r.Real() {
		return fmt.Sprintf("redis-server %s", r.Addr)
	}
	return fmt.Sprintf("miniredis %s", r.Addr)
}
