package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
)

// hostServer is a Server without a decision service (health and errors
// only) whose configuration allows a few names besides the loopback ones.
func hostServer(t *testing.T, allowed ...string) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Server.AllowedHosts = allowed
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return New(Options{Config: cfg, Metrics: metrics.New(), Logger: slog.New(slog.DiscardHandler)})
}

// get runs one request through the decision listener's handler.
func (s *Server) getWithHost(uri, host string) (int, string, string) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(uri)
	if host != "" {
		ctx.Request.Header.SetHost(host)
	}
	s.handle(&ctx)
	var e struct{ Error pdp.Error }
	json.Unmarshal(ctx.Response.Body(), &e)
	return ctx.Response.StatusCode(), string(e.Error.Code), e.Error.Field
}

var allowedConfig = []string{"pdp.internal", "PDP-2.Example.", "10.0.0.5", "fd00::1", "[fd00::2]"}

func TestHostCheckAllowsLoopbackAndConfiguredHosts(t *testing.T) {
	s := hostServer(t, allowedConfig...)
	for _, host := range []string{
		"localhost", "localhost:9191", "LOCALHOST", "LocalHost.:9191", "localhost.", "localhost:",
		"127.0.0.1", "127.0.0.1:9191", "127.1.2.3:80", "127.255.255.255", "127.0.0.1.",
		"[::1]", "[::1]:9191", "[0:0:0:0:0:0:0:1]:9191", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]:9191",
		"pdp.internal", "PDP.Internal:9191", "pdp.internal.", "pdp-2.example", "pdp-2.example.:80",
		"10.0.0.5", "10.0.0.5:9191", "[fd00::1]:9191", "[fd00:0::2]", "[::ffff:10.0.0.5]",
	} {
		if code, ecode, _ := s.getWithHost("/health/live", host); code != 200 {
			t.Errorf("Host %q: %d %s, want 200", host, code, ecode)
		}
	}
}

func TestHostCheckRefusesOtherHosts(t *testing.T) {
	s := hostServer(t, allowedConfig...)
	for _, host := range []string{
		"evil.example", "evil.example:9191", "EVIL.example.", "localhost.evil.example", "evil.localhost",
		"a.localhost:9191", "localhost..", "0.0.0.0:9191", "0.0.0.0", "10.0.0.1", "128.0.0.1", "126.255.255.255",
		"127.0.0.1.nip.io", "127.0.0.01", "127.1", "2130706433", "0x7f000001", "[::2]", "[fe80::1]", "[::]",
		"[::ffff:10.0.0.6]", "internal", "pdp.internal.evil.example", "xn--localhost",
	} {
		if code, ecode, field := s.getWithHost("/health/live", host); code != 421 || ecode != "host_not_allowed" || field != "host" {
			t.Errorf("Host %q: %d %s %s, want 421 host_not_allowed host", host, code, ecode, field)
		}
	}
}

func TestHostCheckRefusesMalformedHosts(t *testing.T) {
	s := hostServer(t)
	for _, host := range []string{
		"local host", "localhost:abc", "localhost:1234567", "localhost:80:80", "[::1", "::1", "[::1]x", "[::1]:",
		"[::1%25lo]", "[127.0.0.1]", "[localhost]", "evil@localhost", "localhost/", "localhost?", "ex%61mple", ".", ":9191",
		"l\u043ecalhost", "localhost\u200b", strings.Repeat("a", 300),
	} {
		code, ecode, field := s.getWithHost("/health/live", host)
		if code != 400 || ecode != "invalid_value" || field != "host" {
			// "[::1]:" has an empty port, which RFC 3986 allows.
			if host == "[::1]:" && code == 200 {
				continue
			}
			t.Errorf("Host %q: %d %s %s, want 400 invalid_value host", host, code, ecode, field)
		}
	}
	if code, ecode, field := s.getWithHost("/health/live", ""); code != 400 || ecode != "missing_field" || field != "host" {
		t.Errorf("no Host: %d %s %s, want 400 missing_field host", code, ecode, field)
	}
	// An absolute-form target names the host too.
	if code, ecode, _ := s.getWithHost("http://evil.example/health/live", "localhost"); code != 421 || ecode != "host_not_allowed" {
		t.Errorf("absolute-form target to evil.example: %d %s", code, ecode)
	}
	if code, _, _ := s.getWithHost("http://localhost:9191/health/live", "localhost"); code != 200 {
		t.Errorf("absolute-form target to localhost: %d", code)
	}
}

