package decisionlog

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const tmpfsChildEnv = "DECISIONLOG_TMPFS_DIR"

// TestDiskFullTmpfs fills a real 256 KiB tmpfs. The test re-runs itself in
// a child process with a private mount namespace (so the mount is invisible
// outside it and goes away with it); it is skipped where that is not
// permitted (not root, or no CAP_SYS_ADMIN).
func TestDiskFullTmpfs(t *testing.T) {
	dir := os.Getenv(tmpfsChildEnv)
	if dir == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDiskFullTmpfs$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), tmpfsChildEnv+"="+t.TempDir())
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		out, err := cmd.CombinedOutput()
		if errors.Is(err, syscall.EPERM) || strings.Contains(string(out), "--- SKIP") {
			t.Skipf("no private tmpfs here: %v %s", err, out)
		}
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, 0)

	// Sync mode: Log fails with ENOSPC once the disk is full; every record
	// acknowledged before is readable.
	path := filepath.Join(dir, "sync.log")
	l, err := New(Config{Path: path, Sync: true, DisableCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for i := 0; ; i++ {
		err := l.Log(typicalRecord(i))
		if err == nil {
			acked++
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrNotDurable) {
			t.Fatalf("Log %d: %v", i, err)
		}
		break
	}
	if err := l.Healthy(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Healthy: %v", err)
	}
	l.Close(context.Background())
	recs, rd := readAll(t, path)
	if len(recs) < acked || rd.Skipped() > 1 {
		t.Fatalf("%d acknowledged, %d readable, skips %v", acked, len(recs), rd.Skips())
	}
	t.Logf("sync: %d records acknowledged before ENOSPC, %d readable, skips %v", acked, len(recs), rd.Skips())

	// Async mode on the full disk: Log never blocks, the losses are
	// counted.
	al, err := New(Config{Path: filepath.Join(dir, "async.log")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 200 {
		if err := al.Log(typicalRecord(i)); err != nil {
			t.Fatalf("async Log: %v", err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("async Log took %v for 200 records on a full disk", d)
	}
	al.Close(context.Background())
	st := al.Stats()
	if st.Dropped[DropFileError] == 0 || st.Logged+st.Dropped[DropFileError] != 200 || !strings.Contains(st.LastError, "no space") {
		t.Fatalf("async stats %+v", st)
	}
	t.Logf("async: logged %d, dropped %d (file_error), last error %q", st.Logged, st.Dropped[DropFileError], st.LastError)
}
