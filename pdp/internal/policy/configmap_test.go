package policy

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/policies"
)

// writeConfigMapVolume lays files out the way the kubelet writes a
// ConfigMap volume whose items carry paths: the files under a timestamped
// directory, ..data a link to it, and one link per top-level name into
// ..data. A later call swaps ..data atomically, as an update does.
func writeConfigMapVolume(t *testing.T, dir, version string, files map[string][]byte) {
	t.Helper()
	ts := filepath.Join(dir, "..2025_01_01_00_00_0"+version)
	for name, b := range files {
		p := filepath.Join(ts, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Skipf("symbolic links unavailable: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		top, _, _ := strings.Cut(name, "/")
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			t.Fatal(err)
		}
	}
}

// referenceFiles is the embedded reference set without its tests.
func referenceFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		files[p], err = fs.ReadFile(policies.FS, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestConfigMapVolumeLayout checks that a policy set mounted from a
// ConfigMap (data.json at riskpdp/config/data.json behind a directory link)
// has the same revision as the embedded set, and that a data-only update
// swapped in through ..data changes the revision on reload.
func TestConfigMapVolumeLayout(t *testing.T) {
	dir := t.TempDir()
	files := referenceFiles(t)
	writeConfigMapVolume(t, dir, "1", files)

	embedded, _ := newEngine(t, Source{FS: policies.FS, Label: "embedded"}, time.Second)
	e, _ := newEngine(t, Source{FS: os.DirFS(dir), Label: dir}, time.Second)
	if e.Revision() != embedded.Revision() {
		t.Fatalf("ConfigMap layout revision %s, embedded %s: a file behind a directory link was skipped",
			e.Revision(), embedded.Revision())
	}
	rev1 := e.Revision()

	data := string(files["riskpdp/config/data.json"])
	changed := strings.Replace(data, `"large": 5000`, `"large": 50`, 1)
	if changed == data {
		t.Fatal("data.json has no CNY large threshold to change")
	}
	files["riskpdp/config/data.json"] = []byte(changed)
	writeConfigMapVolume(t, dir, "2", files)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if e.Revision() == rev1 {
		t.Fatalf("revision %s unchanged after a data-only update", rev1)
	}
	r, _, err := decide(t, e, payment)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome == pdp.Allow {
		t.Fatalf("the new threshold is not in effect: %+v", r)
	}
}
