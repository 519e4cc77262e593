package decide

import (
	"time"

	"slices"
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
)

const cleanPayment = `{"stage":"payment","uid":"u-1","device":{"id":"d-1","ip_country":"CN"},"txn":{"id":"t-1","amount":50,"currency":"CNY","category":"daily_goods"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`

func TestClosedPluginFailureStepsUp(t *testing.T) {
	s := newTestService(t, Options{Plugins: pluginHost(t, plugin.FailClosed)})
	d := mustDecide(t, s, cleanPayment) // stage payment: the faulty plugin writes out of bounds
	if d.Outcome != pdp.StepUp || !slices.Contains(d.Reasons, ReasonPluginUnavailable) {
		t.Fatalf("closed-mode fault: %+v", d)
	}
}

func TestOpenPluginFailureIsIgnored(t *testing.T) {
	s := newTestService(t, Options{Plugins: pluginHost(t, plugin.FailOpen)})
	if d := mustDecide(t, s, cleanPayment); d.Outcome != pdp.Allow {
		t.Fatalf("open-mode fault changed the decision: %+v", d)
	}
}

func TestScoresReachThePolicy(t *testing.T) {
	// The model reads the hour of day, the account's age and the time since
	// the phone change: the decision time is fixed.
	at := func() time.Time { return time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC) }
	s := newTestService(t, Options{Velocity: newTracker(t), Plugins: pluginHost(t, "", "fraud_model", "device_risk", "habit_deviation"), Now: at})
	if d := mustDecide(t, s, cleanPayment); d.Outcome != pdp.Allow {
		t.Fatalf("a clean payment: %+v", d)
	}
	risky := `{"stage":"withdrawal","uid":"u-9","device":{"id":"d-new","ip":"203.0.113.9","ip_country":"NG","new":true},
		"txn":{"id":"t-2","amount":9000,"currency":"USD","category":"gift_card","purpose":"gift"},
		"account":{"home_country":"CN","created_at":"2026-11-20T00:00:00Z","recent_changes":[{"kind":"phone_change","at":"2026-11-21T23:00:00Z"}]}}`
	d := mustDecide(t, s, risky)
	if !slices.Contains(d.Reasons, "model_score_high") && !slices.Contains(d.Reasons, "model_score_very_high") {
		t.Fatalf("the model's score did not reach the policy: %+v", d)
	}
}
