package charts

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	for _, args := range [][]string{
		{"lint", "--strict", libraryChart},
		{"lint", "--strict", demoChart},
		{"lint", "--strict", demoChart, "-f", demoChart + "/ci/all-on-values.yaml"},
	} {
		out, stderr, err := helm(t, args...)
		if err != nil {
			t.Errorf("helm %s: %v\n%s\n%s", strings.Join(args, " "), err, out, stderr)
		}
	}
}

// TestKubernetesSchemas validates every rendering with kubectl-validate
// against the Kubernetes schemas it has built in, and the Prometheus
// Operator CRDs in testdata/crds for the monitors.
func TestKubernetesSchemas(t *testing.T) {
	kv := tool(t, "kubectl-validate")
	dir := t.TempDir()
	args := []string{"--version", kubeVersion, "--local-crds", filepath.Join("testdata", "crds")}
	for _, v := range variants {
		if !v.validate {
			continue
		}
		p := filepath.Join(dir, v.name+".yaml")
		if err := os.WriteFile(p, []byte(render(t, v).yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(kv, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl-validate: %v\n%s", err, out)
	}
}

func TestNativeSidecar(t *testing.T) {
	m := render(t, variantNamed(t, "defaults"))
	pod, _ := m.pod(t)
	pdp, init := sidecar(t, pod)
	if !init || pdp.RestartPolicy != "Always" {
		t.Fatalf("pdp is not a native sidecar (init container %v, restartPolicy %q)", init, pdp.RestartPolicy)
	}
	if pod.InitContainers[0].Name != "pdp" {
		t.Errorf("pdp is not the first init container: %v", names(pod.InitContainers))
	}
	checkProbes(t, pdp)
	if pdp.Lifecycle != nil {
		t.Errorf("native sidecar with a lifecycle hook: %v", pdp.Lifecycle)
	}
	if f := pdp.flags(t); f["addr"] != "127.0.0.1:9191" || f["health-addr"] != "0.0.0.0:9193" {
		t.Errorf("--addr=%s --health-addr=%s, want the decision API on the loopback, health on the pod IP", f["addr"], f["health-addr"])
	}
	app, _, _ := pod.container("app")
	if v, _ := app.env("PDP_URL"); v != "http://127.0.0.1:9191" {
		t.Errorf("app PDP_URL=%q", v)
	}
	// App shutdown (30s), then the sidecar's drain (10s), plus a margin.
	if pod.TerminationGracePeriodSeconds != 45 {
		t.Errorf("terminationGracePeriodSeconds %d, want 45", pod.TerminationGracePeriodSeconds)
	}
	if pod.annotations["checksum/pdp-config"] == "" {
		t.Error("no checksum/pdp-config annotation: a config change would not roll the pods")
	}
	if len(m.find("NetworkPolicy")) != 1 {
		t.Error("the default health listener (0.0.0.0) comes without its NetworkPolicy")
	}
	if img := pdp.Image; img != "ghcr.io/riskpdp/pdp:"+chartAppVersion(t, libraryChart) {
		t.Errorf("image %s: the tag does not default to the library's appVersion", img)
	}
}

func checkProbes(t *testing.T, c container) {
	t.Helper()
	for _, p := range []struct {
		name string
		pr   *probe
		path string
	}{{"startupProbe", c.StartupProbe, "/health/ready"}, {"livenessProbe", c.LivenessProbe, "/health/live"},
		{"readinessProbe", c.ReadinessProbe, "/health/ready"}} {
		if p.pr == nil || p.pr.HTTPGet == nil || p.pr.HTTPGet.Path != p.path || p.pr.HTTPGet.Port != "pdp-health" || p.pr.HTTPGet.Host != "" {
			t.Errorf("%s: want httpGet %s on port pdp-health, got %s", p.name, p.path, fmtYAML(p.pr))
		}
	}
	if !slices.ContainsFunc(c.Ports, func(p containerPort) bool { return p.Name == "pdp-health" && p.ContainerPort == 9193 }) {
		t.Errorf("no pdp-health port 9193: %v", c.Ports)
	}
	if slices.ContainsFunc(c.Ports, func(p containerPort) bool { return p.Name == "pdp" }) {
		t.Errorf("the decision port is declared although it binds the loopback: %v", c.Ports)
	}
}

func TestClassicSidecar(t *testing.T) {
	pod, _ := render(t, variantNamed(t, "classic")).pod(t)
	pdp, init := sidecar(t, pod)
	if init || pdp.RestartPolicy != "" {
		t.Fatalf("classic form: pdp in init containers %v, restartPolicy %q", init, pdp.RestartPolicy)
	}
	checkProbes(t, pdp)
	if s := get(pdp.Lifecycle, "preStop", "sleep", "seconds"); s != 5 {
		t.Errorf("preStop sleep %v, want 5 (keep serving while the app drains)", s)
	}
	// Both stop together: max(app 30, preStop 5 + drain 10), plus a margin.
	if pod.TerminationGracePeriodSeconds != 35 {
		t.Errorf("terminationGracePeriodSeconds %d, want 35", pod.TerminationGracePeriodSeconds)
	}
}

func TestLoopbackListener(t *testing.T) {
	m := render(t, variantNamed(t, "loopback"))
	pod, _ := m.pod(t)
	pdp, _ := sidecar(t, pod)
	if f := pdp.flags(t); f["addr"] != "127.0.0.1:9191" || f["health-addr"] != "127.0.0.1:9193" {
		t.Errorf("--addr=%s --health-addr=%s", f["addr"], f["health-addr"])
	}
	if pdp.StartupProbe != nil || pdp.LivenessProbe != nil || pdp.ReadinessProbe != nil || len(pdp.Ports) > 0 {
		t.Error("probes or ports on a loopback-only listener: the kubelet cannot reach it")
	}
	if len(m.find("NetworkPolicy")) != 0 {
		t.Error("NetworkPolicy rendered although disabled")
	}
}

// TestRestrictedPodSecurity checks every rendering against the restricted
// Pod Security Standard (the controls that apply to what the charts render).
func TestRestrictedPodSecurity(t *testing.T) {
	allowedVolumes := []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
		"persistentVolumeClaim", "projected", "secret"}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			pod, _ := render(t, v).pod(t)
			if pod.HostNetwork || pod.HostPID || pod.HostIPC {
				t.Error("host namespaces")
			}
			psc := pod.SecurityContext
			if psc == nil {
				psc = &securityContext{}
			}
			if len(psc.Sysctls) > 0 {
				t.Error("sysctls")
			}
			for _, vol := range pod.Volumes {
				typ, _ := vol.source()
				// Image volumes are allowed by restricted Pod Security from
				// Kubernetes 1.33 (the chart documents it).
				if !slices.Contains(allowedVolumes, typ) && !(typ == "image" && v.name == "image-plugins") {
					t.Errorf("volume %s: type %s not allowed", vol.name(), typ)
				}
			}
			for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
				sc := c.SecurityContext
				if sc == nil {
					t.Errorf("%s: no securityContext", c.Name)
					continue
				}
				if sc.Privileged != nil && *sc.Privileged {
					t.Errorf("%s: privileged", c.Name)
				}
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s: allowPrivilegeEscalation must be false", c.Name)
				}
				if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) ||
					slices.ContainsFunc(sc.Capabilities.Add, func(c string) bool { return c != "NET_BIND_SERVICE" }) {
					t.Errorf("%s: capabilities must drop ALL and add at most NET_BIND_SERVICE", c.Name)
				}
				if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
					t.Errorf("%s: runAsNonRoot", c.Name)
				}
				if (sc.RunAsUser != nil && *sc.RunAsUser == 0) || (psc.RunAsUser != nil && *psc.RunAsUser == 0) {
					t.Errorf("%s: runAsUser 0", c.Name)
				}
				if seccomp := firstSeccomp(sc, psc); seccomp != "RuntimeDefault" && seccomp != "Localhost" {
					t.Errorf("%s: seccompProfile %q", c.Name, seccomp)
				}
				if sc.ProcMount != "" && sc.ProcMount != "Default" {
					t.Errorf("%s: procMount %s", c.Name, sc.ProcMount)
				}
				for _, p := range c.Ports {
					if p.HostPort != 0 {
						t.Errorf("%s: hostPort", c.Name)
					}
				}
				// Beyond the standard: what the chart promises for its containers.
				if strings.HasPrefix(c.Name, "pdp") {
					if !isTrue(sc.ReadOnlyRootFilesystem) {
						t.Errorf("%s: readOnlyRootFilesystem", c.Name)
					}
					if sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 {
						t.Errorf("%s: want user and group 65532", c.Name)
					}
				}
			}
		})
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstSeccomp(scs ...*securityContext) string {
	for _, sc := range scs {
		if sc != nil && sc.SeccompProfile != nil {
			return sc.SeccompProfile.Type
		}
	}
	return ""
}

