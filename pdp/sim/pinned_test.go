package sim

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
)

// The reference policy's figures on pinnedConfig, as measured. A policy
// change that moves a figure by more than its margin fails
// TestReferencePolicyFiguresArePinned, whichever way it moves: worse
// (less fraud caught, more friction) is a regression; better means these
// pins are stale and would let a later regression back to the old level
// pass.
//
// To re-pin after an intended policy change, run
//
//	go test ./pdp/sim/ -run TestReferencePolicyFiguresArePinned -v
//
// and replace the table below by the one the test prints (each line is
// one figure: scope, figure, value).
var pinned = []pin{
	{"overall", "fraud.stepped_up_or_denied_share", 0.960168},
	{"overall", "fraud.denied_share", 0.716981},
	{"overall", "fraud.amount_stopped_share", 0.941097},
	{"overall", "legit.step_ups_per_1000", 5.1204},
	{"overall", "legit.denied_share", 0.000815},
	{"overall", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"daily_payment", "legit.step_ups_per_1000", 0.7636},
	{"daily_payment", "legit.denied_share", 0},
	{"daily_payment", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"big_purchase", "legit.step_ups_per_1000", 222.2222},
	{"big_purchase", "legit.denied_share", 0},
	{"big_purchase", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"promotion_burst", "legit.step_ups_per_1000", 0},
	{"promotion_burst", "legit.denied_share", 0},
	{"promotion_burst", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"promotion_bulk_buyer", "legit.step_ups_per_1000", 0},
	{"promotion_bulk_buyer", "legit.denied_share", 0.2},
	{"promotion_bulk_buyer", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"salary_withdrawal", "legit.step_ups_per_1000", 180.5556},
	{"salary_withdrawal", "legit.denied_share", 0},
	{"salary_withdrawal", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"repayment", "legit.step_ups_per_1000", 0},
	{"repayment", "legit.denied_share", 0},
	{"repayment", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"travel_abroad", "legit.step_ups_per_1000", 30.303},
	{"travel_abroad", "legit.denied_share", 0},
	{"travel_abroad", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"device_change", "legit.step_ups_per_1000", 0},
	{"device_change", "legit.denied_share", 0},
	{"device_change", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"password_reset", "legit.step_ups_per_1000", 200},
	{"password_reset", "legit.denied_share", 0},
	{"password_reset", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"refund", "legit.step_ups_per_1000", 0},
	{"refund", "legit.denied_share", 0},
	{"refund", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"new_payee", "legit.step_ups_per_1000", 400},
	{"new_payee", "legit.denied_share", 0.2},
	{"new_payee", "legit.accounts_frozen_not_abusing_velocity", 0},
	{"account_takeover", "fraud.stepped_up_or_denied_share", 1},
	{"account_takeover", "fraud.denied_share", 0.952381},
	{"account_takeover", "fraud.amount_stopped_share", 1},
	{"scam_with_statement", "fraud.stepped_up_or_denied_share", 1},
	{"scam_with_statement", "fraud.denied_share", 0.789474},
	{"scam_with_statement", "fraud.amount_stopped_share", 0.925506},
	{"scam_silent", "fraud.stepped_up_or_denied_share", 1},
	{"scam_silent", "fraud.denied_share", 0.470588},
	{"scam_silent", "fraud.amount_stopped_share", 0.885344},
	{"card_testing", "fraud.stepped_up_or_denied_share", 1},
	{"card_testing", "fraud.denied_share", 0.7625},
	{"card_testing", "fraud.amount_stopped_share", 1},
	{"shared_device", "fraud.stepped_up_or_denied_share", 1},
	{"shared_device", "fraud.denied_share", 0.782609},
	{"shared_device", "fraud.amount_stopped_share", 0.984637},
	{"reshipping", "fraud.stepped_up_or_denied_share", 1},
	{"reshipping", "fraud.denied_share", 0.473684},
	{"reshipping", "fraud.amount_stopped_share", 1},
	{"method_switching", "fraud.stepped_up_or_denied_share", 0.724638},
	{"method_switching", "fraud.denied_share", 0.42029},
	{"method_switching", "fraud.amount_stopped_share", 0.694576},
	{"mule_cashout", "fraud.stepped_up_or_denied_share", 1},
	{"mule_cashout", "fraud.denied_share", 0.859649},
	{"mule_cashout", "fraud.amount_stopped_share", 0.951937},
}

// pinnedConfig is the run the pins are for: smaller than the CLI's
// default run (10 000 customers, 7 days, some 200 000 decisions) so that `make test` stays quick under -race, with more fraud per
// scenario (FraudMin 12) so that each scenario's figures rest on dozens
// of transactions. Plugins are off, as in `pdp serve` by default: their
// time budgets run on the wall clock, which a test on a busy machine must
// not depend on.
var pinnedConfig = Config{Seed: 1, Accounts: 1000, Days: 3, FraudMin: 12}

