package charts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	grafana "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.yaml.in/yaml/v3"
)

// The tests in this file check the Grafana dashboard and the alerts the
// library ships: the alerts under promtool (check rules, and the unit
// tests of testdata/alerts on the rules as rendered), the dashboard's
// structure, and that every metric either names is one a running pdp
// exports.

// dashboardFile is the dashboard the chart ships and users import.
const dashboardFile = libraryChart + "/dashboards/pdp.json"

// TestAlertRules runs `promtool check rules` and `promtool test rules` on
// the PrometheusRule the all-on rendering holds, and checks that the unit
// tests cover every alert both firing and not firing.
func TestAlertRules(t *testing.T) {
	promtool := tool(t, "promtool")
	rule := render(t, variantNamed(t, "all-on")).one(t, "PrometheusRule", "-pdp")
	groups, _ := get(rule, "spec", "groups").([]any)
	if len(groups) == 0 {
		t.Fatal("the PrometheusRule has no groups")
	}
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": groups})
	if out, err := exec.Command(promtool, "check", "rules", filepath.Join(dir, "rules.yaml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	// The annotations without templates are copied into the expectations;
	// summary and description are the test file's.
	static := map[string]map[string]string{}
	var alerts []string
	for _, g := range groups {
		rules, _ := get(g, "rules").([]any)
		for _, r := range rules {
			name, _ := get(r, "alert").(string)
			alerts = append(alerts, name)
			static[name] = map[string]string{}
			anns, _ := get(r, "annotations").(map[string]any)
			for _, k := range []string{"summary", "description", "runbook"} {
				if s, _ := anns[k].(string); strings.TrimSpace(s) == "" {
					t.Errorf("%s: no %s annotation", name, k)
				}
			}
			for k, v := range anns {
				s, _ := v.(string)
				if k == "summary" || k == "description" {
					continue
				}
				if strings.Contains(s, "{{") {
					t.Errorf("%s: annotation %s is a template: test it in testdata/alerts", name, k)
				}
				static[name][k] = s
			}
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "alerts", "pdp-alerts.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests map[string]any
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	list, _ := tests["tests"].([]any)
	for _, tg := range list {
		cases, _ := get(tg, "alert_rule_test").([]any)
		for _, c := range cases {
			name, _ := get(c, "alertname").(string)
			if _, ok := static[name]; !ok {
				t.Errorf("testdata/alerts tests %q, which the chart does not render", name)
				continue
			}
			exp, _ := get(c, "exp_alerts").([]any)
			if len(exp) == 0 {
				quiet[name] = true
			} else {
				fires[name] = true
			}
			for _, e := range exp {
				em := e.(map[string]any)
				anns, _ := em["exp_annotations"].(map[string]any)
				if anns == nil {
					anns = map[string]any{}
					em["exp_annotations"] = anns
				}
				for k, v := range static[name] {
					anns[k] = v
				}
			}
		}
	}
	for _, a := range alerts {
		if !fires[a] || !quiet[a] {
			t.Errorf("%s: testdata/alerts must test it firing (%v) and not firing (%v)", a, fires[a], quiet[a])
		}
	}
	writeYAML(t, filepath.Join(dir, "pdp-alerts.test.yaml"), tests)
	cmd := exec.Command(promtool, "test", "rules", "pdp-alerts.test.yaml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestAlertSelector: the alerts select the release's sidecars through the
// jobs the monitors give them, or the selector named in the values.
func TestAlertSelector(t *testing.T) {
	cases := []struct {
		set  []string
		want string
	}{
		{[]string{"pdp.monitoring.podMonitor.enabled=true"}, `{namespace="payments", job="payments/demo-pdp-demo-pdp"}`},
		{[]string{"pdp.monitoring.serviceMonitor.enabled=true"}, `{namespace="payments", job="demo-pdp-demo-pdp-metrics"}`},
		{[]string{"pdp.alerts.selector=cluster=\"eu-1\"\\, app=\"pay\""}, `{cluster="eu-1", app="pay"}`},
	}
	for _, c := range cases {
		args := append(templateArgs(variantNamed(t, "defaults")), "--set", "pdp.alerts.enabled=true")
		for _, s := range c.set {
			args = append(args, "--set", s)
		}
		out, stderr, err := helm(t, args...)
		if err != nil {
			t.Fatalf("--set %v: %v\n%s", c.set, err, stderr)
		}
		m, err := parseManifests(out)
		if err != nil {
			t.Fatal(err)
		}
		rules, _ := get(m.one(t, "PrometheusRule", "-pdp"), "spec", "groups").([]any)
		for _, r := range get(rules[0], "rules").([]any) {
			expr, _ := get(r, "expr").(string)
			// Every selector of the expression is the release's.
			for _, sel := range regexp.MustCompile(`[a-z_]+\{[^}]*\}`).FindAllString(expr, -1) {
				if !strings.HasSuffix(sel, c.want) {
					t.Errorf("--set %v: %s selects %s, want %s", c.set, get(r, "alert"), sel, c.want)
				}
			}
		}
	}
}

// TestDashboard: the dashboard is valid JSON Grafana imports (a current
// schemaVersion, the data source as a variable), each panel queries that
// data source, and the ConfigMap ships the file unchanged for the Grafana
// sidecar.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	d := readDashboard(t, raw)
	// 42: the version of Grafana's Go SDK (TestDashboardGrafanaSchema);
	// Grafana 11 reads 39 and up.
	if d.SchemaVersion < 39 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q", d.SchemaVersion, d.UID, d.Title)
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if ds := vars["datasource"]; ds.Type != "datasource" || ds.Query != "prometheus" {
		t.Errorf("no datasource variable of type prometheus: %+v", ds)
	}
	for _, name := range []string{"namespace", "pod"} {
		if v := vars[name]; v.Type != "query" || v.Datasource.UID != "${datasource}" || !v.IncludeAll || v.AllValue != ".*" {
			t.Errorf("variable %s: %+v", name, v)
		}
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || p.Description == "" {
			t.Errorf("panel %d: title %q, description %q", p.ID, p.Title, p.Description)
		}
		if p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: target %s: expr %q, datasource %+v", p.Title, q.RefID, q.Expr, q.Datasource)
			}
			if !strings.Contains(q.Expr, `namespace=~"$namespace", pod=~"$pod"`) {
				t.Errorf("panel %q: %s ignores the namespace and pod variables", p.Title, q.Expr)
			}
		}
	}

	// The queries parse (promtool check rules, on them as recording rules
	// with Grafana's variables replaced).
	promtool := tool(t, "promtool")
	var rules []map[string]string
	for i, e := range dashboardExprs(d) {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query%d", i), "expr": grafanaVars.Replace(e)})
	}
	p := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	writeYAML(t, p, map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if out, err := exec.Command(promtool, "check", "rules", p).CombinedOutput(); err != nil {
		t.Errorf("the dashboard's queries do not parse: %v\n%s", err, out)
	}

	// Shipped as is.
	defaults := render(t, variantNamed(t, "defaults"))
	for _, cm := range defaults.find("ConfigMap") {
		if strings.HasSuffix(cm.name(), "-dashboard") {
			t.Error("the dashboard is rendered by default")
		}
	}
	if len(defaults.find("PrometheusRule")) != 0 {
		t.Error("the alerts are rendered by default")
	}
	cm := render(t, variantNamed(t, "all-on")).one(t, "ConfigMap", "-pdp-dashboard")
	if got, _ := get(cm, "data", "pdp.json").(string); got != strings.TrimSuffix(string(raw), "\n") {
		t.Error("the dashboard ConfigMap's pdp.json differs from " + dashboardFile)
	}
	if get(cm, "metadata", "labels", "grafana_dashboard") != "1" || get(cm, "metadata", "annotations", "grafana_folder") != "Payments" {
		t.Errorf("dashboard ConfigMap labels %v, annotations %v", get(cm, "metadata", "labels"), get(cm, "metadata", "annotations"))
	}
}

// TestDashboardGrafanaSchema decodes the dashboard with the strict decoder
// of Grafana's Go SDK (generated from Grafana's schemas, with every panel and
// query type registered): a field unknown to its panel or query type, a
// wrong type or a required field missing fails.
func TestDashboardGrafanaSchema(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	plugins.RegisterDefaultPlugins()
	//lint:ignore SA1019 the file is in the classic JSON model, the one Grafana's import and its sidecar's file provisioning read; dashboardv2 is the resource form of Grafana's API
	var d grafana.Dashboard
	// The SDK returns its error list typed even when it is empty.
	if err := d.UnmarshalJSONStrict(raw); err != nil {
		var errs cog.BuildErrors
		if !errors.As(err, &errs) || len(errs) > 0 {
			t.Fatalf("%s against Grafana's schema:\n%v", dashboardFile, err)
		}
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if n := len(d.Panels); n != len(readDashboard(t, raw).Panels) {
		t.Errorf("the SDK decoded %d panels", n)
	}
}

// grafanaVars replaces the dashboard's variables with PromQL that parses.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$namespace", ".*", "$pod", ".*")

type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Query      any        `json:"query"` // a string, or an object for query variables
	Definition string     `json:"definition"`
	Datasource datasource `json:"datasource"`
	IncludeAll bool       `json:"includeAll"`
	AllValue   string     `json:"allValue"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int        `json:"id"`
	Type        string     `json:"type"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Datasource  datasource `json:"datasource"`
	GridPos     struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
}

func readDashboard(t *testing.T, raw []byte) dashboard {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s: data after the dashboard", dashboardFile)
	}
	return d
}

// dashboardExprs are the PromQL queries of the panels.
func dashboardExprs(d dashboard) []string {
	var out []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out = append(out, q.Expr)
		}
	}
	return out
}

var (
	// A metric is named before its selector: every query selects by label.
	selectorName = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\{`)
	pdpName      = regexp.MustCompile(`\bpdp_[a-z0-9_]+`)
	labelValues  = regexp.MustCompile(`label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)`)
)

// metricNames lists the metrics the expressions read; it fails on a pdp
// metric named without a selector, which it would miss.
func metricNames(t *testing.T, where string, exprs []string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, e := range exprs {
		found := map[string]bool{}
		for _, m := range selectorName.FindAllStringSubmatch(e, -1) {
			found[m[1]] = true
		}
		for _, m := range labelValues.FindAllStringSubmatch(e, -1) {
			found[m[1]] = true
		}
		for _, n := range pdpName.FindAllString(e, -1) {
			if !found[n] {
				t.Errorf("%s: %s names %s without a selector", where, e, n)
			}
		}
		for n := range found {
			names[n] = true
		}
	}
	return names
}

// TestMonitoringMetricsExist: every metric the dashboard (panels and
// variables) and the rendered alerts read is one a running pdp exports on
// /metrics, with every component on: decision log, operator API, shadow
// policies, Redis, a policy bundle carrying a plugin. A renamed metric
// fails here.
func TestMonitoringMetricsExist(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	d := readDashboard(t, raw)
	exprs := dashboardExprs(d)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			exprs = append(exprs, v.Definition)
		}
	}
	want := metricNames(t, dashboardFile, exprs)
	groups, _ := get(render(t, variantNamed(t, "all-on")).one(t, "PrometheusRule", "-pdp"), "spec", "groups").([]any)
	var ruleExprs []string
	for _, g := range groups {
		for _, r := range get(g, "rules").([]any) {
			e, _ := get(r, "expr").(string)
			ruleExprs = append(ruleExprs, e)
		}
	}
	for n := range metricNames(t, "the PrometheusRule", ruleExprs) {
		want[n] = true
	}
	// up is Prometheus's own, for every target.
	delete(want, "up")

	got := scrapeEverythingOn(t)
	var missing []string
	for n := range want {
		if !got[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard or the alerts read metrics pdp does not export: %s", strings.Join(missing, ", "))
	}
	// A sanity check of the check: the components are on.
	for _, n := range []string{"pdp_redis_up", "pdp_plugin_calls_total", "pdp_bundle_activated", "pdp_decision_log_healthy", "pdp_shadow_decisions_total"} {
		if !got[n] {
			t.Errorf("the scrape lacks %s: a component is off", n)
		}
	}
}

// scrapeEverythingOn starts pdp with every component that exports metrics
// and returns the names of the samples on its /metrics.
func scrapeEverythingOn(t *testing.T) map[string]bool {
	t.Helper()
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found (CI=true): run `make deps`")
		}
		t.Skip("redis-server not installed (make deps installs it; with CI=true this fails)")
	}
	dir := t.TempDir()
	policies, err := filepath.Abs(filepath.Join("..", "policies"))
	if err != nil {
		t.Fatal(err)
	}

	// A bundle with the policies and the device example plugin.
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", filepath.Join(plugins, "device_risk.wasm"), "./plugins/examples/device")
	build.Dir = ".."
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example plugin: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile(filepath.Join("..", "plugins", "examples", "device", "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(plugins, "device_risk.yaml"), manifest)
	bundle := filepath.Join(dir, "bundle.tar.gz")
	if out, err := pdpCommand(t, "bundle", "build", "--policies", policies, "--plugins", plugins,
		"--revision", "metrics-1", "-o", bundle).CombinedOutput(); err != nil {
		t.Fatalf("pdp bundle build: %v\n%s", err, out)
	}
	body, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer svc.Close()

	// Redis, for the fleet state.
	redisAddr := freeAddr(t)
	_, port, _ := strings.Cut(redisAddr, ":")
	rs := exec.Command(redis, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	rs.Dir = dir
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { rs.Process.Kill(); rs.Wait() }()
	waitTCP(t, redisAddr)

	writeFile(t, filepath.Join(dir, "tokens"), []byte("0123456789abcdef0123456789abcdef write tester\n"))
	writeFile(t, filepath.Join(dir, "pdp.yaml"), []byte("bundle:\n  url: "+svc.URL+"/bundle.tar.gz\n  allow_unsigned: true\n"))
	addr, health := freeAddr(t), freeAddr(t)
	var logs syncBuffer
	serve := pdpCommand(t, "serve", "--config", filepath.Join(dir, "pdp.yaml"), "--addr", addr, "--health-addr", health,
		"--admin-addr", freeAddr(t), "--admin-token-file", filepath.Join(dir, "tokens"),
		"--decision-log", filepath.Join(dir, "decisions.jsonl"), "--shadow-policies", policies,
		"--redis-addr", redisAddr, "--state", filepath.Join(dir, "state.db"))
	serve.Stdout, serve.Stderr = io.Discard, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { serve.Wait(); done <- serve.ProcessState.ExitCode() }()
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			serve.Process.Kill()
			t.Error("pdp serve did not stop")
		}
	}()
	waitReady(t, "http://"+health, done, &logs)

	// A decision, and a request refused (for pdp_request_errors_total).
	for _, body := range []string{
		`{"stage":"payment","uid":"u-1","device":{"id":"d-1","ip":"203.0.113.7"},"txn":{"id":"t-1","amount":10,"currency":"CNY"}}`,
		`{"stage":`,
	} {
		resp, err := http.Post("http://"+addr+"/v1/decide", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get("http://" + health + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(text), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n := line[:strings.IndexAny(line, "{ ")]
		names[n] = true
	}
	if !slices.ContainsFunc(strings.Split(string(text), "\n"), func(l string) bool {
		return strings.HasPrefix(l, `pdp_bundle_info{origin="download",revision="metrics-1"}`)
	}) {
		t.Errorf("the bundle is not the one served:\n%s", logs.String())
	}
	return names
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}