// TestMounts: no subPath anywhere (a subPath mount never sees a ConfigMap
// or Secret update), every pdp mount has its volume, and the read-only
// sources are mounted read-only.
func TestMounts(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			pod, _ := render(t, v).pod(t)
			for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
				for _, m := range c.VolumeMounts {
					if m.SubPath != "" {
						t.Errorf("%s mounts %s with subPath %s", c.Name, m.Name, m.SubPath)
					}
					vol, ok := pod.volume(m.Name)
					if !ok {
						t.Errorf("%s mounts %s, which is not a volume", c.Name, m.Name)
						continue
					}
					typ, _ := vol.source()
					if (typ == "configMap" || typ == "secret" || typ == "image") && !m.ReadOnly {
						t.Errorf("%s mounts %s %s read-write", c.Name, typ, m.Name)
					}
				}
			}
			pdp, _ := sidecar(t, pod)
			f := pdp.flags(t)
			for flag, mount := range map[string]string{"config": "pdp-config", "state": "pdp-state",
				"policies": "pdp-policies", "plugins": "pdp-plugins", "admin-token-file": "pdp-admin",
				"decision-log": "pdp-decision-log", "shadow-policies": "pdp-shadow"} {
				path, set := f[flag]
				m, mounted := pdp.mount(mount)
				if set != mounted {
					t.Errorf("--%s set %v, %s mounted %v", flag, set, mount, mounted)
				}
				if set && mounted && !strings.HasPrefix(path, m.MountPath) {
					t.Errorf("--%s=%s is outside the %s mount (%s)", flag, path, mount, m.MountPath)
				}
			}
		})
	}
}

