package charts

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// finalStage is what the Dockerfile's last stage says about the image.
type finalStage struct {
	base       string
	copySrc    string // COPY --from=build <src> <dst>
	copyDst    string
	user       string
	workdir    string
	entrypoint []string
	labels     map[string]string
	ldflags    string // from the build stage's go build
}

// parseDockerfile reads the instructions this test reproduces; anything
// else in the final stage is an error, so the Dockerfile cannot grow a step
// the offline build would silently skip.
func parseDockerfile(t *testing.T, path string) finalStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || (l == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		if s := strings.TrimSpace(cur.String()); s != "" {
			lines = append(lines, s)
		}
		cur.Reset()
	}
	var st finalStage
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			last = i
		}
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			if i := strings.Index(l, `-ldflags "`); i >= 0 {
				st.ldflags, _, _ = strings.Cut(l[i+len(`-ldflags "`):], `"`)
			}
		}
	}
	if last < 0 {
		t.Fatal("Dockerfile: no FROM")
	}
	st.labels = map[string]string{}
	for _, l := range lines[last:] {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch instr {
		case "FROM":
			st.base = rest
		case "COPY":
			f := strings.Fields(rest)
			if len(f) != 3 || f[0] != "--from=build" {
				t.Fatalf("Dockerfile: unexpected %q", l)
			}
			st.copySrc, st.copyDst = f[1], f[2]
		case "USER":
			st.user = rest
		case "WORKDIR":
			st.workdir = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &st.entrypoint); err != nil {
				t.Fatalf("Dockerfile: ENTRYPOINT must be exec form: %v", err)
			}
		case "LABEL":
			for rest != "" {
				k, after, ok := strings.Cut(rest, `="`)
				v, tail, ok2 := strings.Cut(after, `"`)
				if !ok || !ok2 {
					t.Fatalf("Dockerfile: LABEL must be key=\"value\" pairs: %q", l)
				}
				st.labels[strings.TrimSpace(k)] = v
				rest = strings.TrimSpace(tail)
			}
		default:
			t.Fatalf("Dockerfile: final stage instruction %s is not reproduced by the offline build", instr)
		}
	}
	return st
}

// TestImage builds the Dockerfile's final stage offline: the static binary
// (built as the Dockerfile's build stage does) as the only layer on an empty
// base, the Dockerfile's entrypoint, user, working directory and labels; it
// writes an OCI layout and a tarball, reads the layout back and checks it.
func TestImage(t *testing.T) {
	st := parseDockerfile(t, filepath.Join("..", "Dockerfile"))
	if st.base != "scratch" {
		t.Fatalf("final stage FROM %s: the offline build only reproduces scratch", st.base)
	}
	if !slices.Equal(st.entrypoint, []string{"/pdp", "serve"}) || st.user != "65532:65532" || st.workdir != "/" ||
		st.copyDst != "/pdp" {
		t.Fatalf("Dockerfile final stage: %+v", st)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary")
	}

	// The build stage's command, for this machine's platform.
	dir := t.TempDir()
	bin := filepath.Join(dir, "pdp")
	ldflags := strings.ReplaceAll(st.ldflags, "${VERSION}", "v0.0.0-imagetest")
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "./pdp/cmd/pdp")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	checkStatic(t, bin)

	img := buildImage(t, bin, st)
	ref, err := name.ParseReference("ghcr.io/riskpdp/pdp:imagetest")
	if err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(dir, "oci")
	lp, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.String()})); err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "pdp.tar"), ref, img); err != nil {
		t.Fatal(err)
	}

	// Read the layout back, as a registry push or `crane push` would.
	idx, err := layout.ImageIndexFromPath(ociDir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %v, %d manifests", err, len(im.Manifests))
	}
	if im.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", im.Manifests[0].MediaType)
	}
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/pdp", "serve"}) || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" || c.WorkingDir != "/" {
		t.Errorf("user %q workdir %q", c.User, c.WorkingDir)
	}
	for k, v := range st.labels {
		if c.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, c.Labels[k], v)
		}
	}
	if c.Labels["org.opencontainers.image.source"] == "" {
		t.Error("no org.opencontainers.image.source label")
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}

	// The file system: the binary and nothing else.
	rc := mutate.Extract(got)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var entries []string
	extracted := filepath.Join(dir, "extracted-pdp")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, h.Name)
		if h.Name != "pdp" {
			continue
		}
		if h.Typeflag != tar.TypeReg || h.Mode&0o777 != 0o755 || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("pdp: type %c mode %o owner %d:%d", h.Typeflag, h.Mode, h.Uid, h.Gid)
		}
		f, err := os.OpenFile(extracted, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if !slices.Equal(entries, []string{"pdp"}) {
		t.Errorf("image file system %v, want only pdp", entries)
	}

	// The extracted binary runs on its own: no shell, no loader, no libc.
	out, err := exec.Command(extracted, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "pdp v0.0.0-imagetest\n") {
		t.Errorf("pdp version: %v\n%s", err, out)
	}
}

// buildImage is the final stage: scratch, the binary at /pdp, the config.
func buildImage(t *testing.T, bin string, st finalStage) v1.Image {
	t.Helper()
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// A fixed time keeps the layer reproducible (SOURCE_DATE_EPOCH style).
	epoch := time.Unix(0, 0).UTC()
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(st.copyDst, "/"), Typeflag: tar.TypeReg,
		Mode: 0o755, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		CreatedBy: "COPY --from=build " + st.copySrc + " " + st.copyDst, Created: v1.Time{Time: epoch}}})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = st.entrypoint
	cf.Config.User = st.user
	cf.Config.WorkingDir = st.workdir
	cf.Config.Labels = st.labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// checkStatic fails when the binary needs a dynamic loader or libraries.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a dynamic loader (PT_INTERP): not built with CGO_ENABLED=0")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary links %v", libs)
	}
}
