package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const stateFaultEnv = "PDP_STATE_FAULT_DIR"

// TestFaultStateUnwritable puts the risk state on a small tmpfs and fills
// it while the sidecar serves: the state file can no longer be written
// (bbolt grows into pages the filesystem cannot give). Operator writes are
// then refused with 500 (never acknowledged), counted in
// pdp_state_sync_errors_total, and decisions go on with every block in
// force. Once space is back writes succeed again, and after a restart
// every acknowledged write is there. A read-only remount is refused
// by Linux while bbolt holds the file open for writing (and a read-only
// bind mount leaves the open descriptor writable), so a full
// filesystem is how an unwritable state file is made here; a read-only
// file at start is refused (state.TestOpenRefusesInaccessibleFiles).
//
// The test re-runs itself in a child with a private mount namespace and is
// skipped where that is not permitted.
func TestFaultStateUnwritable(t *testing.T) {
	dir := os.Getenv(stateFaultEnv)
	if dir == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFaultStateUnwritable$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), stateFaultEnv+"="+t.TempDir())
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		out, err := cmd.CombinedOutput()
		if errors.Is(err, syscall.EPERM) || strings.Contains(string(out), "--- SKIP") {
			t.Skipf("no private tmpfs here: %v %s", err, lastLines(out, 5))
		}
		if err != nil {
			t.Fatalf("child: %v\n%s", err, lastLines(out, 60))
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "state unwritable:") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)

	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(faultToken+" write chaos\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := freeAddr(t)
	args := []string{"--state", filepath.Join(mnt, "state.db"), "--admin-addr", adminAddr, "--admin-token-file", tokens}
	s := startSidecar(t, args...)
	p := &proc{url: s.url, admin: "http://" + adminAddr}

	var acked []string
	block := func(dev string) (int, string) {
		code, body, err := p.op("PUT", "/admin/v1/lists/block/device/"+dev, `{"operator":"chaos","ticket":"CHAOS-1","reason":"`+strings.Repeat("r", 900)+`"}`)
		if err != nil {
			t.Fatal(err)
		}
		if code == 200 {
			acked = append(acked, dev)
		}
		return code, string(body)
	}
	for i := 0; i < 20; i++ {
		if code, body := block(fmt.Sprintf("before-%d", i)); code != 200 {
			t.Fatalf("healthy write: %d %s", code, body)
		}
	}

	// Fill the filesystem.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	// Writes until the state cannot grow: each is acknowledged (200) or
	// refused (500 internal), nothing in between.
	refused, during := 0, 0
	for i := 0; i < 2000 && refused < 20; i++ {
		code, body := block(fmt.Sprintf("during-%d", i))
		switch {
		case code == 200:
			during++
		case code == 500 && strings.Contains(body, `"internal"`):
			refused++
		default:
			t.Fatalf("write on a full filesystem: %d %s", code, body)
		}
	}
	if refused == 0 {
		t.Fatalf("the state never became unwritable (%d writes acknowledged)", during)
	}
	_, metrics := s.get("/metrics")
	if n := metricValue(metrics, "pdp_state_sync_errors_total"); n < float64(refused) {
		t.Errorf("pdp_state_sync_errors_total = %v, want ≥ %d", n, refused)
	}
	// Decisions go on; every acknowledged block is in force.
	allows := 0
	for i, dev := range acked {
		code, d := s.decide(deviceBody(fmt.Sprintf("c-%d", i), dev))
		if code != 200 || d["outcome"] != "deny" {
			allows++
			t.Errorf("blocked %s during the fault: %d %v", dev, code, d)
		}
	}

	// Space comes back: writes succeed again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if code, body := block(fmt.Sprintf("after-%d", i)); code != 200 {
			t.Fatalf("write after recovery: %d %s", code, body)
		}
	}

	// Restart on the same file: every acknowledged write is there.
	if code := s.shutdown(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	s2 := startSidecar(t, args...)
	lost := 0
	for i, dev := range acked {
		if code, d := s2.decide(deviceBody(fmt.Sprintf("r-%d", i), dev)); code != 200 || d["outcome"] != "deny" {
			lost++
			t.Errorf("acknowledged block of %s lost: %d %v", dev, code, d)
		}
	}
	t.Logf("state unwritable: %d writes refused with 500 and counted, %d acknowledged in all (%d while the disk filled), %d lost after restart, %d allows for blocked devices",
		refused, len(acked), during, lost, allows)
}

// metricValue reads an unlabelled sample from a Prometheus text page.
func metricValue(page, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