// TestPolicyConfigMap: the demo ships the reference policies (without
// tests) and data.json lands at riskpdp/config/data.json through the
// volume's items.
func TestPolicyConfigMap(t *testing.T) {
	m := render(t, variantNamed(t, "defaults"))
	pod, _ := m.pod(t)
	vol, ok := pod.volume("pdp-policies")
	if !ok {
		t.Fatal("no pdp-policies volume")
	}
	typ, src := vol.source()
	if typ != "configMap" {
		t.Fatalf("pdp-policies is a %s volume", typ)
	}
	cm := m.one(t, "ConfigMap", "-pdp-policies")
	if src["name"] != cm.name() {
		t.Fatalf("volume uses ConfigMap %v, chart renders %s", src["name"], cm.name())
	}
	data, _ := cm["data"].(map[string]any)
	items := itemsOf(t, src)
	got := map[string]string{}
	for _, it := range items {
		body, ok := data[it.Key].(string)
		if !ok {
			t.Errorf("item key %s is not in the ConfigMap", it.Key)
		}
		got[it.Path] = body
	}
	if len(items) != len(data) {
		t.Errorf("%d items for %d keys", len(items), len(data))
	}
	want := referencePolicyFiles(t)
	for path, body := range want {
		if got[path] != body {
			t.Errorf("%s: missing or different in the ConfigMap", path)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("%s: in the ConfigMap but not a reference policy file", path)
		}
	}
	if _, ok := got["riskpdp/config/data.json"]; !ok {
		t.Error("data.json does not land at riskpdp/config/data.json")
	}
}

func itemsOf(t *testing.T, src map[string]any) []keyPath {
	t.Helper()
	var out []keyPath
	list, _ := src["items"].([]any)
	for _, it := range list {
		k, _ := get(it, "key").(string)
		p, _ := get(it, "path").(string)
		out = append(out, keyPath{Key: k, Path: p})
	}
	return out
}

