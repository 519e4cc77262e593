package bundle

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/download"

	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

const payment = `{"stage":"payment","uid":"u","txn":{"id":"t","amount":100,"currency":"CNY"}}`

// decide evaluates a payment and returns the revision that decided.
func decide(t *testing.T, e *policy.Engine) string {
	t.Helper()
	in, err := request.DecodeRequest([]byte(payment), time.Now(), request.Limits{MaxDepth: 16, MaxAmount: 1e12})
	if err != nil {
		t.Fatal(err)
	}
	_, rev, err := e.Evaluate(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func TestSignedBundleActivatesAndNotModified(t *testing.T) {
	good, _ := testKeys(t)
	e := newEngine(t)
	srv := newServer(t, build(t, policyFS(t, withLarge(t, "701")), nil, "rev-1", good.priv))
	l := newLoader(t, srv.url(), good.pubFile, "", e, nil)

	if err := l.Ready(); err == nil {
		t.Fatal("Ready before the first bundle: want an error")
	}
	if got := large(t, e); got != "5000" {
		t.Fatalf("before the bundle: large = %s, want 5000 (embedded)", got)
	}
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(); err != nil {
		t.Fatalf("Ready after activation: %v", err)
	}
	if got := large(t, e); got != "701" {
		t.Fatalf("after the bundle: large = %s, want 701", got)
	}
	if rev := decide(t, e); rev != "rev-1" {
		t.Fatalf("decision revision = %q, want rev-1 (the manifest's)", rev)
	}
	st := l.Status()
	if st.Revision != "rev-1" || st.Origin != "download" || st.Activations != 1 || st.ETag == "" {
		t.Fatalf("status = %+v", st)
	}

	// Unchanged: the poll sends the ETag and the service answers 304.
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	req, nm, inm := srv.counts()
	if req != 2 || nm != 1 || inm != st.ETag {
		t.Fatalf("requests %d, 304s %d, If-None-Match %q (want 2, 1, %q)", req, nm, inm, st.ETag)
	}
	if st2 := l.Status(); st2.Activations != 1 || st2.LastSuccess.Before(st.LastSuccess) {
		t.Fatalf("after 304: status = %+v", st2)
	}

	// A new revision replaces it.
	srv.set(build(t, policyFS(t, withLarge(t, "702")), nil, "rev-2", good.priv), 0)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, rev := large(t, e), decide(t, e); got != "702" || rev != "rev-2" {
		t.Fatalf("second bundle: large = %s, revision %s", got, rev)
	}
	// Only the serving generation stays on disk.
	gens, _ := os.ReadDir(filepath.Join(l.cfg.Dir, "gen"))
	if len(gens) != 1 {
		t.Fatalf("%d generation directories, want 1", len(gens))
	}
}

func TestRefusedBundlesKeepTheServingRevision(t *testing.T) {
	good, other := testKeys(t)
	e := newEngine(t)
	srv := newServer(t, build(t, policyFS(t, withLarge(t, "701")), nil, "rev-1", good.priv))
	l := newLoader(t, srv.url(), good.pubFile, "", e, nil)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}

	signed := build(t, policyFS(t, withLarge(t, "999")), nil, "rev-bad", good.priv)
	tampered := tamper(t, signed)
	broken := policyFS(t, nil)
	addFile(broken, "riskpdp/broken.rego", "package riskpdp\n\nallow_broken if undefined_function(1)\n")
	noSchema := policyFS(t, withLarge(t, "999")).(fstest.MapFS)
	delete(noSchema, "riskpdp/schemas/config/data.json")
	constant := policyFS(t, withLarge(t, "999"))
	addFile(constant, "riskpdp/constant.rego", "package riskpdp\n\ndeny contains \"odd\" if {\n\tinput.stage == \"withdrawal\"\n\tinput.txn.amount > to_number(\"1O00\")\n}\n")

	cases := []struct {
		name  string
		body  []byte
		cause Cause
		want  string
	}{
		{"other key", build(t, policyFS(t, withLarge(t, "999")), nil, "rev-bad", other.priv), CauseVerification, "verification"},
		{"unsigned", build(t, policyFS(t, withLarge(t, "999")), nil, "rev-bad", nil), CauseVerification, "signature"},
		{"tampered", tampered, CauseVerification, "digest mismatch"},
		{"does not compile", build(t, broken, nil, "rev-bad", good.priv), CauseActivation, "undefined_function"},
		{"data of the wrong type", build(t, policyFS(t, withLarge(t, `"999"`)), nil, "rev-bad", good.priv), CauseActivation,
			"data.riskpdp.config.thresholds.large: Invalid type"},
		{"data without its schema", build(t, noSchema, nil, "rev-bad", good.priv), CauseActivation, "data.riskpdp.schemas.config: missing"},
		{"constant call fails", build(t, constant, nil, "rev-bad", good.priv), CauseActivation, "riskpdp/constant.rego:5"},
		{"not a tarball", []byte("<html>maintenance</html>"), CauseInvalid, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.set(c.body, 0)
			err := l.Poll(t.Context())
			if err == nil {
				t.Fatal("Poll: want an error")
			}
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
			st := l.Status()
			if st.Failures[c.cause] == 0 {
				t.Fatalf("failures %v: none counted as %s (error %v)", st.Failures, c.cause, err)
			}
			var total uint64
			for _, n := range st.Failures {
				total += n
			}
			if total != uint64(i+1) {
				t.Fatalf("failures %v, want %d in all", st.Failures, i+1)
			}
			if st.Revision != "rev-1" || st.LastError == "" || !strings.HasPrefix(st.LastError, c.cause.String()) {
				t.Fatalf("status = %+v", st)
			}
			if got, rev := large(t, e), decide(t, e); got != "701" || rev != "rev-1" {
				t.Fatalf("after a refused bundle: large = %s, revision %s; want the old 701, rev-1", got, rev)
			}
			if err := l.Ready(); err != nil {
				t.Fatalf("Ready: %v (a refused update leaves the activated bundle serving)", err)
			}
		})
	}

	// The service fails: counted, nothing changes; then it heals.
	srv.set(nil, 503)
	if err := l.Poll(t.Context()); err == nil || l.Status().Failures[CauseHTTP] != 1 {
		t.Fatalf("503: err %v, failures %v", err, l.Status().Failures)
	}
	srv.set(signed, 0)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := l.Status(); st.Revision != "rev-bad" || st.LastError != "" {
		t.Fatalf("healed: status = %+v", st)
	}
}

