package state

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	bolt "go.etcd.io/bbolt"
)

// writeStore creates a state file holding some entries and returns its path.
func writeStore(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "state.db")
	s, err := Open(Config{Path: path, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var es []pdp.ListEntry
	for i := range 5000 {
		es = append(es, block(pdp.SubjectDevice, "d-10.0."+strings.Repeat("9", i%7)+"."+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), "feed"))
	}
	if err := s.PutListEntries(bg, es, pdp.AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Open refuses a file it cannot trust, says why, and leaves it untouched.
func TestOpenRefusesDamagedFiles(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, dir string) string
		want string
	}{
		{"random bytes", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "state.db")
			b := make([]byte, 64<<10)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return p + "\x00" + string(b)
		}, "invalid database"},
		{"truncated to half its pages", func(t *testing.T, dir string) string {
			p := writeStore(t, dir)
			// The file may be longer than its pages (bbolt grows it
			// ahead): cut into the pages themselves.
			db, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
			must(t, err)
			var size int64
			_ = db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
			_ = db.Close()
			must(t, os.Truncate(p, size/2))
			return p
		}, "truncated"},
		{"truncated by one page", func(t *testing.T, dir string) string {
			p := writeStore(t, dir)
			db, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
			must(t, err)
			var size int64
			_ = db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
			_ = db.Close()
			must(t, os.Truncate(p, size-4096))
			return p
		}, "truncated"},
		{"truncated to one page", func(t *testing.T, dir string) string {
			p := writeStore(t, dir)
			if err := os.Truncate(p, 4096); err != nil {
				t.Fatal(err)
			}
			return p
		}, "file size too small"},
		{"empty file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "state.db")
			return p + "\x00"
		}, "is empty"},
		{"directory", func(t *testing.T, dir string) string { return dir }, "is a directory"},
		{"parent is a file", func(t *testing.T, dir string) string {
			f := filepath.Join(dir, "file")
			if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(f, "state.db")
		}, "not a directory"},
		{"other bbolt file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "other.db")
			db, err := bolt.Open(p, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
			_ = db.Close()
			return p
		}, "not a risk state file"},
		{"other format version", func(t *testing.T, dir string) string {
			p := writeStore(t, dir)
			db, err := bolt.Open(p, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put(formatKey, []byte("riskpdp-state/9")) })
			_ = db.Close()
			return p
		}, "unsupported format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.make(t, t.TempDir())
			if p, content, ok := strings.Cut(path, "\x00"); ok {
				path = p
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			s, err := Open(Config{Path: path})
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(strings.ReplaceAll(msg, path, ""), tt.want) {
				t.Errorf("Open error %q does not name the file and %q", err, tt.want)
			}
			t.Logf("Open: %v", err)
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("Open modified the file it refused")
			}
		})
	}
}

func TestOpenLockTimeout(t *testing.T) {
	s, _, path := openTest(t)
	_ = s
	start := time.Now()
	_, err := Open(Config{Path: path, LockTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("second Open of a locked file: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("lock timeout not honoured")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "path: required"},
		{Config{Path: "x", CacheMaxCost: -1}, "cache max cost"},
		{Config{Path: "x", CacheTTL: -1}, "cache ttl"},
		{Config{Path: "x", NegativeTTL: -1}, "negative ttl"},
		{Config{Path: "x", FlushInterval: -1}, "flush interval"},
		{Config{Path: "x", FlushMaxPending: -1}, "flush max pending"},
		{Config{Path: "x"}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// Permission failures. Root ignores file modes, so as root the checks run
// in a child process as nobody.
func TestOpenRefusesInaccessibleFiles(t *testing.T) {
	if os.Getenv("STATE_PERM_HELPER") == "" && os.Geteuid() == 0 {
		runAsNobody(t, "TestOpenRefusesInaccessibleFiles")
		return
	}
	base := os.Getenv("STATE_PERM_HELPER")
	if base == "" {
		base = t.TempDir()
	}
	tests := []struct {
		name  string
		setup func(dir string) string
		want  string
	}{
		{"unreadable file", func(dir string) string {
			p := writeStore(t, dir)
			must(t, os.Chmod(p, 0o000))
			return p
		}, "permission denied"},
		{"read-only file", func(dir string) string {
			p := writeStore(t, dir)
			must(t, os.Chmod(p, 0o400))
			return p
		}, "permission denied"},
		{"new file in read-only directory", func(dir string) string {
			must(t, os.Chmod(dir, 0o555))
			return filepath.Join(dir, "state.db")
		}, "permission denied"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, string(rune('a'+i)))
			must(t, os.Mkdir(dir, 0o755))
			path := tt.setup(dir)
			defer os.Chmod(dir, 0o755)
			s, err := Open(Config{Path: path})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(strings.ReplaceAll(msg, path, ""), tt.want) {
				t.Errorf("Open error %q does not name the file and %q", err, tt.want)
			}
			t.Logf("Open: %v", err)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runAsNobody reruns test in a copy of the test binary as uid/gid 65534.
func runAsNobody(t *testing.T, test string) {
	if nobodyAttr() == nil {
		t.Skip("running as root and cannot drop privileges here: file modes would not apply")
	}
	dir, err := os.MkdirTemp("", "state-perm-")
	must(t, err)
	defer os.RemoveAll(dir)
	must(t, os.Chmod(dir, 0o777))
	exe, err := os.Executable()
	must(t, err)
	bin := filepath.Join(dir, "state.test")
	data, err := os.ReadFile(exe)
	must(t, err)
	must(t, os.WriteFile(bin, data, 0o755))
	work := filepath.Join(dir, "work")
	must(t, os.Mkdir(work, 0o777))
	must(t, os.Chmod(work, 0o777))
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), "STATE_PERM_HELPER="+work, "TMPDIR="+work, "HOME="+work)
	cmd.SysProcAttr = nobodyAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("helper did not pass:\n%s", out)
	}
	t.Logf("ran as nobody:\n%s", out)
}