// referencePolicyFiles reads ../policies: the .rego files except tests, and
// the data files, by path relative to policies/.
func referencePolicyFiles(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "policies")
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch ext := filepath.Ext(rel); {
		case ext == ".rego" && !strings.HasSuffix(rel, "_test.rego"), ext == ".json", ext == ".yaml":
			b, err := os.ReadFile(p)
			files[rel] = string(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGoRuntimeEnv: GOMAXPROCS and GOMEMLIMIT follow the resources.
func TestGoRuntimeEnv(t *testing.T) {
	cases := []struct {
		name       string
		set        []string
		procs, mem string // "" means unset
	}{
		// 250m requested, no CPU limit: ceil(0.25) = 1, raised to Go's floor of 2; 512Mi × 90 %.
		{"defaults", nil, "2", "460MiB"},
		{"cpu-request", []string{"pdp.resources.requests.cpu=3500m", "pdp.resources.limits.memory=1.5Gi"}, "4", "1382MiB"},
		{"cpu-limit", []string{"pdp.resources.limits.cpu=2"}, "", "460MiB"},
		{"explicit", []string{"pdp.goRuntime.gomaxprocs=3", "pdp.goRuntime.memoryLimitPercent=0"}, "3", ""},
		{"decimal", []string{"pdp.resources.requests.cpu=2.5", "pdp.resources.limits.memory=1000M"}, "3", "858MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := variant{name: "goruntime-" + c.name}
			for _, s := range c.set {
				v.args = append(v.args, "--set", s)
			}
			pod, _ := render(t, v).pod(t)
			pdp, _ := sidecar(t, pod)
			procs, _ := pdp.env("GOMAXPROCS")
			mem, _ := pdp.env("GOMEMLIMIT")
			if procs != c.procs || mem != c.mem {
				t.Errorf("GOMAXPROCS=%q GOMEMLIMIT=%q, want %q %q", procs, mem, c.procs, c.mem)
			}
		})
	}
}

func TestPlugins(t *testing.T) {
	cases := []struct {
		variant, flag, volumeType string
	}{
		{"all-on", "/etc/pdp/plugins", "emptyDir"},
		{"image-plugins", "/etc/pdp/plugins/plugins", "image"},
		{"pvc-existing", "/etc/pdp/plugins", "configMap"},
	}
	for _, c := range cases {
		t.Run(c.variant, func(t *testing.T) {
			m := render(t, variantNamed(t, c.variant))
			pod, _ := m.pod(t)
			pdp, _ := sidecar(t, pod)
			if f := pdp.flags(t); f["plugins"] != c.flag {
				t.Errorf("--plugins=%s, want %s", f["plugins"], c.flag)
			}
			vol, _ := pod.volume("pdp-plugins")
			if typ, _ := vol.source(); typ != c.volumeType {
				t.Errorf("pdp-plugins is %s, want %s", typ, c.volumeType)
			}
			cache, ok := pdp.mount("pdp-cache")
			if cv, _ := pod.volume("pdp-cache"); !ok || cv == nil {
				t.Fatal("no writable compilation cache volume")
			}
			if cfg := renderedConfig(t, m); !strings.Contains(cfg, "cache_dir: "+cache.MountPath) {
				t.Errorf("config does not point plugins.cache_dir at %s:\n%s", cache.MountPath, cfg)
			}
		})
	}
	// The init-container copy runs before pdp, from the plugin image, into the volume pdp mounts.
	pod, _ := render(t, variantNamed(t, "all-on")).pod(t)
	if got := names(pod.InitContainers); !slices.Equal(got, []string{"pdp-plugins", "pdp"}) {
		t.Fatalf("init containers %v, want the copy before pdp", got)
	}
	cp := pod.InitContainers[0]
	if m, ok := cp.mount("pdp-plugins"); !ok || !strings.Contains(strings.Join(cp.Command, " "), "/plugins/. "+m.MountPath) {
		t.Errorf("copy command %v does not fill the pdp-plugins volume", cp.Command)
	}
}

func TestAdminAPI(t *testing.T) {
	m := render(t, variantNamed(t, "all-on"))
	pod, _ := m.pod(t)
	pdp, _ := sidecar(t, pod)
	f := pdp.flags(t)
	if f["admin-addr"] != "0.0.0.0:9192" || f["admin-token-file"] != "/etc/pdp/admin/tokens" {
		t.Errorf("--admin-addr=%s --admin-token-file=%s", f["admin-addr"], f["admin-token-file"])
	}
	secret := m.one(t, "Secret", "-pdp-admin")
	vol, _ := pod.volume("pdp-admin")
	if _, src := vol.source(); src["secretName"] != secret.name() {
		t.Errorf("token volume uses %v, chart generates %s", src["secretName"], secret.name())
	}
	tokens := decodeSecret(t, secret)["tokens"]
	if !regexp.MustCompile(`^[A-Za-z0-9]{48} write helm-generated\n$`).MatchString(tokens) {
		t.Errorf("generated token file %q", tokens)
	}

	m = render(t, variantNamed(t, "pvc-existing"))
	pod, _ = m.pod(t)
	pdp, _ = sidecar(t, pod)
	if f := pdp.flags(t); f["admin-addr"] != "127.0.0.1:9192" {
		t.Errorf("--admin-addr=%s, want loopback by default", f["admin-addr"])
	}
	vol, _ = pod.volume("pdp-admin")
	if _, src := vol.source(); src["secretName"] != "pdp-tokens" {
		t.Errorf("existing secret not used: %v", src)
	}
	if len(m.find("Secret")) != 0 {
		t.Error("a Secret is generated although an existing one is named")
	}
}

// TestNetworkPolicy: no rule open to every source reaches a pdp port; the
// decision port is open to no one, even bound to the pod IP (the app
// reaches it over the loopback), the health port to metrics.from only, the
// operator port to admin.from only; every other port stays open.
func TestNetworkPolicy(t *testing.T) {
	for _, name := range []string{"all-on", "decision-on-pod-ip"} {
		t.Run(name, func(t *testing.T) {
			m := render(t, variantNamed(t, name))
			np := m.one(t, "NetworkPolicy", "-pdp")
			pod := m.one(t, "Deployment", "pdp-demo")
			if fmt.Sprint(get(np, "spec", "podSelector", "matchLabels")) != fmt.Sprint(get(pod, "spec", "selector", "matchLabels")) {
				t.Errorf("NetworkPolicy selects %v, the Deployment's pods are %v",
					get(np, "spec", "podSelector", "matchLabels"), get(pod, "spec", "selector", "matchLabels"))
			}
			openTo := map[int][]string{}
			rules, _ := get(np, "spec", "ingress").([]any)
			for _, r := range rules {
				from := fmtYAML(get(r, "from"))
				ports, _ := get(r, "ports").([]any)
				for _, p := range ports {
					if proto, _ := get(p, "protocol").(string); proto != "TCP" {
						continue
					}
					lo, _ := get(p, "port").(int)
					hi, _ := get(p, "endPort").(int)
					if hi == 0 {
						hi = lo
					}
					for _, port := range []int{80, 9190, 9191, 9192, 9193, 9194, 65535} {
						if port >= lo && port <= hi {
							openTo[port] = append(openTo[port], from)
						}
					}
				}
			}
			if got := openTo[9191]; len(got) != 0 {
				t.Errorf("decision port open to %v, want no one", got)
			}
			if got := openTo[9193]; len(got) != 1 || !strings.Contains(got[0], "monitoring") {
				t.Errorf("health port open to %v, want the metrics peers only", got)
			}
			if got := openTo[9192]; len(got) != 1 || !strings.Contains(got[0], "risk-ops") {
				t.Errorf("operator port open to %v, want the admin peers only", got)
			}
			for _, port := range []int{80, 9190, 9194, 65535} {
				if got := openTo[port]; len(got) != 1 || strings.TrimSpace(got[0]) != "null" {
					t.Errorf("other port %d open to %v, want everyone (allowOtherPorts)", port, got)
				}
			}
			ps, _ := m.pod(t)
			pdp, _ := sidecar(t, ps)
			declared := slices.ContainsFunc(pdp.Ports, func(p containerPort) bool { return p.Name == "pdp" })
			if declared != (name == "decision-on-pod-ip") {
				t.Errorf("decision port declared %v with --addr=%s", declared, pdp.flags(t)["addr"])
			}
		})
	}
}

func TestMonitors(t *testing.T) {
	m := render(t, variantNamed(t, "all-on"))
	podLabels := fmt.Sprint(get(m.one(t, "Deployment", "pdp-demo"), "spec", "selector", "matchLabels"))
	pm := m.one(t, "PodMonitor", "-pdp")
	if fmt.Sprint(get(pm, "spec", "selector", "matchLabels")) != podLabels {
		t.Errorf("PodMonitor selects %v", get(pm, "spec", "selector", "matchLabels"))
	}
	ep := get(pm, "spec", "podMetricsEndpoints").([]any)[0]
	if get(ep, "port") != "pdp-health" || get(ep, "path") != "/metrics" {
		t.Errorf("PodMonitor endpoint %v, want /metrics on pdp-health", ep)
	}
	svc := m.one(t, "Service", "-pdp-metrics")
	if fmt.Sprint(get(svc, "spec", "selector")) != podLabels {
		t.Errorf("metrics Service selects %v", get(svc, "spec", "selector"))
	}
	if p := get(svc, "spec", "ports").([]any)[0]; get(p, "port") != 9193 || get(p, "targetPort") != "pdp-health" {
		t.Errorf("metrics Service port %v, want 9193 → pdp-health", p)
	}
	if ep := get(m.one(t, "ServiceMonitor", "-pdp"), "spec", "endpoints").([]any)[0]; get(ep, "port") != "pdp-health" {
		t.Errorf("ServiceMonitor endpoint %v, want pdp-health", ep)
	}
	sm := m.one(t, "ServiceMonitor", "-pdp")
	for k, v := range get(sm, "spec", "selector", "matchLabels").(map[string]any) {
		if get(svc, "metadata", "labels", k) != v {
			t.Errorf("ServiceMonitor selector %s=%v does not match the metrics Service", k, v)
		}
	}
	if get(pm, "metadata", "labels", "release") != "prometheus" {
		t.Error("monitor labels not applied")
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	if len(render(t, variantNamed(t, "defaults")).find("PodDisruptionBudget")) != 0 {
		t.Error("PDB rendered by default")
	}
	pdb := render(t, variantNamed(t, "all-on")).one(t, "PodDisruptionBudget", "pdp-demo")
	if get(pdb, "spec", "maxUnavailable") != 1 {
		t.Errorf("PDB %v", get(pdb, "spec"))
	}
}

// TestWrongValuesFail: a typo or a wrong type fails rendering with a schema
// error naming the value, instead of being ignored.
func TestWrongValuesFail(t *testing.T) {
	cases := []struct {
		set  []string
		want string
	}{
		{[]string{"pdp.imag.tag=1.0"}, "additional properties 'imag' not allowed"},
		{[]string{"pdp.nativeSidecar=yes"}, "/nativeSidecar': got string, want boolean"},
		{[]string{"pdp.resources.requests.cpu=lots"}, "/resources/requests/cpu"},
		{[]string{"pdp.resources.limits.memory=1GB"}, "/resources/limits/memory"},
		{[]string{"pdp.listen.port=99999"}, "/listen/port"},
		{[]string{"pdp.listen.host=10.0.0.1"}, "/listen/host"},
		{[]string{"pdp.health.host=10.0.0.1"}, "/health/host"},
		{[]string{"pdp.health.port=0"}, "/health/port"},
		{[]string{"pdp.config.health_addr=0.0.0.0:1"}, "additional properties 'health_addr' not allowed"},
		{[]string{"pdp.config.server.allowed_hosts=pdp.internal"}, "/config/server/allowed_hosts"},
		{[]string{"pdp.config.server.allowed_hosts[0]=evil.example:9191"}, "/config/server/allowed_hosts/0"},
		{[]string{"pdp.config.server.allowed_hosts[0]=*.example"}, "/config/server/allowed_hosts/0"},
		{[]string{"pdp.config.adrr=x"}, "additional properties 'adrr' not allowed"},
		{[]string{"pdp.config.addr=0.0.0.0:1"}, "additional properties 'addr' not allowed"},
		{[]string{"pdp.config.server.shutdown_timeout=1s"}, "additional properties 'shutdown_timeout' not allowed"},
		{[]string{"pdp.config.limits.max_depth=2"}, "/config/limits/max_depth"},
		{[]string{"pdp.config.policies.fallback=allow"}, "/config/policies/fallback"},
		{[]string{"pdp.config.server.read_timeout=5"}, "/config/server/read_timeout"},
		{[]string{"pdp.plugins.source=s3"}, "/plugins/source"},
		{[]string{"replicas=3"}, "additional properties 'replicas' not allowed"},
		{[]string{"podDisruptionBudget.enable=true"}, "additional properties 'enable' not allowed"},
		{[]string{"pdp.dashboards.enable=true"}, "additional properties 'enable' not allowed"},
		{[]string{"pdp.dashboards.label=grafana dashboard"}, "/dashboards/label"},
		{[]string{"pdp.alerts.rules.latencyHigh.quantile=1.5"}, "/alerts/rules/latencyHigh/quantile"},
		{[]string{"pdp.alerts.rules.fallbacksHigh.threshold=0"}, "/alerts/rules/fallbacksHigh/threshold"},
		{[]string{"pdp.alerts.rules.sidecarDown.for=5 minutes"}, "/alerts/rules/sidecarDown/for"},
		{[]string{"pdp.alerts.rules.redisDown.enabled=true"}, "additional properties 'redisDown' not allowed"},
		{[]string{"pdp.alerts.window=0"}, "/alerts/window"},
		{[]string{"pdp.alerts.selector={namespace=\"x\"}"}, "/alerts/selector"},
	}
	for _, c := range cases {
		args := templateArgs(variantNamed(t, "defaults"))
		for _, s := range c.set {
			args = append(args, "--set", s)
		}
		_, stderr, err := helm(t, args...)
		if err == nil {
			t.Errorf("--set %v: rendered", c.set)
			continue
		}
		if !strings.Contains(stderr, "values don't meet the specifications of the schema") || !strings.Contains(stderr, c.want) {
			t.Errorf("--set %v: want a schema error with %q, got:\n%s", c.set, c.want, stderr)
		}
	}
}

// TestInconsistentValuesFail: combinations the schema cannot express fail
// with the chart's own message.
func TestInconsistentValuesFail(t *testing.T) {
	cases := []struct {
		set  []string
		want string
	}{
		{[]string{"pdp.listen.host=0.0.0.0", "pdp.networkPolicy.enabled=false"}, "exposes the decision API beyond the pod"},
		{[]string{"pdp.admin.enabled=true"}, "pdp.admin.enabled needs pdp.admin.existingSecret"},
		{[]string{"pdp.admin.enabled=true", "pdp.admin.generateToken=true", "pdp.admin.host=0.0.0.0",
			"pdp.networkPolicy.enabled=false"}, "exposes the operator API"},
		{[]string{"pdp.admin.enabled=true", "pdp.admin.generateToken=true", "pdp.config.state.enabled=false"}, "needs risk state"},
		{[]string{"pdp.plugins.source=configMap"}, "needs pdp.plugins.configMap"},
		{[]string{"pdp.plugins.source=initContainer"}, "needs pdp.plugins.image.reference"},
		{[]string{"pdp.state.volume=persistentVolumeClaim"}, "needs pdp.state.persistentVolumeClaim.claimName"},
		{[]string{"pdp.health.host=127.0.0.1", "pdp.monitoring.podMonitor.enabled=true"}, "monitoring needs the health port"},
		{[]string{"pdp.extraEnv[0].name=PDP_ADDR", "pdp.extraEnv[0].value=x"}, "not PDP_* variables"},
		{[]string{"pdp.policies.existingConfigMap=x"}, "set chartFiles or existingConfigMap, not both"},
		{[]string{"pdp.policies.chartFiles=files/none"}, "no .rego or data files under files/none/"},
		{[]string{"pdp.admin.port=9191"}, "must differ"},
		{[]string{"pdp.health.port=9191"}, "must differ"},
		{[]string{"pdp.health.port=9192"}, "must differ"},
		{[]string{"pdp.alerts.enabled=true"}, "pdp.alerts needs pdp.monitoring.podMonitor or pdp.monitoring.serviceMonitor"},
	}
	for _, c := range cases {
		args := templateArgs(variantNamed(t, "defaults"))
		for _, s := range c.set {
			args = append(args, "--set", s)
		}
		_, stderr, err := helm(t, args...)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("--set %v: want an error with %q, got %v:\n%s", c.set, c.want, err, stderr)
		}
	}
}

// chartAppVersion reads appVersion from a chart's Chart.yaml.
func chartAppVersion(t *testing.T, chart string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^appVersion:\s*"?([^"\s]+)"?`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no appVersion", chart)
	}
	return string(m[1])
}
