package doccheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the directory of the sidecar's go.mod (the repository root).
func repoRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

type pkg struct{ module, path, name, dir string }

// packages lists every package of the module in dir (`go list ./...`).
func packages(t *testing.T, dir string) []pkg {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Name}} {{.Dir}}", "./...")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./... in %s: %v", dir, err)
	}
	var ps []pkg
	for line := range strings.Lines(string(out)) {
		f := strings.SplitN(strings.TrimSpace(line), " ", 3)
		if len(f) == 3 {
			ps = append(ps, pkg{module: dir, path: f[0], name: f[1], dir: f[2]})
		}
	}
	return ps
}

// overview is the first paragraph of what `go doc` prints for the package:
// its doc comment's, after the "package x // import" header of a library.
func overview(doc string) string {
	lines := strings.Split(doc, "\n")
	if len(lines) > 0 && strings.HasPrefix(lines[0], "package ") {
		lines = lines[1:]
	}
	var para []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			if len(para) > 0 {
				break
			}
			continue
		}
		para = append(para, l)
	}
	return strings.Join(para, " ")
}

// firstSentence is s up to its first period followed by a space (or the end).
func firstSentence(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && (i+1 == len(s) || s[i+1] == ' ') {
			return s[:i+1]
		}
	}
	return s
}

// wantPrefixes are the starts a package's first sentence may have: "Package
// name " for a library; "Command name " or the capitalized name for a main
// package (its directory's name is the command's).
func wantPrefixes(p pkg) []string {
	if p.name != "main" {
		return []string{"Package " + p.name + " "}
	}
	cmd := filepath.Base(p.dir)
	r := []rune(cmd)
	r[0] = unicode.ToUpper(r[0])
	return []string{"Command " + cmd + " ", string(r) + " "}
}

// TestEveryPackageDocShowsItsOverview is issue 17's check of `go doc`: every
// package has a doc comment, and the first sentence go doc shows names the
// package (a blank line between two comment blocks above `package` hides
// the first block from go doc; a doc comment in the wrong file, or one
// beginning elsewhere, shows here).
func TestEveryPackageDocShowsItsOverview(t *testing.T) {
	root := repoRoot(t)
	var all []pkg
	for _, m := range []string{".", "bench", "charts"} {
		dir := filepath.Join(root, m)
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
			t.Fatalf("module %s: %v", m, err)
		}
		all = append(all, packages(t, dir)...)
	}
	if len(all) < 10 {
		t.Fatalf("go list found %d packages", len(all))
	}
	for _, p := range all {
		t.Run(strings.TrimPrefix(p.path, "github.com/riskpdp/riskpdp/"), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "doc", p.dir)
			cmd.Dir = p.module
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go doc %s: %v\n%s", p.dir, err, stderr.String())
			}
			ov := overview(string(out))
			if ov == "" {
				t.Fatalf("go doc %s shows no doc comment", p.path)
			}
			first := firstSentence(ov)
			for _, want := range wantPrefixes(p) {
				if strings.HasPrefix(first, want) {
					return
				}
			}
			t.Errorf("go doc %s: first sentence %q does not start with %q", p.path, first, wantPrefixes(p))
		})
	}
}

func TestOverviewAndFirstSentence(t *testing.T) {
	lib := "package state // import \"x/state\"\n\nPackage state keeps the\nrisk state. More.\n\nSecond paragraph.\n\nfunc F()\n"
	if got := firstSentence(overview(lib)); got != "Package state keeps the risk state." {
		t.Errorf("library: %q", got)
	}
	cmd := "Command pdp is the decision point. See pdp/internal/cli.\n"
	if got := firstSentence(overview(cmd)); got != "Command pdp is the decision point." {
		t.Errorf("command: %q", got)
	}
	if got := overview("package x // import \"x\"\n\nfunc F()\n"); got != "func F()" {
		// No doc comment: the first paragraph is a declaration, which
		// fails the prefix check.
		t.Errorf("no doc: %q", got)
	}
}
