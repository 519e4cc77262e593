package bundle

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
)

// A bundle made and signed by `opa build` (the go.mod tool) is accepted:
// the format is OPA's, not a look-alike. One whose data its schema refuses
// is not.
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
	// opaBuild bundles a policy directory (without tests, as `opa build`
	// would) with the OPA CLI.
	opaBuild := func(pol fs.FS, rev string) []byte {
		src := filepath.Join(t.TempDir(), "src")
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
		out := filepath.Join(dir, rev+".tar.gz")
		cmd := exec.Command("go", "tool", "opa", "build", "-b", src, "--signing-key", keyFile, "--revision", rev, "-o", out)
		cmd.Dir = plugintest.Root(t) // the module whose go.mod names the tool
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("opa build: %v\n%s", err, b)
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	raw := opaBuild(policyFS(t, withLarge(t, "706")), "opa-1")
	e := newEngine(t)
	srv := newServer(t, raw)
	l := newLoader(t, srv.url(), good.pubFile, "", e, nil)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, rev := large(t, e), decide(t, e); got != "706" || rev != "opa-1" {
		t.Fatalf("opa-built bundle: large = %s, revision %s", got, rev)
	}
	// The data's schema travels in the bundle: data of the wrong type is
	// refused, the old revision keeps deciding.
	srv.set(opaBuild(policyFS(t, withLarge(t, `"999"`)), "opa-2"), 0)
	if err := l.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "data.riskpdp.config.thresholds.large: Invalid type") {
		t.Fatalf("opa-built bundle with a string threshold: %v", err)
	}
	if got, rev := large(t, e), decide(t, e); got != "706" || rev != "opa-1" {
		t.Fatalf("after the refused bundle: large = %s, revision %s", got, rev)
	}
}