// badDataBundle is a tarball whose data.json is not JSON (Build would
// refuse to sign it).
func badDataBundle(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := newTarGz(&buf)
	tw.add(t, "/data.json", []byte(`{"thresholds": [`))
	tw.add(t, "/.manifest", []byte(`{"revision":"rev-bad"}`))
	tw.close(t)
	return buf.Bytes()
}

func TestUnsignedNeedsAllowUnsigned(t *testing.T) {
	e := newEngine(t)
	_, err := New(Config{URL: "http://127.0.0.1:1/b.tar.gz", Dir: t.TempDir(), Engine: e})
	if err == nil || !strings.Contains(err.Error(), "key_file") {
		t.Fatalf("New without a key: %v", err)
	}
	srv := newServer(t, build(t, policyFS(t, withLarge(t, "703")), nil, "", nil))
	l := newLoader(t, srv.url(), "", "", e, func(c *Config) { c.AllowUnsigned = true })
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rev := l.Status().Revision; !strings.HasPrefix(rev, "sha256:") {
		t.Fatalf("revision without a manifest revision = %q, want a hash", rev)
	}
	srv.set(badDataBundle(t), 0)
	if err := l.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "data.json") {
		t.Fatalf("bad data.json: %v", err)
	}
	if st := l.Status(); st.Failures[CauseInvalid] != 1 || large(t, e) != "703" {
		t.Fatalf("bad data.json: status %+v, large %s", st, large(t, e))
	}
}

