package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/bundle"
)

// bundleService serves one bundle with an ETag, or fails with status.
type bundleService struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hits   int
}

func (b *bundleService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hits++
	if b.status != 0 {
		w.WriteHeader(b.status)
		return
	}
	sum := sha256.Sum256(b.body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	_, _ = w.Write(b.body)
}

func (b *bundleService) set(body []byte, status int) {
	b.mu.Lock()
	b.body, b.status = body, status
	b.mu.Unlock()
}

// signingKey writes a new RSA public key to dir and returns the private
// key (PEM) and the public key's file.
func signingKey(t *testing.T, dir, name string) ([]byte, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), file
}

// repoBundle builds the repository's policies/ into a bundle.
func repoBundle(t *testing.T, rev string, key []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := bundle.Build(&buf, bundle.BuildOptions{Policies: os.DirFS(filepath.Join("..", "..", "..", "policies")),
		Revision: rev, SigningKey: key}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// startUnready starts the sidecar without waiting for readiness.
func startUnready(t *testing.T, args ...string) *sidecar {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &sidecar{t: t, url: "http://" + addr, done: make(chan int, 1), stop: cancel, logs: &syncBuffer{}}
	go func() {
		s.done <- Run(ctx, append([]string{"serve", "--addr", addr, "--log-format", "text"}, args...), io.Discard, s.logs)
	}()
	t.Cleanup(func() { s.shutdown() })
	eventually(t, s.logs, func() bool {
		resp, err := http.Get(s.url + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return s
}

func TestServeFromBundleService(t *testing.T) {
	dir := t.TempDir()
	good, pubFile := signingKey(t, dir, "good")
	other, _ := signingKey(t, dir, "other")
	svc := &bundleService{status: http.StatusServiceUnavailable}
	svc.Server = httptest.NewServer(svc)
	defer svc.Close()

	cfgFile := filepath.Join(dir, "pdp.yaml")
	if err := os.WriteFile(cfgFile, []byte("bundle:\n  name: fleet\n  min_delay: 1s\n  max_delay: 1s\n  timeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	dlog := filepath.Join(dir, "decisions.log")
	args := []string{"--config", cfgFile, "--log-level", "debug", "--bundle-url", svc.URL + "/riskpdp.tar.gz", "--bundle-key", pubFile,
		"--state", filepath.Join(stateDir, "state.db"), "--decision-log", dlog}

	// The service is down and nothing is kept: not ready (the embedded
	// policies are not what the fleet runs).
	s := startUnready(t, args...)
	code, body := s.get("/health/ready")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "bundle") {
		t.Fatalf("ready before the first bundle: %d %s", code, body)
	}

	svc.set(repoBundle(t, "fleet-1", good), 0)
	eventually(t, s.logs, func() bool {
		c, _ := s.get("/health/ready")
		return c == http.StatusOK
	})
	_, d := s.decide(allowBody)
	if d["policy_revision"] != "fleet-1" {
		t.Fatalf("policy_revision = %v, want fleet-1", d["policy_revision"])
	}

	// A bundle signed with another key is refused: fleet-1 keeps
	// deciding, readiness holds and reports it, the metric counts it.
	svc.set(repoBundle(t, "evil-2", other), 0)
	eventually(t, s.logs, func() bool {
		_, m := s.get("/metrics")
		return strings.Contains(m, `pdp_bundle_failures_total{cause="verification"} `) &&
			!strings.Contains(m, `pdp_bundle_failures_total{cause="verification"} 0`)
	})
	code, body = s.get("/health/ready")
	if code != http.StatusOK || !strings.Contains(body, "degraded") || !strings.Contains(body, "verification") {
		t.Fatalf("ready after a refused bundle: %d %s", code, body)
	}
	if _, d := s.decide(allowBody); d["policy_revision"] != "fleet-1" {
		t.Fatalf("after a refused bundle: policy_revision = %v", d["policy_revision"])
	}
	_, m := s.get("/metrics")
	for _, want := range []string{`pdp_bundle_info{origin="download",revision="fleet-1"} 1`, "pdp_bundle_activated 1",
		"pdp_bundle_activations_total 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code := s.shutdown(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.logs)
	}

	// Every decision record names the bundle and its revision, OPA's way.
	recs, err := os.ReadFile(dlog)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range bytes.Split(bytes.TrimSpace(recs), []byte("\n")) {
		var r struct {
			Bundles map[string]struct {
				Revision string `json:"revision"`
			} `json:"bundles"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		if got := r.Bundles["fleet"].Revision; got != "fleet-1" {
			t.Fatalf("record bundles = %v, want fleet: fleet-1", r.Bundles)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d decision records, want 2", n)
	}

	// A restart while the service is down serves the kept bundle.
	svc.set(nil, http.StatusServiceUnavailable)
	s2 := startSidecar(t, args...)
	if _, d := s2.decide(allowBody); d["policy_revision"] != "fleet-1" {
		t.Fatalf("after restart: policy_revision = %v", d["policy_revision"])
	}
	if _, m := s2.get("/metrics"); !strings.Contains(m, `pdp_bundle_info{origin="persisted",revision="fleet-1"} 1`) {
		t.Fatal("metrics do not show the restored bundle")
	}
}

func TestServeBundleWithLocalPolicies(t *testing.T) {
	dir := t.TempDir()
	_, pubFile := signingKey(t, dir, "good")
	svc := &bundleService{status: http.StatusNotFound}
	svc.Server = httptest.NewServer(svc)
	defer svc.Close()
	// A local policy directory serves until the first bundle: ready, but
	// degraded.
	s := startSidecar(t, "--policies", filepath.Join("..", "..", "..", "policies"),
		"--bundle-url", svc.URL+"/b.tar.gz", "--bundle-key", pubFile)
	eventually(t, s.logs, func() bool {
		_, body := s.get("/health/ready")
		return strings.Contains(body, "http")
	})
	if _, d := s.decide(allowBody); d["policy_revision"] == "" {
		t.Fatal("no policy revision from the local policies")
	}
}

func TestServeBundleConfigErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bundle-url", "ftp://x/b"}, "bundle.url"},
		{[]string{"--bundle-url", "http://127.0.0.1:1/b"}, "bundle.key_file"},
		{[]string{"--bundle-url", "http://127.0.0.1:1/b", "--bundle-key", "/nonexistent.pem"}, "key_file"},
	} {
		var stderr syncBuffer
		args := append([]string{"serve", "--addr", freeAddr(t), "--state", filepath.Join(t.TempDir(), "s.db")}, c.args...)
		if code := Run(context.Background(), args, io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming %s", c.args, code, stderr.String(), c.want)
		}
	}
}

// eventually is waitFor with room for a loaded machine (policy compiles
// under the race detector take seconds).
func eventually(t *testing.T, logs fmt.Stringer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in 30s; sidecar logs:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBundleBuildCommand(t *testing.T) {
	dir := t.TempDir()
	priv, pubFile := signingKey(t, dir, "k")
	keyFile := filepath.Join(dir, "k.key")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.tar.gz")
	var stdout, stderr syncBuffer
	code := Run(context.Background(), []string{"bundle", "build", "--policies", filepath.Join("..", "..", "..", "policies"),
		"--revision", "cmd-7", "--signing-key", keyFile, "-o", out}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "revision cmd-7") {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	svc := &bundleService{body: raw}
	svc.Server = httptest.NewServer(svc)
	defer svc.Close()
	s := startSidecar(t, "--bundle-url", svc.URL+"/b.tar.gz", "--bundle-key", pubFile)
	if _, d := s.decide(allowBody); d["policy_revision"] != "cmd-7" {
		t.Fatalf("policy_revision = %v, want cmd-7", d["policy_revision"])
	}
}