// TestHostCheckAllocatesNothing: the common Host values cost no allocation
// on the decision path.
func TestHostCheckAllocatesNothing(t *testing.T) {
	p := newHostPolicy([]string{"pdp.internal"})
	for _, host := range []string{"127.0.0.1:9191", "localhost:9191", "[::1]:9191", "PDP.internal:9191"} {
		h := []byte(host)
		if n := testing.AllocsPerRun(100, func() {
			if p.check(h) != nil {
				t.Fatal(host)
			}
		}); n != 0 {
			t.Errorf("Host %q: %v allocations", host, n)
		}
	}
}

// rawRequest sends req on a new connection to network/addr and reads one
// answer.
func rawRequest(t *testing.T, network, addr, req string) (int, string) {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, req)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serveOn serves s's decision listener (or its health listener) on ln.
func serveOn(t *testing.T, s *Server, ln net.Listener, health bool) {
	t.Helper()
	go func() {
		if health {
			s.ServeHealth(ln)
		} else {
			s.Serve(ln)
		}
	}()
	t.Cleanup(func() { s.Shutdown(t.Context()) })
}

// TestHostCheckNotOnUnixSocket: over a Unix socket (no browser can
// connect to one) any Host is served; over TCP the same request is 421.
func TestHostCheckNotOnUnixSocket(t *testing.T) {
	s := hostServer(t)
	sock := filepath.Join(t.TempDir(), "pdp.sock")
	uln, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	tln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, s, uln, false)
	go s.srv.Serve(tln)
	req := "GET /health/live HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
	if code, body := rawRequest(t, "unix", sock, req); code != 200 {
		t.Errorf("Unix socket, Host evil.example: %d %s", code, body)
	}
	if code, body := rawRequest(t, "tcp", tln.Addr().String(), req); code != 421 {
		t.Errorf("TCP, Host evil.example: %d %s", code, body)
	}
}

// TestHealthListenerServesOnlyHealthAndMetrics: the health listener
// answers /health/live, /health/ready and /metrics whatever the Host (the
// kubelet probes the pod IP), and nothing else: the decision API is not
// on it.
func TestHealthListenerServesOnlyHealthAndMetrics(t *testing.T) {
	svc, m, cfg := newService(t)
	s := New(Options{Config: cfg, Service: svc, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, s, ln, true)
	addr := ln.Addr().String()
	get := func(path, host string) (int, string) {
		return rawRequest(t, "tcp", addr, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host))
	}
	for _, host := range []string{"10.244.1.7:9190", "evil.example", "localhost"} {
		if code, body := get("/health/live", host); code != 200 || !strings.Contains(body, "ok") {
			t.Errorf("live, Host %s: %d %s", host, code, body)
		}
		if code, body := get("/health/ready", host); code != 200 || !strings.Contains(body, "ready") {
			t.Errorf("ready, Host %s: %d %s", host, code, body)
		}
		if code, body := get("/metrics", host); code != 200 || !strings.Contains(body, "pdp_decisions_total") {
			t.Errorf("metrics, Host %s: %d %.100s", host, code, body)
		}
	}
	body := `{"stage":"login","uid":"u-1"}`
	for _, path := range []string{"/v1/decide", "/v1/events", "/v1/verifications", "/v1/data/riskpdp/decision", "/v1/data"} {
		code, answer := rawRequest(t, "tcp", addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", path, len(body), body))
		if code != 404 || !strings.Contains(answer, "not_found") {
			t.Errorf("POST %s on the health listener: %d %s", path, code, answer)
		}
	}
	if code, _ := get("/v1/data/riskpdp/decision", "localhost"); code != 404 {
		t.Errorf("GET /v1/data on the health listener: %d", code)
	}
	if code, _ := rawRequest(t, "tcp", addr, "POST /health/ready HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); code != 405 {
		t.Errorf("POST /health/ready: %d, want 405", code)
	}
}

// TestHostMissingOverTheWire: over a connection, an HTTP/1.1 request
// without Host (refused by fasthttp before the handler) and an HTTP/1.0
// one (refused by the Host check) both answer 400 missing_field host.
func TestHostMissingOverTheWire(t *testing.T) {
	s := hostServer(t)
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, s, ln, false)
	for _, req := range []string{"GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n", "GET /health/live HTTP/1.0\r\n\r\n"} {
		code, body := rawRequest(t, "tcp", ln.Addr().String(), req)
		var e struct{ Error pdp.Error }
		json.Unmarshal([]byte(body), &e)
		if code != 400 || e.Error.Code != pdp.CodeMissingField || e.Error.Field != "host" {
			t.Errorf("%q: %d %s", req, code, body)
		}
	}
}

