package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Binaries are the programs a run starts.
type Binaries struct {
	PDP, Floor, OPA string
	// Plugins are the built example plugins in load order; each Dir holds
	// NAME.wasm and NAME.yaml.
	Plugins []Plugin
}

// Plugin is one built example plugin.
type Plugin struct {
	Name, Wasm, Manifest string
}

// examplePlugins are the Go examples (name, source directory); the C
// example (velocity_burst) follows when clang and wasm-ld are installed.
var examplePlugins = [][2]string{
	{"fraud_model", "plugins/examples/model"},
	{"habit_deviation", "plugins/examples/habit"},
	{"device_risk", "plugins/examples/device"},
}

func run(ctx context.Context, dir string, env []string, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	if log != nil && out.Len() > 0 {
		log.Write(out.Bytes())
	}
	return nil
}

func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Build compiles the sidecar (as `make build` does: it also writes the
// state files, `pdp simulate prime-state`, and profiles itself, `pdp serve
// --cpu-profile`), the floor, the example plugins, and finds the OPA CLI
// pinned in the root go.mod (`go tool -n opa` builds it into Go's cache on
// first use). Repeated runs hit Go's build cache.
func Build(ctx context.Context, root, dir string, log io.Writer) (*Binaries, error) {
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
		return nil, err
	}
	b := &Binaries{
		PDP:   filepath.Join(dir, "pdp"),
		Floor: filepath.Join(dir, "floor"),
	}
	noCgo := []string{"CGO_ENABLED=0"}
	// The sidecar builds in its own module (root), the floor in the
	// harness's (root/bench: its own go.mod).
	harness := filepath.Join(root, "bench")
	targets := [][3]string{{b.PDP, root, "./pdp/cmd/pdp"}, {b.Floor, harness, "./cmd/floor"}}
	for _, t := range targets {
		if err := run(ctx, t[1], noCgo, log, "go", "build", "-trimpath", "-o", t[0], t[2]); err != nil {
			return nil, err
		}
	}
	opa, err := output(ctx, root, "go", "tool", "-n", "opa")
	if err != nil {
		return nil, err
	}
	b.OPA = opa
	wasm := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}
	for _, p := range examplePlugins {
		pl := Plugin{Name: p[0], Wasm: filepath.Join(dir, "plugins", p[0]+".wasm"), Manifest: filepath.Join(root, p[1], "manifest.yaml")}
		if err := run(ctx, root, wasm, log, "go", "build", "-buildmode=c-shared", "-trimpath", "-o", pl.Wasm, "./"+p[1]); err != nil {
			return nil, err
		}
		b.Plugins = append(b.Plugins, pl)
	}
	if haveTools("clang", "wasm-ld") {
		pl := Plugin{Name: "velocity_burst", Wasm: filepath.Join(dir, "plugins", "velocity_burst.wasm"),
			Manifest: filepath.Join(root, "plugins/examples/burst_c/manifest.yaml")}
		// The flags of plugins/build.sh.
		if err := run(ctx, root, nil, log, "clang", "--target=wasm32", "-O2", "-nostdlib", "-ffreestanding", "-I", "plugins/sdk/c",
			"-Wl,--no-entry", "-Wl,--stack-first", "-Wl,-z,stack-size=65536", "-o", pl.Wasm, "plugins/examples/burst_c/burst.c"); err != nil {
			return nil, err
		}
		b.Plugins = append(b.Plugins, pl)
	}
	return b, nil
}

func haveTools(names ...string) bool {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return false
		}
	}
	return true
}

// pluginDir makes dir hold the first n plugins (NAME.wasm and NAME.yaml).
func pluginDir(dir string, plugins []Plugin, n int) ([]string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for _, p := range plugins[:min(n, len(plugins))] {
		if err := copyFile(p.Wasm, filepath.Join(dir, p.Name+".wasm")); err != nil {
			return nil, err
		}
		if err := copyFile(p.Manifest, filepath.Join(dir, p.Name+".yaml")); err != nil {
			return nil, err
		}
		names = append(names, p.Name)
	}
	return names, nil
}

// Machine describes where a run happened.
type Machine struct {
	CPU        string  `json:"cpu"`
	Cores      int     `json:"cores"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	MemBytes   int64   `json:"mem_bytes"`
	Kernel     string  `json:"kernel"`
	OS         string  `json:"os"`
	LoadAvg    string  `json:"loadavg_at_start"`
	LoadAvgEnd string  `json:"loadavg_at_end,omitempty"`
	Go         string  `json:"go"`
	Hostname   string  `json:"-"`
	Note       string  `json:"note,omitempty"`
	Steal      float64 `json:"-"`
}

func readMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemBytes = kb << 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg = loadAvg()
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// versions reports what ran: the sidecar's `pdp version`, the OPA CLI's,
// the git commit of the tree, the load generator's modules (as the
// harness's module, root/bench, resolves them).
func versions(ctx context.Context, root string, b *Binaries) map[string]string {
	v := map[string]string{"go": runtime.Version()}
	if s, err := output(ctx, root, b.PDP, "version"); err == nil {
		v["pdp"] = strings.TrimPrefix(firstLine(s), "pdp ") // "pdp dev" → "dev", as "Version: " for OPA
	}
	if s, err := output(ctx, root, b.OPA, "version"); err == nil {
		v["opa"] = strings.TrimPrefix(firstLine(s), "Version: ")
	}
	if s, err := output(ctx, root, "git", "rev-parse", "--short", "HEAD"); err == nil {
		if d, _ := output(ctx, root, "git", "status", "--porcelain"); d != "" {
			s += "-dirty"
		}
		v["commit"] = s
	}
	for _, m := range []string{"github.com/valyala/fasthttp", "github.com/HdrHistogram/hdrhistogram-go"} {
		if s, err := output(ctx, filepath.Join(root, "bench"), "go", "list", "-m", "-f", "{{.Version}}", m); err == nil {
			v[m[strings.LastIndexByte(m, '/')+1:]] = s
		}
	}
	return v
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// supportsFlag reports whether `bin args… --help` lists flag.
func supportsFlag(ctx context.Context, bin, flag string, args ...string) bool {
	s, err := output(ctx, "", bin, append(args, "--help")...)
	return err == nil && strings.Contains(s, flag)
}
