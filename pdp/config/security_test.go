package config

import (
	"net/netip"
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