// BenchmarkHostCheck is the Host check every decision request pays.
func BenchmarkHostCheck(b *testing.B) {
	p := newHostPolicy([]string{"pdp.internal"})
	for _, host := range []string{"127.0.0.1:9191", "localhost:9191", "[::1]:9191", "pdp.internal:9191"} {
		b.Run(host, func(b *testing.B) {
			h := []byte(host)
			b.ReportAllocs()
			for b.Loop() {
				if p.check(h) != nil {
					b.Fatal(host)
				}
			}
		})
	}
}

// FuzzHostCheck compares the Host check with a reference built on the
// standard library (netip, strings): a Host is allowed exactly when it is
// HOST[:DIGITS] with HOST localhost, a loopback or configured address, or a
// configured name (ASCII case-insensitive, one trailing dot ignored).
func FuzzHostCheck(f *testing.F) {
	for _, s := range []string{"localhost:9191", "LOCALHOST.", "127.0.0.1:80", "[::1]:9191", "[::ffff:127.0.0.1]", "evil.example:9191",
		"pdp.internal", "10.0.0.5", "[fd00::1]", "127.0.0.01", "[::1%25lo]", "a@localhost", "localhost:", "[::1]:", "0x7f.1", ""} {
		f.Add(s)
	}
	allowed := []string{"pdp.internal", "10.0.0.5", "fd00::1"}
	p := newHostPolicy(allowed)
	f.Fuzz(func(t *testing.T, host string) {
		e := p.check([]byte(host))
		if e != nil && e.Field != "host" {
			t.Fatalf("%q: error without the host field: %v", host, e)
		}
		if want := referenceAllowed(host, allowed); (e == nil) != want {
			t.Fatalf("%q: check %v, reference allows %v", host, e, want)
		}
	})
}

func referenceAllowed(host string, allowed []string) bool {
	var name, rest string
	literal := false
	switch {
	case host == "":
		return false
	case host[0] == '[':
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		name, rest, literal = host[1:end], host[end+1:], true
	default:
		name, rest = host, ""
		if i := strings.IndexByte(host, ':'); i >= 0 {
			name, rest = host[:i], host[i:]
		}
	}
	if rest != "" {
		if rest[0] != ':' || len(rest) > 6 || strings.Trim(rest[1:], "0123456789") != "" {
			return false
		}
	}
	ipAllowed := func(ip netip.Addr) bool {
		ip = ip.Unmap()
		if ip.IsLoopback() {
			return true
		}
		for _, a := range allowed {
			if b, err := netip.ParseAddr(a); err == nil && b.Unmap() == ip {
				return true
			}
		}
		return false
	}
	if literal {
		ip, err := netip.ParseAddr(name)
		return err == nil && ip.Is6() && ip.Zone() == "" && ipAllowed(ip)
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 254 || strings.Trim(strings.ToLower(name), "abcdefghijklmnopqrstuvwxyz0123456789-._") != "" {
		return false
	}
	name = strings.ToLower(name)
	if ip, err := netip.ParseAddr(name); err == nil && ip.Is4() {
		return ipAllowed(ip)
	}
	return name == "localhost" || slices.Contains(allowed, name)
}
