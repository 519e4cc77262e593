package cli

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A real `pdp serve` process for the tests that need signals, restarts on
// the same files or the process's own memory: the fault, soak, shutdown
// and decision-log tests. The binary is built from this tree without the
// race detector, once per test binary.

var (
	pdpBinOnce sync.Once
	pdpBin     string
	pdpBinErr  error
)

// TestMain removes the binary buildPDP built: 67 MiB a run, which filled
// /tmp after a day of test runs.
func TestMain(m *testing.M) {
	code := m.Run()
	if pdpBin != "" {
		os.RemoveAll(filepath.Dir(pdpBin))
	}
	os.Exit(code)
}

// buildPDP builds bin/pdp once per test binary.
func buildPDP(t *testing.T) string {
	t.Helper()
	pdpBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pdp-test-bin")
		if err != nil {
			pdpBinErr = err
			return
		}
		pdpBin = filepath.Join(dir, "pdp")
		out, err := exec.Command("go", "build", "-o", pdpBin, "../../cmd/pdp").CombinedOutput()
		if err != nil {
			pdpBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if pdpBinErr != nil {
		t.Fatal(pdpBinErr)
	}
	return pdpBin
}

// proc is a running `pdp serve`.
type proc struct {
	cmd        *exec.Cmd
	url, admin string
	logs       *syncBuffer
	exited     chan struct{} // closed when it has exited, with exitErr set
	exitErr    error
}

// spawn starts `pdp serve --addr addr --log-format text args...` and waits
// until /health/ready answers 200. The process is killed when the test ends.
func spawn(t *testing.T, addr string, args ...string) *proc {
	t.Helper()
	return spawnReadyAt(t, "http://"+addr, append([]string{"--addr", addr}, args...)...)
}

// spawnReadyAt starts `pdp serve --log-format text args...` and waits until
// url's /health/ready answers 200 (url is then p.url): for a decision
// listener on a Unix socket, url is the health listener's.
func spawnReadyAt(t *testing.T, url string, args ...string) *proc {
	t.Helper()
	p := &proc{url: url, logs: &syncBuffer{}, exited: make(chan struct{})}
	args = append([]string{"serve", "--log-format", "text"}, args...)
	p.cmd = exec.Command(buildPDP(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(p.url + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if p.hasExited() {
			t.Fatalf("pdp exited: %v\n%s", p.exitErr, p.logs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pdp not ready:\n%s", p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasExited reports whether the process has exited (exitErr is then set).
func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop sends sig and waits up to timeout for the process to exit; with
// SIGTERM the exit must be clean.
func (p *proc) stop(t *testing.T, sig syscall.Signal, timeout time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	p.awaitExit(t, timeout, sig == syscall.SIGTERM)
}

// awaitExit waits up to timeout for the process to exit, clean if asked.
func (p *proc) awaitExit(t *testing.T, timeout time.Duration, clean bool) {
	t.Helper()
	select {
	case <-p.exited:
		if clean && p.exitErr != nil {
			t.Fatalf("exit: %v\n%s", p.exitErr, p.logs)
		}
	case <-time.After(timeout):
		t.Fatalf("no exit within %v:\n%s", timeout, p.logs)
	}
}
