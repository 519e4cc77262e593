package sim

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report's figures for a terminal: the goals, a
// line per scenario, the reasons behind legit friction and the fraud that
// got through.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	plugins := "none"
	if len(r.Plugins) > 0 {
		plugins = fmt.Sprintf("%s (%d faults)", strings.Join(r.Plugins, ", "), r.PluginFaults)
	}
	p("seed %d, %d days from %s, %d customers and %d mule accounts; policy %s (%s); plugins %s\n",
		r.Seed, r.Days, r.Start.Format("2006-01-02"), r.Accounts, r.MuleAccounts, r.Revision, r.Policies, plugins)
	p("%d decisions, %d verifications, %d events; %d legit and %d fraud transactions, %d + %d logins\n\n",
		r.Calls.Decide, r.Calls.Verify, r.Calls.Event, r.Legit.Transactions, r.Fraud.Transactions, r.Legit.Logins, r.Fraud.Logins)
	p("goal\tmeasured\ttarget\t\n")
	for _, g := range r.Goals {
		mark := "missed"
		if g.Met {
			mark = "met"
		}
		p("%s\t%s\t%s %s\t%s\n", g.Name, goalValue(g, g.Value), g.Op, goalValue(g, g.Target), mark)
	}
	p("\nlegit scenario\ttransactions\tstep-ups /1000\tdenied\taccounts frozen (not abusing)\tfirst reasons\n")
	for _, s := range r.Scenarios {
		if l := s.Legit; l != nil {
			p("%s\t%d\t%.1f\t%d (%.2f%%)\t%d (%d)\t%s\n", s.Name, l.Transactions, l.StepUpsPer1000, l.Denied,
				100*l.DeniedShare, l.AccountsFrozen, l.FrozenNotAbusing, topReasons(s.Reasons, 3))
		}
	}
	p("\nfraud scenario\ttransactions\tstepped up or denied\tdenied\tamount stopped\tfirst reasons\n")
	for _, s := range r.Scenarios {
		if f := s.Fraud; f != nil {
			p("%s\t%d\t%.1f%%\t%.1f%%\t%.1f%% of %.0f CNY\t%s\n", s.Name, f.Transactions, 100*f.SteppedUpOrDeniedShare,
				100*f.DeniedShare, 100*f.AmountStoppedShare, f.Amount, topReasons(s.Reasons, 3))
		}
	}
	p("\nlegit friction: reason\ton a step_up\ton a deny\n")
	for i, c := range r.LegitFriction {
		if i == 12 {
			p("… %d more reasons\n", len(r.LegitFriction)-i)
			break
		}
		p("%s\t%d\t%d\n", c.Reason, c.StepUp, c.Deny)
	}
	p("\nfraud that got through: scenario\tstage\thow\treasons\ttransactions\tamount (CNY)\n")
	for i, m := range r.FraudMissed {
		if i == 12 {
			p("… %d more groups\n", len(r.FraudMissed)-i)
			break
		}
		p("%s\t%s\t%s\t%s\t%d\t%.0f\n", m.Scenario, m.Stage, m.How, m.Reasons, m.Transactions, m.Amount)
	}
	return tw.Flush()
}

func topReasons(rs []ReasonCount, n int) string {
	var parts []string
	for i, c := range rs {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", c.Reason, c.StepUp+c.Deny))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// WriteLabels writes the labels of the run's transactions as `pdp replay
// --labels` reads them: CSV with the header txn_id,label, one row per
// transaction (logins have no txn.id and are not listed), label fraud or
// legit.
func (res *Result) WriteLabels(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"txn_id", "label"}); err != nil {
		return err
	}
	for _, t := range res.Txns {
		if t.ID == "" {
			continue
		}
		if err := cw.Write([]string{t.ID, t.Scenario.Label.String()}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
