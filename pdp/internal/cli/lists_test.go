package cli

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServeListRanges, against a running `pdp serve` with the operator
// API: an IP range blocked through the operator API (percent-encoded or
// unencoded) denies a payment from an address inside it, in any spelling,
// and not one from outside; a BIN entry denies the longer BINs it begins;
// values no request can carry are refused with 400 naming the field; and
// after a restart the range still denies.
func TestServeListRanges(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "policies", "riskpdp"))
	s := startSOP(t, dir)
	const why = `{"operator":"alice","reason":"botnet","ticket":"RISK-9"}`

	for _, bad := range []string{"block/ip/999.1.1.1", "block/ip/10.1.2.3%2F8", "allow/ip/0.0.0.0%2F0", "block/card_bin/4111111111111111"} {
		code, m := s.op("PUT", "/admin/v1/lists/"+bad, opToken, why)
		if e, _ := m["error"].(map[string]any); code != 400 || e["code"] != "invalid_value" || e["field"] != "value" {
			t.Fatalf("PUT %s: %d %v", bad, code, m)
		}
	}
	if code, m := s.op("PUT", "/admin/v1/lists/block/ip/198.51.100.0%2F24", opToken, why); code != 200 || m["value"] != "198.51.100.0/24" {
		t.Fatalf("block range: %d %v", code, m)
	}
	if code, m := s.op("PUT", "/admin/v1/lists/block/ip/2001:db8:bad::/48", opToken, why); code != 200 || m["value"] != "2001:db8:bad::/48" {
		t.Fatalf("block IPv6 range: %d %v", code, m)
	}
	if code, m := s.op("PUT", "/admin/v1/lists/block/card_bin/411111", opToken, why); code != 200 {
		t.Fatalf("block BIN: %d %v", code, m)
	}
	n := 0
	from := func(ip string) string { // a payment from ip, each by another account (velocity stays low)
		n++
		return strings.Replace(pay(fmt.Sprint("u-range-", n), "t-1", 50, ""), `"ip":"203.0.113.7"`, `"ip":"`+ip+`"`, 1)
	}
	check := func(when string) {
		t.Helper()
		for _, tt := range []struct {
			ip, reason string
		}{
			{"198.51.100.23", "threat_ip"},
			{"::ffff:198.51.100.24", "threat_ip"},
			{"2001:DB8:BAD::7", "threat_ip"},
			{"203.0.113.7", ""},
			{"198.51.101.1", ""},
		} {
			body := from(tt.ip)
			code, d := s.decide(body)
			if code != 200 {
				t.Fatalf("%s: %s: %d %v", when, tt.ip, code, d)
			}
			denied := d["outcome"] == "deny" && slices.Contains(reasons(d), tt.reason)
			if tt.reason != "" && !denied {
				t.Errorf("%s: from %s inside the range: %v", when, tt.ip, d)
			}
			if tt.reason == "" && (d["outcome"] == "deny" || slices.Contains(reasons(d), "threat_ip")) {
				t.Errorf("%s: from %s outside the ranges: %v", when, tt.ip, d)
			}
		}
		n++
		body := strings.Replace(pay(fmt.Sprint("u-bin-", n), "t-2", 50, ""), `"category":"digital"`, `"category":"digital","card_bin":"41111111"`, 1)
		if _, d := s.decide(body); d["outcome"] != "deny" || !slices.Contains(reasons(d), "blocklisted_card_bin") {
			t.Errorf("%s: BIN 41111111 under the blocked 411111: %v", when, d)
		}
	}
	check("live")
	if code := s.shutdown(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	s = &sop{sidecar: startSidecar(t, s.args...), admin: s.admin, args: s.args}
	check("after a restart")
	if code, m := s.op("DELETE", "/admin/v1/lists/block/ip/198.51.100.0/24", opToken, why); code != 200 {
		t.Fatalf("delete range: %d %v", code, m)
	}
	if _, d := s.decide(from("198.51.100.23")); slices.Contains(reasons(d), "threat_ip") {
		t.Fatalf("denied after the range was deleted: %v", d)
	}
}
