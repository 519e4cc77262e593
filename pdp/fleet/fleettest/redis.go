// Package fleettest starts a Redis for tests: a real redis-server on a
// loopback port in a temporary directory, or, where the binary is missing
// (or RISKPDP_TEST_MINIREDIS is set), the in-process miniredis; the test
// log says which. Under CI (CI set) a missing redis-server fails the test:
// make deps installs it.
package fleettest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Redis is a Redis for one test: a real redis-server on a loopback
// port in a temporary directory, or, where the binary is missing, an
// in-process miniredis (the test log says which).
type Redis struct {
	t    testing.TB
	Addr string
	dir  string
	bin  string
	cmd  *exec.Cmd
	mini *miniredis.Miniredis
	// hold keeps the port while the server is stopped, so that another
	// test process cannot start its own Redis there and answer in its
	// place (clients see their connection closed at once: down).
	hold net.Listener
}

var announce sync.Once

// Start starts a Redis, stopped when the test ends.
func Start(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, dir: t.TempDir()}
	if bin, err := exec.LookPath("redis-server"); err == nil && os.Getenv("RISKPDP_TEST_MINIREDIS") == "" {
		r.bin = bin
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.Addr = l.Addr().String()
		l.Close()
		r.Start()
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
	t.Cleanup(r.Stop)
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
	_, port, _ := net.SplitHostPort(r.Addr)
	r.cmd = exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	for i := 0; ; i++ {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return
		} else if i > 200 {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server on %s did not start: %v\n%s", r.Addr, err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: an outage, not a maintenance stop).
func (r *Redis) Stop() {
	if r.mini != nil {
		r.mini.Close()
		return
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
		if ln, err := net.Listen("tcp", r.Addr); err == nil {
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
}

func (r *Redis) String() string {
	if r.Real() {
		return fmt.Sprintf("redis-server %s", r.Addr)
	}
	return fmt.Sprintf("miniredis %s", r.Addr)
}