type pin struct {
	scope, figure string
	value         float64
}

// figure is one measured figure: higher is worse for friction, lower for
// catch; n is the population it is a share of (for its margin).
type figure struct {
	pin
	higherIsWorse bool
	n             int
}

// measure lists the pinned figures of a report, overall then per
// scenario, in a fixed order.
func measure(rep *Report) []figure {
	var out []figure
	fraud := func(scope string, f *FraudFigures) {
		out = append(out,
			figure{pin{scope, "fraud.stepped_up_or_denied_share", f.SteppedUpOrDeniedShare}, false, f.Transactions},
			figure{pin{scope, "fraud.denied_share", f.DeniedShare}, false, f.Transactions},
			figure{pin{scope, "fraud.amount_stopped_share", f.AmountStoppedShare}, false, f.Transactions})
	}
	legit := func(scope string, l *LegitFigures) {
		out = append(out,
			figure{pin{scope, "legit.step_ups_per_1000", l.StepUpsPer1000}, true, l.Transactions},
			figure{pin{scope, "legit.denied_share", l.DeniedShare}, true, l.Transactions},
			figure{pin{scope, "legit.accounts_frozen_not_abusing_velocity", float64(l.FrozenNotAbusing)}, true, 0})
	}
	fraud("overall", &rep.Fraud)
	legit("overall", &rep.Legit)
	for _, s := range rep.Scenarios {
		if s.Fraud != nil {
			fraud(s.Name, s.Fraud)
		} else {
			legit(s.Name, s.Legit)
		}
	}
	return out
}

// margin is how far a figure may move without failing: two transactions
// of its population (a share of n), and at least half a point of a share,
// half a step-up per 1000, one frozen account.
func (f figure) margin() float64 {
	switch {
	case strings.HasSuffix(f.figure, "_per_1000"):
		return math.Max(0.5, 2000/math.Max(1, float64(f.n)))
	case strings.HasSuffix(f.figure, "_share"):
		return math.Max(0.005, 2/math.Max(1, float64(f.n)))
	}
	return 1
}

// comparePins returns a line per figure outside its margin, and per
// figure pinned but not measured or measured but not pinned.
func comparePins(pins []pin, got []figure) []string {
	var out []string
	want := map[[2]string]float64{}
	for _, p := range pins {
		want[[2]string{p.scope, p.figure}] = p.value
	}
	seen := map[[2]string]bool{}
	for _, f := range got {
		k := [2]string{f.scope, f.figure}
		seen[k] = true
		w, ok := want[k]
		if !ok {
			out = append(out, fmt.Sprintf("%s %s = %g is not pinned", f.scope, f.figure, f.value))
			continue
		}
		d := f.value - w
		if math.Abs(d) <= f.margin()+1e-9 {
			continue
		}
		worse := (d > 0) == f.higherIsWorse
		what := "WORSE"
		if !worse {
			what = "better (re-pin)"
		}
		out = append(out, fmt.Sprintf("%s %s: %s, %g pinned, %g measured (margin %.4g)", f.scope, f.figure, what, w, f.value, f.margin()))
	}
	for _, p := range pins {
		if !seen[[2]string{p.scope, p.figure}] {
			out = append(out, fmt.Sprintf("%s %s is pinned but no longer measured", p.scope, p.figure))
		}
	}
	return out
}

// pinTable prints figures as the Go source of pinned.
func pinTable(got []figure) string {
	var b strings.Builder
	b.WriteString("var pinned = []pin{\n")
	for _, f := range got {
		fmt.Fprintf(&b, "\t{%q, %q, %g},\n", f.scope, f.figure, f.value)
	}
	b.WriteString("}\n")
	return b.String()
}

// The reference policy's catch and friction on labelled traffic stay
// where they were pinned: a policy change that lets more fraud through or
// bothers more customers fails here.
func TestReferencePolicyFiguresArePinned(t *testing.T) {
	res, err := Run(context.Background(), pinnedConfig)
	if err != nil {
		t.Fatal(err)
	}
	got := measure(res.Report)
	if bad := comparePins(pinned, got); len(bad) > 0 {
		t.Errorf("the reference policy's figures moved (config %+v):\n  %s\n\nmeasured now:\n%s",
			pinnedConfig, strings.Join(bad, "\n  "), pinTable(got))
		return
	}
	t.Logf("measured (config %+v):\n%s", pinnedConfig, pinTable(got))
}
