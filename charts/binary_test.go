package charts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The tests in this file tie the chart to the binary it deploys, so that
// neither can change without the other.

// pdpDir holds the pdp binary the tests build; TestMain removes it.
var pdpDir string

// pdpBinary builds the pdp command of this tree (as `make build` does),
// once: the chart's tests run the binary, as the pod does (the sidecar's
// packages are internal to the root module).
var pdpBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pdp-charts-bin-")
	if err != nil {
		return "", err
	}
	pdpDir = dir
	bin := filepath.Join(dir, "pdp")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./pdp/cmd/pdp")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./pdp/cmd/pdp: %v\n%s", err, out)
	}
	return bin, nil
})

func pdpCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := pdpBinary()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(bin, args...)
}

// serveFlags are the flags `pdp serve --help` lists.
var serveFlags = sync.OnceValues(func() (map[string]bool, error) {
	bin, err := pdpBinary()
	if err != nil {
		return nil, err
	}
	var out, errb bytes.Buffer
	help := exec.Command(bin, "serve", "--help")
	help.Stdout, help.Stderr = &out, &errb
	if err := help.Run(); err != nil {
		return nil, &runError{help.ProcessState.ExitCode(), err.Error() + ": " + errb.String()}
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z][a-z-]*)`).FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	return flags, nil
})

type runError struct {
	code   int
	stderr string
}

func (e *runError) Error() string { return e.stderr }

// TestRenderedFlagsExist: every flag the chart renders is one `pdp serve
// --help` lists, and no PDP_* variable sneaks a setting past that check.
func TestRenderedFlagsExist(t *testing.T) {
	help, err := serveFlags()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"config", "addr", "policies", "state", "plugins", "admin-addr", "admin-token-file"} {
		if !help[want] {
			t.Fatalf("pdp serve --help does not list --%s (parsed %v)", want, help)
		}
	}
	for _, v := range variants {
		pod, _ := render(t, v).pod(t)
		pdp, _ := sidecar(t, pod)
		for name := range pdp.flags(t) {
			if !help[name] {
				t.Errorf("%s: the chart renders --%s, which pdp serve does not have", v.name, name)
			}
		}
		for _, e := range pdp.Env {
			if strings.HasPrefix(e.Name, "PDP_") {
				t.Errorf("%s: pdp container has %s", v.name, e.Name)
			}
		}
	}
}

// renderedConfig returns the config file the rendering mounts for --config.
func renderedConfig(t *testing.T, m manifests) string {
	t.Helper()
	pod, _ := m.pod(t)
	pdp, _ := sidecar(t, pod)
	path := pdp.flags(t)["config"]
	mount, ok := pdp.mount("pdp-config")
	if !ok || filepath.Dir(path) != mount.MountPath {
		t.Fatalf("--config=%s is not in the pdp-config mount %+v", path, mount)
	}
	vol, _ := pod.volume("pdp-config")
	_, src := vol.source()
	cm := m.one(t, "ConfigMap", "-pdp-config")
	if src["name"] != cm.name() {
		t.Fatalf("pdp-config volume uses %v, chart renders %s", src["name"], cm.name())
	}
	body, ok := get(cm, "data", filepath.Base(path)).(string)
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cm.name(), filepath.Base(path))
	}
	return body
}

// TestRenderedConfigDecodes: every config file the chart renders passes the
// sidecar's own strict decoder (unknown keys are errors) and validation:
// `pdp serve --config FILE --check-config`, with no PDP_* variable set.
func TestRenderedConfigDecodes(t *testing.T) {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PDP_") })
	for _, v := range variants {
		m := render(t, v)
		body := renderedConfig(t, m)
		path := filepath.Join(t.TempDir(), "pdp.yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		check := pdpCommand(t, "serve", "--config", path, "--check-config")
		check.Env = env
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("%s: pdp serve --check-config: %v: %s\n%s", v.name, err, out, body)
			continue
		}
		// The keys naming the mounted files (no default: what the file says).
		var cfg struct {
			Redis struct {
				PasswordFile string `yaml:"password_file"`
			} `yaml:"redis"`
			Bundle struct {
				KeyFile string `yaml:"key_file"`
			} `yaml:"bundle"`
		}
		if err := yaml.Unmarshal([]byte(body), &cfg); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		pod, _ := m.pod(t)
		pdp, _ := sidecar(t, pod)
		for mount, file := range map[string]string{"pdp-redis": cfg.Redis.PasswordFile, "pdp-bundle": cfg.Bundle.KeyFile} {
			if mnt, ok := pdp.mount(mount); ok != (file != "") || ok && !strings.HasPrefix(file, mnt.MountPath+"/") {
				t.Errorf("%s: %s mounted %v, its file in the config %q", v.name, mount, ok, file)
			}
		}
	}
}

// chartOwned are the config keys the chart sets itself (flags or computed);
// the values schema must not offer them under pdp.config.
var chartOwned = []string{"addr", "health_addr", "policies.dir", "state.path", "admin.addr", "admin.token_file",
	"plugins.dir", "plugins.cache_dir", "log.level", "log.format", "server.shutdown_timeout",
	"decision_log.path", "shadow.policies", "redis.addrs", "redis.password_file",
	"bundle.key_file", "bundle.token_file", "bundle.ca_cert_file"}

