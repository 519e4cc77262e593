// Package plugintest builds guest modules for tests: Go plugins with
// GOOS=wasip1 and C plugins with clang. Built modules are cached under
// os.UserCacheDir()/riskpdp-test/wasm, keyed by a hash of the sources and
// the toolchain, so repeated test runs do not rebuild.
package plugintest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// Root returns the module root (the directory holding go.mod), found by
// walking up from the working directory.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("plugintest: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// goSources are the directories (relative to the root) whose Go files
// every Go guest may compile in besides its own.
var goSources = []string{"plugins/sdk", "pdp/plugin/abi"}

// BuildGo builds the Go plugin in pkgDir (relative to the module root) and
// returns the path of the cached module.
func BuildGo(tb testing.TB, pkgDir string) string {
	tb.Helper()
	root := Root(tb)
	key := hashSources(tb, root, append([]string{pkgDir}, goSources...), ".go", runtime.Version())
	out := cachePath(tb, key)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := out + fmt.Sprintf(".tmp%d", os.Getpid())
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", tmp, "./"+filepath.ToSlash(pkgDir))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("plugintest: build %s: %v\n%s", pkgDir, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// ErrNoClang is the reason BuildC gives when clang or wasm-ld is missing.
var ErrNoClang = errors.New("clang with the wasm32 target and wasm-ld (lld) are needed: apt-get install -y clang lld")

// HaveClang reports whether C plugins can be built.
func HaveClang() error {
	for _, tool := range []string{"clang", "wasm-ld"} {
		if _, err := exec.LookPath(tool); err != nil {
			return ErrNoClang
		}
	}
	return nil
}

// RequireClang skips the test when clang is missing, or fails it when the
// environment variable CI is "true": CI must run the C tests.
func RequireClang(tb testing.TB) {
	tb.Helper()
	if err := HaveClang(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("plugintest: %v (CI=true, so this is a failure, not a skip)", err)
		}
		tb.Skipf("plugintest: %v", err)
	}
}

// BuildC compiles the C plugin source src (relative to the module root)
// against plugins/sdk/c with clang --target=wasm32 -nostdlib and wasm-ld,
// and returns the path of the cached module.
func BuildC(tb testing.TB, src string) string {
	tb.Helper()
	RequireClang(tb)
	root := Root(tb)
	ver, _ := exec.Command("clang", "--version").Output()
	key := hashSources(tb, root, []string{filepath.Dir(src), "plugins/sdk/c"}, ".c.h", string(ver))
	out := cachePath(tb, key)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	tmp := out + fmt.Sprintf(".tmp%d", os.Getpid())
	cmd := exec.Command("clang", "--target=wasm32", "-O2", "-nostdlib", "-ffreestanding",
		"-I", filepath.Join(root, "plugins/sdk/c"),
		"-Wl,--no-entry", "-Wl,--stack-first", "-Wl,-z,stack-size=65536",
		"-o", tmp, filepath.Join(root, src))
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("plugintest: clang %s: %v\n%s", src, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Install copies module and manifest into dir as NAME.wasm and NAME.yaml
// and returns the manifest path.
func Install(tb testing.TB, dir, name, module, manifest string) string {
	tb.Helper()
	copyFile(tb, module, filepath.Join(dir, name+".wasm"))
	dst := filepath.Join(dir, name+".yaml")
	copyFile(tb, manifest, dst)
	return dst
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

func cachePath(tb testing.TB, key string) string {
	tb.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "riskpdp-test", "wasm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, key+".wasm")
}

// hashSources hashes the files under dirs (relative to root) whose
// extension is in exts (a string such as ".go" or ".c.h"), plus extra.
func hashSources(tb testing.TB, root string, dirs []string, exts, extra string) string {
	tb.Helper()
	h := sha256.New()
	io.WriteString(h, extra)
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ext := filepath.Ext(path); !e.IsDir() && ext != "" && strings.Contains(exts, ext) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// Example is one example plugin under plugins/examples.
type Example struct {
	Name string // manifest name
	Dir  string // source directory, relative to the module root
	C    string // C source file in Dir; empty for Go plugins
}

// Examples are the example plugins.
var Examples = []Example{
	{Name: "habit_deviation", Dir: "plugins/examples/habit"},
	{Name: "device_risk", Dir: "plugins/examples/device"},
	{Name: "fraud_model", Dir: "plugins/examples/model"},
	{Name: "velocity_burst", Dir: "plugins/examples/burst_c", C: "burst.c"},
}

// InstallExamples builds the given examples (all when none are named) and
// installs them into a new temporary plugin directory, which it returns.
// C examples need clang (see RequireClang).
func InstallExamples(tb testing.TB, names ...string) string {
	tb.Helper()
	root := Root(tb)
	dir := tb.TempDir()
	for _, ex := range Examples {
		if len(names) > 0 && !contains(names, ex.Name) {
			continue
		}
		var module string
		if ex.C != "" {
			module = BuildC(tb, filepath.Join(ex.Dir, ex.C))
		} else {
			module = BuildGo(tb, ex.Dir)
		}
		Install(tb, dir, ex.Name, module, filepath.Join(root, ex.Dir, "manifest.yaml"))
	}
	return dir
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
