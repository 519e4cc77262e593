package config

import (
	"net/netip"
	"strings"
	"testing"
)

// The README's Security claims on configuration: both listeners default to
// loopback, and no configuration may make a failed decision an allow.
func TestDefaultListenersAreLoopback(t *testing.T) {
	c := Default()
	for name, addr := range map[string]string{"addr": c.Addr, "admin.addr": c.Admin.Addr} {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("%s default %q is not a loopback address", name, addr)
		}
	}
	c.Policies.Fallback = "allow"
	if err := c.Validate(); err == nil {
		t.Error("fallback allow accepted")
	}
}

// TestAllowedHostsRefuseWhatIsNotAHost: server.allowed_hosts holds host
// names and IP addresses only; a port, scheme, path or wildcard is a
// configuration error, not a silently dead entry (or a hole).
func TestAllowedHostsRefuseWhatIsNotAHost(t *testing.T) {
	for _, h := range []string{"", "*", "*.example", "evil.example:9191", "http://pdp.internal", "pdp/x", "[::1",
		"[localhost]", "fe80::1%eth0", "a..b", ".", "..", "pdp internal", "pdp.internal/", strings.Repeat("a", 64) + ".example",
		strings.Repeat("a.", 127) + "a", "пдп.internal", "127.0.0.1:80", "[::1]:80"} {
		c := Default()
		c.Server.AllowedHosts = []string{"pdp.internal", h}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "server.allowed_hosts[1]") {
			t.Errorf("%q: %v", h, err)
		}
	}
	for _, h := range []string{"pdp.internal", "PDP.Internal.", "10.0.0.5", "fd00::1", "[fd00::2]", "my_host", "localhost"} {
		c := Default()
		c.Server.AllowedHosts = []string{h}
		if err := c.Validate(); err != nil {
			t.Errorf("%q refused: %v", h, err)
		}
	}
	if name, _, _ := ParseAllowedHost("PDP.Internal."); name != "pdp.internal" {
		t.Errorf("not normalized: %q", name)
	}
}

// TestHealthAddrValidated: the health listener is off by default, and when
// set must be a listener address other than the decision listener's.
func TestHealthAddrValidated(t *testing.T) {
	if Default().HealthAddr != "" {
		t.Error("a health listener by default")
	}
	for addr, ok := range map[string]bool{"0.0.0.0:9190": true, "unix:/run/pdp/health.sock": true, "127.0.0.1:9191": false,
		"9190": false, "unix:": false} {
		c := Default()
		c.HealthAddr = addr
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("health_addr %q: %v", addr, err)
		}
	}
}
