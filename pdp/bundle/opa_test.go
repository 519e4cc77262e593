package bundle

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/plugin/plugintest"
)

// A bundle made and signed by `opa build` (the go.mod tool) is accepted:
// the format is OPA's, not a look-alike.
func TestOPABuildBundle(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to run `go tool opa`")
	}
	good, _ := testKeys(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, good.priv, 0o600); err != nil {
		t.Fatal(err)
	}
	// The policy directory without tests, as `opa build` would bundle them.
	src := filepath.Join(dir, "src")
	pol := policyFS(t, withLarge(t, "706"))
	if err := fs.WalkDir(pol, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		b, _ := fs.ReadFile(pol, p)
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(src, p), b, 0o600)
	}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bundle.tar.gz")
	cmd := exec.Command("go", "tool", "opa", "build", "-b", src, "--signing-key", keyFile, "--revision", "opa-1", "-o", out)
	cmd.Dir = plugintest.Root(t) // the module whose go.mod names the tool
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("opa build: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t)
	srv := newServer(t, raw)
	l := newLoader(t, srv.url(), good.pubFile, "", e, nil)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, rev := large(t, e), decide(t, e); got != "706" || rev != "opa-1" {
		t.Fatalf("opa-built bundle: large = %s, revision %s", got, rev)
	}
}