func TestRestartFromTheKeptBundle(t *testing.T) {
	good, _ := testKeys(t)
	dir := t.TempDir()
	srv := newServer(t, build(t, policyFS(t, withLarge(t, "701")), nil, "rev-1", good.priv))
	l := newLoader(t, srv.url(), good.pubFile, dir, newEngine(t), nil)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	etag := l.Status().ETag
	l.Close()

	// Restart while the service is down: the kept copy serves.
	srv.set(nil, 503)
	e := newEngine(t)
	l = newLoader(t, srv.url(), good.pubFile, dir, e, nil)
	if err := l.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(); err != nil {
		t.Fatalf("Ready after restore: %v", err)
	}
	if st := l.Status(); st.Revision != "rev-1" || st.Origin != "persisted" || st.ETag != etag {
		t.Fatalf("restored status = %+v", st)
	}
	if got, rev := large(t, e), decide(t, e); got != "701" || rev != "rev-1" {
		t.Fatalf("restored: large = %s, revision %s", got, rev)
	}
	if err := l.Poll(t.Context()); err == nil {
		t.Fatal("poll of a failing service: want an error")
	}
	if rev := decide(t, e); rev != "rev-1" {
		t.Fatalf("revision %s after a failed poll", rev)
	}

	// The service is back with the same bundle: the restored ETag makes it a 304.
	srv.set(build(t, policyFS(t, withLarge(t, "701")), nil, "rev-1", good.priv), 0)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, nm, inm := srv.counts(); nm != 1 || inm != etag {
		t.Fatalf("304s %d, If-None-Match %q; want 1, %q", nm, inm, etag)
	}

	// A kept bundle that no longer verifies (key rotated) is not restored.
	_, other := testKeys(t)
	e2 := newEngine(t)
	l2 := newLoader(t, srv.url(), other.pubFile, dir, e2, nil)
	if err := l2.Restore(t.Context()); err == nil {
		t.Fatal("restore with another key: want an error")
	}
	if l2.Ready() == nil || l2.Status().Failures[CauseVerification] != 1 || decide(t, e2) == "rev-1" {
		t.Fatalf("restore refused, status = %+v", l2.Status())
	}

	// Another URL: the kept bundle is not this one's.
	l3 := newLoader(t, srv.URL+"/other.tar.gz", good.pubFile, dir, newEngine(t), nil)
	if err := l3.Restore(t.Context()); err != nil || l3.Ready() == nil {
		t.Fatalf("restore for another URL: err %v, ready %v", err, l3.Ready())
	}
}

func TestBackgroundPollingAndToken(t *testing.T) {
	good, _ := testKeys(t)
	e := newEngine(t)
	srv := newServer(t, build(t, policyFS(t, withLarge(t, "701")), nil, "rev-1", good.priv))
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := newLoader(t, srv.url(), good.pubFile, "", e, func(c *Config) { c.TokenFile = tok })
	l.Start(t.Context())
	waitFor(t, func() bool { return l.Status().Revision == "rev-1" })
	srv.set(build(t, policyFS(t, withLarge(t, "702")), nil, "rev-2", good.priv), 0)
	l.Wake()
	waitFor(t, func() bool { return decide(t, e) == "rev-2" })
	srv.mu.Lock()
	auth := srv.auth
	srv.mu.Unlock()
	if auth != "Bearer s3cret" {
		t.Fatalf("Authorization = %q", auth)
	}
	l.Close()
	if err := l.Poll(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good, _ := testKeys(t)
	e := newEngine(t)
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"ftp", Config{URL: "ftp://x/b", KeyFile: good.pubFile, Dir: "d", Engine: e}, "url"},
		{"credentials", Config{URL: "https://u:p@x/b", KeyFile: good.pubFile, Dir: "d", Engine: e}, "credentials"},
		{"delays", Config{URL: "https://x/b", KeyFile: good.pubFile, Dir: "d", Engine: e, MinDelay: time.Minute, MaxDelay: time.Second}, "max_delay"},
		{"algorithm", Config{URL: "https://x/b", KeyFile: good.pubFile, Dir: "d", Engine: e, Algorithm: "none"}, "algorithm"},
		{"missing key", Config{URL: "https://x/b", KeyFile: "/nonexistent", Dir: "d", Engine: e}, "verification.key_file"},
		{"dir", Config{URL: "https://x/b", KeyFile: good.pubFile, Engine: e}, "dir"},
		{"not PEM", Config{URL: "https://x/b", KeyFile: os.Args[0], Dir: t.TempDir(), Engine: e}, "PEM"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error naming %q", err, c.want)
			}
		})
	}
}

func TestCauses(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Cause
	}{
		{download.HTTPError{StatusCode: 500}, CauseHTTP},
		{&url.Error{Op: "Get", URL: "x", Err: errors.New("refused")}, CauseNetwork},
		{errors.New("bundle signature verification failed: x"), CauseVerification},
		{errors.New("/data.json: digest mismatch (want: a, got: b)"), CauseVerification},
		{errors.New("scope mismatch"), CauseVerification},
		{errors.New("bundle load failed on /data.json: unexpected EOF"), CauseInvalid},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	if Cause(-1).String() != "unknown" || NumCauses.String() != "unknown" {
		t.Error("out-of-range causes")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
