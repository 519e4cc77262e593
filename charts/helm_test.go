package charts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Where the charts are, relative to this package, and the release the
// tests render.
const (
	demoChart    = "pdp-demo"
	libraryChart = "pdp-sidecar"
	release      = "demo"
	namespace    = "payments"
	// kubeVersion is the newest version kubectl-validate v0.0.4 has schemas
	// for; helm renders for the same one.
	kubeVersion = "1.30"
)

// tool returns the path of a test tool: $HELM / $KUBECTL_VALIDATE, else
// ../.bin/<name> (make charts-tools). Missing, the test is skipped, or
// fails when CI=true.
func tool(t *testing.T, name string) string {
	t.Helper()
	env := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, err := filepath.Abs(filepath.Join("..", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found at %s (CI=true): run `make charts-tools`", name, p)
		}
		t.Skipf("%s not installed: run `make charts-tools` to install it into .bin/ (with CI=true this fails)", name)
	}
	return p
}

// helmHome holds helm's cache, config and data, away from the user's home;
// TestMain removes it.
var helmHome string

// helmEnv is the environment helm runs in.
var helmEnv = sync.OnceValue(func() []string {
	dir, err := os.MkdirTemp("", "pdp-charts-helm-")
	if err != nil {
		panic(err)
	}
	helmHome = dir
	return append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"),
	)
})

func TestMain(m *testing.M) {
	code := m.Run()
	if helmHome != "" {
		os.RemoveAll(helmHome)
	}
	if pdpDir != "" {
		os.RemoveAll(pdpDir)
	}
	os.Exit(code)
}

// helm runs helm with args; it returns stdout and stderr (without the
// warning helm prints for the demo's symbolic link to policies/).
func helm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(tool(t, "helm"), args...)
	cmd.Env = helmEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var lines []string
	for _, l := range strings.Split(errb.String(), "\n") {
		if l != "" && !strings.Contains(l, "found symbolic link in path") {
			lines = append(lines, l)
		}
	}
	return out.String(), strings.Join(lines, "\n"), err
}

// A variant is one way of rendering the demo chart.
type variant struct {
	name string
	args []string // extra helm template arguments (-f, --set)
	// validate: also check with kubectl-validate (false for fields newer
	// than its schemas).
	validate bool
}

var variants = []variant{
	{"defaults", nil, true},
	{"all-on", []string{"-f", demoChart + "/ci/all-on-values.yaml"}, true},
	{"classic", []string{"--set", "pdp.nativeSidecar=false"}, true},
	// Nothing on the pod IP: no probes, no NetworkPolicy needed.
	{"loopback", []string{"--set", "pdp.health.host=127.0.0.1", "--set", "pdp.networkPolicy.enabled=false"}, true},
	// The decision API on the pod IP too (behind the NetworkPolicy).
	{"decision-on-pod-ip", []string{"--set", "pdp.listen.host=0.0.0.0", "-f", demoChart + "/ci/all-on-values.yaml"}, true},
	{"pvc-existing", []string{
		"--set", "replicaCount=1",
		"--set", "pdp.state.volume=persistentVolumeClaim", "--set", "pdp.state.persistentVolumeClaim.claimName=pdp-state",
		"--set", "pdp.plugins.source=configMap", "--set", "pdp.plugins.configMap=pdp-plugins",
		"--set", "pdp.admin.enabled=true", "--set", "pdp.admin.existingSecret=pdp-tokens",
		"--set", "pdp.policies.chartFiles=", "--set", "pdp.policies.existingConfigMap=risk-policies",
		"--set", "pdp.policies.items[0].key=rules.rego", "--set", "pdp.policies.items[0].path=riskpdp/rules.rego",
		"--set", "pdp.policies.items[1].key=data.json", "--set", "pdp.policies.items[1].path=riskpdp/config/data.json",
		"--set", "pdp.decisionLog.enabled=true", "--set", "pdp.decisionLog.volume=persistentVolumeClaim",
		"--set", "pdp.decisionLog.persistentVolumeClaim.claimName=pdp-decisions",
		"--set", "pdp.shadow.existingConfigMap=risk-policies-candidate",
		"--set", "pdp.redis.addrs[0]=redis-0.redis:6379", "--set", "pdp.redis.addrs[1]=redis-1.redis:6379",
		"--set", "pdp.redis.existingSecret=pdp-redis", "--set", "pdp.config.redis.cluster=true",
		"--set", "pdp.bundle.existingSecret=pdp-bundle", "--set", "pdp.bundle.tokenKey=token",
		"--set", "pdp.config.bundle.url=https://bundles.example/riskpdp/bundle.tar.gz",
	}, true},
	// Image volumes arrived in Kubernetes 1.31, after kubectl-validate's
	// newest schemas: asserted on, not validated.
	{"image-plugins", []string{"--set", "pdp.plugins.source=image",
		"--set", "pdp.plugins.image.reference=registry.example.com/riskpdp/plugins:1.0.0"}, false},
}

func variantNamed(t *testing.T, name string) variant {
	t.Helper()
	for _, v := range variants {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no variant %q", name)
	return variant{}
}

// templateArgs is the `helm template` command line for a variant.
func templateArgs(v variant) []string {
	return append([]string{"template", release, demoChart, "--namespace", namespace,
		"--kube-version", kubeVersion + ".0"}, v.args...)
}

var (
	renderMu sync.Mutex
	rendered = map[string]manifests{}
)

// render renders a variant once per test binary.
func render(t *testing.T, v variant) manifests {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if m, ok := rendered[v.name]; ok {
		return m
	}
	out, stderr, err := helm(t, templateArgs(v)...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(templateArgs(v), " "), err, stderr)
	}
	m, err := parseManifests(out)
	if err != nil {
		t.Fatalf("%s: %v", v.name, err)
	}
	m.yaml = out
	rendered[v.name] = m
	return m
}

