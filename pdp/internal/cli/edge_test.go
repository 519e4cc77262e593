package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The decision listener's edge against a live `pdp serve` process: what a
// web page in a browser on the same machine could send it (a POST without
// Content-Type, a Host of its own under DNS rebinding), the Unix socket
// that no browser reaches, and the health listener the kubelet probes.

// edgeAnswer is an answer read off the wire.
type edgeAnswer struct {
	status int
	body   string
	code   string // the error code, if any
	field  string
	out    string // the outcome, if any
}

// rawOn sends one request on a new connection and reads the answer.
func rawOn(t *testing.T, network, addr, req string) edgeAnswer {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to %.80q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m struct {
		Outcome string `json:"outcome"`
		Error   struct{ Code, Field string }
	}
	json.Unmarshal(b, &m)
	return edgeAnswer{status: resp.StatusCode, body: string(b), code: m.Error.Code, field: m.Error.Field, out: m.Outcome}
}

// postReq is a POST of body with the given header lines ("Host: …\r\n").
func postReq(path, headers, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s", path, headers, len(body), body)
}

// TestServeRefusesPostsWithoutJSONContentType: a POST with no Content-Type
// (a browser's fetch with a Blob body: a "simple" request, no CORS
// preflight) or a form type gets 415 on every POST endpoint, never a
// decision; with application/json the same body is decided.
func TestServeRefusesPostsWithoutJSONContentType(t *testing.T) {
	addr := freeAddr(t)
	spawn(t, addr, "--state", filepath.Join(t.TempDir(), "state.db"))
	host := "Host: " + addr + "\r\n"
	for _, path := range []string{"/v1/decide", "/v1/events", "/v1/verifications", "/v1/data/riskpdp/decision", "/v1/data"} {
		for name, ctype := range map[string]string{"no Content-Type": "", "empty Content-Type": "Content-Type: \r\n",
			"text/plain": "Content-Type: text/plain;charset=UTF-8\r\n", "a form": "Content-Type: application/x-www-form-urlencoded\r\n"} {
			a := rawOn(t, "tcp", addr, postReq(path, host+ctype, freshUID(allowBody)))
			if a.status != 415 || a.code != "unsupported_media_type" || a.out != "" {
				t.Errorf("%s with %s: %d %s", path, name, a.status, a.body)
			}
		}
	}
	a := rawOn(t, "tcp", addr, postReq("/v1/decide", host+"Content-Type: application/json; charset=utf-8\r\n", freshUID(allowBody)))
	if a.status != 200 || a.out != "allow" {
		t.Errorf("application/json: %d %s", a.status, a.body)
	}
}

