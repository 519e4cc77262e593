package bundle

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/policies"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testKey is an RSA key pair generated once per test binary.
type testKey struct {
	priv    []byte // PEM
	pubFile string
}

var testKeyPair struct {
	sync.Once
	good, other testKey
}

func genKey(tb testing.TB, dir string) testKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "pub*.pem")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PUBLIC KEY", Bytes: pub}); err != nil {
		tb.Fatal(err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	return testKey{priv: priv, pubFile: f.Name()}
}

// testKeys returns the key bundles are signed with and another one.
func testKeys(tb testing.TB) (good, other testKey) {
	testKeyPair.Do(func() {
		dir, err := os.MkdirTemp("", "riskpdp-bundle-keys")
		if err != nil {
			tb.Fatal(err)
		}
		testKeyPair.good, testKeyPair.other = genKey(tb, dir), genKey(tb, dir)
	})
	return testKeyPair.good, testKeyPair.other
}

// policyFS is the repository's policies with config/data.json replaced by
// data (nil: unchanged).
func policyFS(tb testing.TB, data []byte) fs.FS {
	tb.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.FS, p)
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if data != nil {
		m["riskpdp/config/data.json"] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return m
}

// withLarge returns the policies' data with thresholds.large set to v.
func withLarge(tb testing.TB, v string) []byte {
	b, err := fs.ReadFile(policies.FS, "riskpdp/config/data.json")
	if err != nil {
		tb.Fatal(err)
	}
	old := []byte(`"large": 5000,`)
	if bytes.Count(b, old) != 1 {
		tb.Fatal("data.json: the large threshold not found")
	}
	return bytes.Replace(b, old, []byte(`"large": `+v+`,`), 1)
}

// build returns a bundle of fsys (and plugins) with revision rev, signed
// with key (nil: unsigned).
func build(tb testing.TB, fsys, plugins fs.FS, rev string, key []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := Build(&buf, BuildOptions{Policies: fsys, Plugins: plugins, Revision: rev, SigningKey: key}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// server is a bundle service: it serves one archive with a strong ETag
// and answers 304 to a matching If-None-Match.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	status   int // != 0: answer with this status instead
	requests int
	notMod   int
	lastINM  string
	auth     string
}

func newServer(tb testing.TB, body []byte) *server {
	s := &server{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.lastINM = r.Header.Get("If-None-Match")
	s.auth = r.Header.Get("Authorization")
	if s.status != 0 {
		http.Error(w, "unavailable", s.status)
		return
	}
	sum := sha256.Sum256(s.body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if s.lastINM == etag {
		s.notMod++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(s.body)
}

func (s *server) set(body []byte, status int) {
	s.mu.Lock()
	s.body, s.status = body, status
	s.mu.Unlock()
}

func (s *server) counts() (requests, notModified int, inm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.notMod, s.lastINM
}

func (s *server) url() string { return s.URL + "/bundles/riskpdp.tar.gz" }

// newEngine serves the embedded reference policies.
func newEngine(tb testing.TB) *policy.Engine {
	tb.Helper()
	e, err := policy.New(policy.Options{Logger: quiet, Source: policy.Source{FS: policies.FS, Label: "embedded"},
		Package: "riskpdp", EvalTimeout: time.Second, Limits: request.Limits{MaxDepth: 16, MaxAmount: 1e12}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}

// large is the large threshold the engine serves.
func large(tb testing.TB, e *policy.Engine) string {
	tb.Helper()
	b, ok, err := e.EvalData(tb.Context(), "riskpdp/config/thresholds/large", nil, time.Now())
	if err != nil || !ok {
		tb.Fatalf("EvalData: %s %v %v", b, ok, err)
	}
	return string(b)
}

// newLoader is a loader for url verifying with key, keeping its files in
// dir ("" : a new temporary directory).
func newLoader(tb testing.TB, url, keyFile, dir string, e *policy.Engine, mod func(*Config)) *Loader {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	cfg := Config{URL: url, KeyFile: keyFile, Dir: filepath.Join(dir, "bundle"), Engine: e, Logger: quiet,
		MinDelay: 20 * time.Millisecond, MaxDelay: 40 * time.Millisecond, Timeout: 10 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(l.Close)
	return l
}