// manifests are the objects of one rendering.
type manifests struct {
	objects []object
	yaml    string
}

// object is one rendered Kubernetes object, as decoded YAML.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }
func (o object) name() string { s, _ := get(o, "metadata", "name").(string); return s }

func parseManifests(s string) (manifests, error) {
	var m manifests
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var o map[string]any // nested maps decode as map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return m, err
		}
		if o != nil {
			m.objects = append(m.objects, object(o))
		}
	}
}

// find returns the objects of a kind.
func (m manifests) find(kind string) []object {
	var out []object
	for _, o := range m.objects {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the only object of a kind with the given name suffix.
func (m manifests) one(t *testing.T, kind, suffix string) object {
	t.Helper()
	var found []object
	for _, o := range m.find(kind) {
		if strings.HasSuffix(o.name(), suffix) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s named *%s, found %d", kind, suffix, len(found))
	}
	return found[0]
}

// pod decodes the demo Deployment's pod template.
func (m manifests) pod(t *testing.T) (podSpec, object) {
	t.Helper()
	d := m.one(t, "Deployment", "pdp-demo")
	raw := get(d, "spec", "template")
	var tpl struct {
		Metadata struct {
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	}
	b, err := yaml.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	tpl.Spec.annotations = tpl.Metadata.Annotations
	return tpl.Spec, object(get(d, "spec", "template", "spec").(map[string]any))
}

// get walks nested maps; nil when a key is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			if o, isObj := v.(object); isObj {
				m = o
			} else {
				return nil
			}
		}
		v = m[k]
	}
	return v
}

// The parts of a pod spec the tests read.
type podSpec struct {
	HostNetwork                   bool             `yaml:"hostNetwork"`
	HostPID                       bool             `yaml:"hostPID"`
	HostIPC                       bool             `yaml:"hostIPC"`
	TerminationGracePeriodSeconds int              `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               *securityContext `yaml:"securityContext"`
	InitContainers                []container      `yaml:"initContainers"`
	Containers                    []container      `yaml:"containers"`
	Volumes                       []volume         `yaml:"volumes"`
	annotations                   map[string]string
}

type securityContext struct {
	Privileged               *bool  `yaml:"privileged"`
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	RunAsGroup               *int64 `yaml:"runAsGroup"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	ProcMount                string `yaml:"procMount"`
	Capabilities             *struct {
		Add  []string `yaml:"add"`
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile *struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
	Sysctls []any `yaml:"sysctls"`
}

type container struct {
	Name            string           `yaml:"name"`
	Image           string           `yaml:"image"`
	RestartPolicy   string           `yaml:"restartPolicy"`
	Command         []string         `yaml:"command"`
	Args            []string         `yaml:"args"`
	Env             []envVar         `yaml:"env"`
	Ports           []containerPort  `yaml:"ports"`
	StartupProbe    *probe           `yaml:"startupProbe"`
	LivenessProbe   *probe           `yaml:"livenessProbe"`
	ReadinessProbe  *probe           `yaml:"readinessProbe"`
	Lifecycle       map[string]any   `yaml:"lifecycle"`
	Resources       map[string]any   `yaml:"resources"`
	SecurityContext *securityContext `yaml:"securityContext"`
	VolumeMounts    []volumeMount    `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string         `yaml:"name"`
	Value     string         `yaml:"value"`
	ValueFrom map[string]any `yaml:"valueFrom"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	HostPort      int    `yaml:"hostPort"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
		Host string `yaml:"host"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type keyPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

// volume keeps its source raw (its single key other than name says the type).
type volume map[string]any

// UnmarshalYAML keeps nested maps as map[string]any.
func (v *volume) UnmarshalYAML(n *yaml.Node) error {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	*v = m
	return nil
}

func (v volume) name() string { s, _ := v["name"].(string); return s }

// source returns the volume type and its settings.
func (v volume) source() (string, map[string]any) {
	for k, s := range v {
		if k != "name" {
			m, _ := s.(map[string]any)
			return k, m
		}
	}
	return "", nil
}

// container returns the named container of the pod, from either list.
func (p podSpec) container(name string) (c container, init bool, ok bool) {
	for _, c := range p.InitContainers {
		if c.Name == name {
			return c, true, true
		}
	}
	for _, c := range p.Containers {
		if c.Name == name {
			return c, false, true
		}
	}
	return container{}, false, false
}

func (p podSpec) volume(name string) (volume, bool) {
	for _, v := range p.Volumes {
		if v.name() == name {
			return v, true
		}
	}
	return nil, false
}

func (c container) env(name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// flags returns the container's --name=value arguments.
func (c container) flags(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range c.Args {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			t.Fatalf("%s: argument %q is not --name=value", c.Name, a)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("%s: flag --%s given twice", c.Name, name)
		}
		out[name] = value
	}
	return out
}

func (c container) mount(name string) (volumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if m.Name == name {
			return m, true
		}
	}
	return volumeMount{}, false
}

// sidecar returns the pdp container of a rendering.
func sidecar(t *testing.T, p podSpec) (container, bool) {
	t.Helper()
	c, init, ok := p.container("pdp")
	if !ok {
		t.Fatalf("no pdp container; init %v, containers %v", names(p.InitContainers), names(p.Containers))
	}
	return c, init
}

func names(cs []container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func fmtYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