// TestServeChecksHost: the decision listener answers only to loopback
// names and server.allowed_hosts; a rebinding page's own name gets 421 on
// every path, decisions and health alike, and the refusals are counted.
func TestServeChecksHost(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pdp.yaml")
	if err := os.WriteFile(cfg, []byte("server:\n  allowed_hosts: [pdp.internal, 10.0.0.5]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p := spawn(t, addr, "--config", cfg, "--state", filepath.Join(dir, "state.db"))
	decide := func(host string) edgeAnswer {
		h := ""
		if host != "" {
			h = "Host: " + host + "\r\n"
		}
		return rawOn(t, "tcp", addr, postReq("/v1/decide", h+"Content-Type: application/json\r\n", freshUID(allowBody)))
	}
	refused := []string{"evil.example:" + port, "evil.example", "EVIL.EXAMPLE.:" + port, "localhost.evil.example:" + port,
		"evil.localhost:" + port, "0.0.0.0:" + port, "10.0.0.6:" + port, "[::2]:" + port, "pdp.internal.evil.example"}
	for _, host := range refused {
		if a := decide(host); a.status != 421 || a.code != "host_not_allowed" || a.field != "host" || a.out != "" {
			t.Errorf("Host %s: %d %s", host, a.status, a.body)
		}
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST.:" + port, "localhost", "127.0.0.1:" + port, "127.0.0.2",
		"[::1]:" + port, "pdp.internal:" + port, "PDP.Internal.", "10.0.0.5:" + port} {
		if a := decide(host); a.status != 200 || a.out != "allow" {
			t.Errorf("Host %s: %d %s", host, a.status, a.body)
		}
	}
	for _, path := range []string{"/health/ready", "/metrics"} {
		a := rawOn(t, "tcp", addr, "GET "+path+" HTTP/1.1\r\nHost: evil.example:"+port+"\r\nConnection: close\r\n\r\n")
		if a.status != 421 {
			t.Errorf("GET %s as evil.example: %d %.100s", path, a.status, a.body)
		}
	}
	a := rawOn(t, "tcp", addr, fmt.Sprintf("POST /v1/decide HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(allowBody), freshUID(allowBody)))
	if a.status != 400 || a.code != "missing_field" || a.field != "host" {
		t.Errorf("HTTP/1.0 without Host: %d %s", a.status, a.body)
	}
	_, metrics := (&sidecar{t: t, url: p.url}).get("/metrics")
	want := fmt.Sprintf(`pdp_request_errors_total{code="host_not_allowed",endpoint="transport"} %d`, len(refused)+2)
	if !strings.Contains(metrics, want+"\n") {
		t.Errorf("metrics lack %s", want)
	}
}

// TestServeHealthListener: with --health-addr, the kubelet's probes and
// Prometheus reach health and metrics with the pod IP as Host, and the
// decision API is not there (404); the decision listener keeps its Host
// check.
func TestServeHealthListener(t *testing.T) {
	addr, health := freeAddr(t), freeAddr(t)
	spawn(t, addr, "--health-addr", health, "--state", filepath.Join(t.TempDir(), "state.db"))
	podIP := "Host: 10.244.1.7:9190\r\n"
	for _, path := range []string{"/health/live", "/health/ready", "/metrics"} {
		if a := rawOn(t, "tcp", health, "GET "+path+" HTTP/1.1\r\n"+podIP+"Connection: close\r\n\r\n"); a.status != 200 {
			t.Errorf("health listener GET %s: %d %.100s", path, a.status, a.body)
		}
	}
	for _, path := range []string{"/v1/decide", "/v1/events", "/v1/verifications", "/v1/data/riskpdp/decision"} {
		a := rawOn(t, "tcp", health, postReq(path, "Host: localhost\r\nContent-Type: application/json\r\n", freshUID(allowBody)))
		if a.status != 404 || a.code != "not_found" || a.out != "" {
			t.Errorf("health listener POST %s: %d %s", path, a.status, a.body)
		}
	}
	if a := rawOn(t, "tcp", addr, "GET /health/ready HTTP/1.1\r\n"+podIP+"Connection: close\r\n\r\n"); a.status != 421 {
		t.Errorf("decision listener with the pod IP as Host: %d %s", a.status, a.body)
	}
}

// TestServeUnixSocketSkipsHostCheck: on a Unix socket (no browser can
// connect to one) the Host is not checked; the Content-Type still is.
func TestServeUnixSocketSkipsHostCheck(t *testing.T) {
	dir, err := os.MkdirTemp("", "pdp-sock") // short: a socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock, health := filepath.Join(dir, "pdp.sock"), freeAddr(t)
	spawnReadyAt(t, "http://"+health, "--addr", "unix:"+sock, "--health-addr", health, "--state", filepath.Join(dir, "state.db"))
	a := rawOn(t, "unix", sock, postReq("/v1/decide", "Host: evil.example\r\nContent-Type: application/json\r\n", freshUID(allowBody)))
	if a.status != 200 || a.out != "allow" {
		t.Errorf("Unix socket, Host evil.example: %d %s", a.status, a.body)
	}
	a = rawOn(t, "unix", sock, postReq("/v1/decide", "Host: localhost\r\n", freshUID(allowBody)))
	if a.status != 415 {
		t.Errorf("Unix socket without Content-Type: %d %s", a.status, a.body)
	}
}