// configPackage is the sidecar's configuration package, whose Config the
// values schema mirrors.
const configPackage = "github.com/riskpdp/riskpdp/pdp/internal/config"

// configKeys are the keys of configPackage's Config, read from its source
// (the package is internal to the root module): a field with a yaml tag is
// a key, a field whose type is a struct of the package a section of keys.
func configKeys(t *testing.T) []string {
	t.Helper()
	// The package's directory, then the files of its build.
	list := exec.Command("go", "list", "-f", "{{.Dir}}{{range .GoFiles}}\n{{.}}{{end}}", configPackage)
	list.Dir = ".."
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", configPackage, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	structs := map[string]*ast.StructType{}
	fset := token.NewFileSet()
	for _, name := range lines[1:] {
		f, err := parser.ParseFile(fset, filepath.Join(lines[0], name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	var keys []string
	var walk func(prefix string, st *ast.StructType)
	walk = func(prefix string, st *ast.StructType) {
		for _, f := range st.Fields.List {
			if f.Tag == nil {
				continue
			}
			tag, err := strconv.Unquote(f.Tag.Value)
			if err != nil {
				t.Fatal(err)
			}
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			key := prefix + name
			if id, ok := f.Type.(*ast.Ident); ok && structs[id.Name] != nil {
				walk(key+".", structs[id.Name])
				continue
			}
			keys = append(keys, key)
		}
	}
	if structs["Config"] == nil {
		t.Fatalf("%s has no Config struct", configPackage)
	}
	walk("", structs["Config"])
	return keys
}

// TestValuesSchemaMirrorsConfig: pdp.config in the library's values schema
// offers exactly the keys of the sidecar's Config (configPackage) the
// chart does not own.
func TestValuesSchemaMirrorsConfig(t *testing.T) {
	structKeys := configKeys(t)

	b, err := os.ReadFile(filepath.Join(libraryChart, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Config json.RawMessage `json:"config"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	var schemaKeys []string
	var walkSchema func(prefix string, raw json.RawMessage)
	walkSchema = func(prefix string, raw json.RawMessage) {
		var node struct {
			Type                 any                        `json:"type"`
			Properties           map[string]json.RawMessage `json:"properties"`
			AdditionalProperties any                        `json:"additionalProperties"`
		}
		if err := json.Unmarshal(raw, &node); err != nil {
			t.Fatal(err)
		}
		if node.Type == "object" && node.Properties != nil {
			if node.AdditionalProperties != false {
				t.Errorf("schema pdp.config.%s: additionalProperties must be false", prefix)
			}
			for k, v := range node.Properties {
				walkSchema(prefix+k+".", v)
			}
			return
		}
		schemaKeys = append(schemaKeys, strings.TrimSuffix(prefix, "."))
	}
	walkSchema("", schema.Properties.Config)

	sort.Strings(structKeys)
	sort.Strings(schemaKeys)
	want := slices.DeleteFunc(slices.Clone(structKeys), func(k string) bool { return slices.Contains(chartOwned, k) })
	if !slices.Equal(schemaKeys, want) {
		t.Errorf("values schema pdp.config keys differ from pdp/internal/config:\n schema %v\n config %v", schemaKeys, want)
	}
	for _, k := range chartOwned {
		if !slices.Contains(structKeys, k) {
			t.Errorf("chart-owned key %s is no longer a pdp/internal/config key", k)
		}
	}
}

// TestSidecarStartsFromRendering runs the rendered pdp container's command
// line with the binary of this tree, its volumes laid out as the kubelet lays them out
// (ConfigMaps and Secrets with ..data links and items), and asks it for a
// decision whose thresholds come from the ConfigMap's data.json.
func TestSidecarStartsFromRendering(t *testing.T) {
	for _, name := range []string{"defaults", "all-on"} {
		t.Run(name, func(t *testing.T) {
			m := render(t, variantNamed(t, name))
			pod, _ := m.pod(t)
			pdp, _ := sidecar(t, pod)
			root := t.TempDir()
			// Each mount path becomes a directory under root.
			rewrite := map[string]string{}
			for _, mnt := range pdp.VolumeMounts {
				dir := filepath.Join(root, filepath.FromSlash(mnt.MountPath))
				rewrite[mnt.MountPath] = dir
				vol, _ := pod.volume(mnt.Name)
				populate(t, m, vol, dir, rewrite)
			}
			addr, health := freeAddr(t), freeAddr(t)
			var args []string
			for flag, value := range pdp.flags(t) {
				switch flag {
				case "addr":
					value = addr
				case "health-addr":
					value = health
				case "admin-addr":
					value = freeAddr(t)
				default:
					value = rewritePaths(value, rewrite)
				}
				args = append(args, "--"+flag+"="+value)
			}
			sort.Strings(args)
			// Config files name mount paths too (plugins.cache_dir).
			cfgPath := rewritePaths(pdp.flags(t)["config"], rewrite)
			b, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			writeFileOver(t, cfgPath, []byte(rewritePaths(string(b), rewrite)))

			var logs syncBuffer
			serve := pdpCommand(t, append([]string{"serve"}, args...)...)
			serve.Stdout, serve.Stderr = io.Discard, &logs
			if err := serve.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan int, 1)
			go func() { serve.Wait(); done <- serve.ProcessState.ExitCode() }()
			defer func() {
				serve.Process.Signal(syscall.SIGTERM)
				select {
				case code := <-done:
					if code != 0 {
						t.Errorf("pdp serve exited %d after SIGTERM:\n%s", code, logs.String())
					}
				case <-time.After(20 * time.Second):
					serve.Process.Kill()
					t.Error("pdp serve did not stop")
				}
			}()
			waitReady(t, "http://"+health, done, &logs)
			// The kubelet probes the pod IP: the health listener answers
			// whatever the Host; the decision listener answers only to
			// loopback names.
			for _, c := range []struct {
				addr, path string
				want       int
			}{{health, "/health/ready", 200}, {health, "/health/live", 200}, {health, "/metrics", 200},
				{health, "/v1/data/riskpdp/decision", 404}, {addr, "/health/ready", 421}} {
				req, _ := http.NewRequest("GET", "http://"+c.addr+c.path, nil)
				req.Host = "10.244.1.7:9193"
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("GET %s%s as the pod IP: %d, want %d", c.addr, c.path, resp.StatusCode, c.want)
				}
			}

			body := `{"stage":"payment","uid":"u-1001","device":{"id":"d-77","ip":"203.0.113.7","ip_country":"SG","new":true},` +
				`"txn":{"id":"t-9","amount":6800.00,"currency":"CNY","category":"digital"},` +
				`"account":{"home_country":"CN","created_at":"2021-03-01T00:00:00Z"}}`
			resp, err := http.Post("http://"+addr+"/v1/decide", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var d struct {
				Outcome string   `json:"outcome"`
				Reasons []string `json:"reasons"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
				t.Fatalf("decide: %d %v", resp.StatusCode, err)
			}
			// large_amount needs data.riskpdp.config.thresholds.CNY: data.json
			// was loaded at riskpdp/config/data.json.
			if d.Outcome != "step_up" || !slices.Contains(d.Reasons, "large_amount") {
				t.Errorf("decision %+v, want step_up with large_amount", d)
			}
			if !strings.Contains(logs.String(), rewrite["/etc/pdp/policies"]) {
				t.Errorf("the policies were not loaded from the ConfigMap mount:\n%s", logs.String())
			}
		})
	}
}

// populate fills dir with what a volume holds at start.
func populate(t *testing.T, m manifests, vol volume, dir string, rewrite map[string]string) {
	t.Helper()
	typ, src := vol.source()
	files := map[string][]byte{}
	switch typ {
	case "configMap":
		cm := m.one(t, "ConfigMap", src["name"].(string))
		data, _ := cm["data"].(map[string]any)
		items := itemsOf(t, src)
		if len(items) == 0 {
			for k := range data {
				items = append(items, keyPath{k, k})
			}
		}
		for _, it := range items {
			files[it.Path] = []byte(data[it.Key].(string))
		}
	case "secret":
		s := m.one(t, "Secret", src["secretName"].(string))
		for k, v := range decodeSecret(t, s) {
			files[k] = []byte(v)
		}
	case "emptyDir", "persistentVolumeClaim":
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return
	default:
		t.Fatalf("volume %s: cannot lay out a %s volume", vol.name(), typ)
	}
	writeAtomic(t, dir, files)
}

// writeAtomic lays files out as the kubelet's atomic writer does: under a
// timestamped directory, ..data linking to it, and one link per top-level
// name into ..data.
func writeAtomic(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	ts := filepath.Join(dir, "..2025_01_01_00_00_00.000000001")
	for name, b := range files {
		writeFileOver(t, filepath.Join(ts, filepath.FromSlash(name)), b)
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Skipf("symbolic links unavailable: %v", err)
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

// writeFileOver writes a file, replacing a link of the same name (a config
// file rewritten in a ConfigMap layout) and creating its directory.
func writeFileOver(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rewritePaths replaces mount paths by their test directories, longest first.
func rewritePaths(s string, rewrite map[string]string) string {
	var from []string
	for k := range rewrite {
		from = append(from, k)
	}
	sort.Slice(from, func(i, j int) bool { return len(from[i]) > len(from[j]) })
	for _, k := range from {
		s = strings.ReplaceAll(s, k, rewrite[k])
	}
	return s
}

func decodeSecret(t *testing.T, s object) map[string]string {
	t.Helper()
	out := map[string]string{}
	data, _ := s["data"].(map[string]any)
	for k, v := range data {
		b, err := base64.StdEncoding.DecodeString(v.(string))
		if err != nil {
			t.Fatalf("secret %s key %s: %v", s.name(), k, err)
		}
		out[k] = string(b)
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, url string, done chan int, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("pdp serve exited with %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pdp serve not ready after 60s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
