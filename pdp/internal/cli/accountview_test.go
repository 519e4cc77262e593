package cli

import (
	"fmt"
	"path/filepath"
	"testing"
)

// The account view shows the velocity the decisions count for the account:
// its attempts (retries included), its payment methods and instruments in
// the hour. They read 0 while the decisions saw 6 attempts and 2
// instruments.
func TestAccountViewVelocity(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "policies", "riskpdp"))
	s := startSOP(t, dir)
	for i, m := range []string{"wechat", "wechat", "card", "card", "card", "card"} {
		txn := fmt.Sprintf("t-%d", i/2) // each purchase decided twice: a retry
		if code, d := s.decide(fmt.Sprintf(`{"stage":"payment","uid":"u-av","device":{"id":"d-av","ip":"203.0.113.7","ip_country":"CN"},
			"txn":{"id":%q,"amount":20,"currency":"CNY","category":"digital","payment_method":%q,"instrument":"i-%s"},"account":{"home_country":"CN","created_at":"2022-01-01T00:00:00Z"}}`, txn, m, m)); code != 200 {
			t.Fatalf("decide: %d %v", code, d)
		}
	}
	code, v := s.op("GET", "/admin/v1/accounts/u-av", opToken, "")
	if code != 200 {
		t.Fatalf("account view: %d %v", code, v)
	}
	vel, _ := v["velocity"].(map[string]any)
	uid, _ := vel["uid"].(map[string]any)
	for k, want := range map[string]float64{"attempts_1m": 6, "attempts_1h": 6, "uid_methods_1h": 2, "uid_instruments_1h": 2} {
		if vel[k] != want {
			t.Errorf("velocity.%s = %v, want %v (%v)", k, vel[k], want, vel)
		}
	}
	if uid["count_1m"] != 3.0 {
		t.Errorf("velocity.uid.count_1m = %v, want 3 purchases", uid["count_1m"])
	}
}
