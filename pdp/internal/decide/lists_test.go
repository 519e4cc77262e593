package decide

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// TestListRangesAndBINPrefixesDecide: through the decision path, with a
// real state file, an IP range on the block list denies a request from
// any address inside it (in any spelling) and no other, and a BIN entry
// denies the longer BINs it begins.
func TestListRangesAndBINPrefixesDecide(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st, err := state.Open(state.Config{Path: filepath.Join(t.TempDir(), "state.db"), SweepInterval: -1,
		Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := newTestService(t, Options{State: st, Now: func() time.Time { return now }})
	op := pdp.AuditRecord{Actor: pdp.Actor{Operator: "alice", Reason: "test"}}
	for _, e := range []pdp.ListEntry{
		{List: pdp.ListBlock, Subject: pdp.SubjectIP, Value: "203.0.113.0/24", Reason: "botnet"},
		{List: pdp.ListBlock, Subject: pdp.SubjectIP, Value: "2001:db8:bad::/48", Reason: "abuse"},
		{List: pdp.ListAllow, Subject: pdp.SubjectIP, Value: "203.0.113.128/25", Reason: "office"},
		{List: pdp.ListBlock, Subject: pdp.SubjectCardBIN, Value: "411111", Reason: "skimming"},
	} {
		if err := st.PutListEntry(context.Background(), e, op); err != nil {
			t.Fatal(err)
		}
	}
	pay := func(ip, bin string) string {
		return fmt.Sprintf(`{"stage":"payment","uid":"u-1","device":{"id":"d-1","ip":%q,"ip_country":"CN"},
			"txn":{"id":"t-1","amount":20,"currency":"CNY","category":"digital","card_bin":%q},
			"account":{"home_country":"CN","created_at":"2022-01-01T00:00:00Z"}}`, ip, bin)
	}
	for _, tt := range []struct {
		ip, bin string
		reason  string // "" : must not be denied for a list
	}{
		{"203.0.113.9", "52000000", "threat_ip"},
		{"::ffff:203.0.113.77", "52000000", "threat_ip"},
		{"203.0.113.200", "52000000", "threat_ip"}, // on the allow list too: the block wins
		{"2001:db8:bad:1::1", "52000000", "threat_ip"},
		{"2001:DB8:BAD::2", "52000000", "threat_ip"},
		{"198.51.100.7", "52000000", ""},
		{"203.0.114.1", "52000000", ""},
		{"2001:db8:bae::1", "52000000", ""},
		{"198.51.100.7", "41111111", "blocklisted_card_bin"},
		{"198.51.100.7", "4111119", "blocklisted_card_bin"},
		{"198.51.100.7", "411111", "blocklisted_card_bin"},
		{"198.51.100.7", "411112", ""},
	} {
		d := mustDecide(t, s, pay(tt.ip, tt.bin))
		listed := slices.Contains(d.Reasons, "threat_ip") || slices.Contains(d.Reasons, "blocklisted_card_bin")
		switch {
		case tt.reason != "" && (d.Outcome != pdp.Deny || !slices.Contains(d.Reasons, tt.reason)):
			t.Errorf("ip %s bin %s: %s %v, want deny %s", tt.ip, tt.bin, d.Outcome, d.Reasons, tt.reason)
		case tt.reason == "" && listed:
			t.Errorf("ip %s bin %s: %s %v, listed", tt.ip, tt.bin, d.Outcome, d.Reasons)
		}
	}
}
