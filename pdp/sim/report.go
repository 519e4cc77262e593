package sim

import (
	"cmp"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is what a simulation measured: the figures overall and
// per scenario, the goals, and what to tune (the reasons behind legit
// friction, the fraud that got through). Every list is in a fixed order,
// so the same run gives the same bytes.
//
// Units: a transaction is one txn.id (an order and its payment are two,
// as `pdp replay --labels` counts them); logins are counted apart. A
// transaction is stepped up, or denied, when any decision on it was; it
// ended allowed when its last decision was allow. Amounts are in CNY at
// Rates.
type Report struct {
	Seed         uint64    `json:"seed"`
	Days         int       `json:"days"`
	Accounts     int       `json:"accounts"`
	MuleAccounts int       `json:"mule_accounts"`
	Start        time.Time `json:"start"`
	Policies     string    `json:"policies"`
	Revision     string    `json:"policy_revision"`
	Plugins      []string  `json:"plugins"`
	// PluginFaults counts plugin calls that failed (a time budget cut on
	// a busy machine, a trap): each changed a decision's inputs, so a run
	// with faults may not repeat exactly.
	PluginFaults uint64 `json:"plugin_faults"`
	Calls        Calls  `json:"calls"`

	Legit LegitFigures `json:"legit"`
	Fraud FraudFigures `json:"fraud"`
	Goals []Goal       `json:"goals"`

	Scenarios []ScenarioReport `json:"scenarios"`
	// LegitFriction counts the reasons of the first step_up or deny of
	// every legit transaction that got one: the friction's causes.
	LegitFriction []ReasonCount `json:"legit_friction"`
	// FraudMissed groups the fraud transactions that ended allowed by
	// scenario, stage, how (at once or after a verification) and reasons.
	FraudMissed []Missed `json:"fraud_missed"`
	// FrozenLegit lists legit accounts a decision on their own legit
	// operation froze (at most MaxListed; LegitFigures has the count).
	FrozenLegit []Frozen `json:"frozen_legit"`
}

// MaxListed bounds Report.FrozenLegit.
const MaxListed = 100

// Calls counts the calls made of the sidecar.
type Calls struct {
	Decide int64 `json:"decide"`
	Verify int64 `json:"verify"`
	Event  int64 `json:"event"`
	// Outcome counts the payment outcomes reported (POST /v1/outcomes).
	Outcome int64 `json:"outcome"`
}

// Outcomes sorts transactions by how they ended.
type Outcomes struct {
	Allowed   int `json:"allowed"`   // allowed without a step-up
	Verified  int `json:"verified"`  // stepped up, verified, allowed
	Abandoned int `json:"abandoned"` // stepped up, not verified, never denied
	Denied    int `json:"denied"`    // denied (at once, or after a failed verification)
}

// LegitFigures are the friction figures on legitimate traffic.
type LegitFigures struct {
	Transactions   int      `json:"transactions"`
	Outcomes       Outcomes `json:"outcomes"`
	SteppedUp      int      `json:"stepped_up"`
	StepUpsPer1000 float64  `json:"step_ups_per_1000"`
	Denied         int      `json:"denied"`
	DeniedShare    float64  `json:"denied_share"`
	// Accounts with a legit operation; AccountsFrozen of them frozen by a
	// decision on one; FrozenNotAbusing of those did not themselves make
	// more than VelocityAbuse transactions in a minute.
	Accounts         int     `json:"accounts"`
	AccountsFrozen   int     `json:"accounts_frozen"`
	FrozenPer10000   float64 `json:"accounts_frozen_per_10000"`
	FrozenNotAbusing int     `json:"accounts_frozen_not_abusing_velocity"`
	Logins           int     `json:"logins"`
	LoginsSteppedUp  int     `json:"logins_stepped_up"`
	LoginsDenied     int     `json:"logins_denied"`
}

// FraudFigures are the catch figures on fraud.
type FraudFigures struct {
	Transactions           int      `json:"transactions"`
	Outcomes               Outcomes `json:"outcomes"`
	SteppedUpOrDenied      int      `json:"stepped_up_or_denied"`
	SteppedUpOrDeniedShare float64  `json:"stepped_up_or_denied_share"`
	Denied                 int      `json:"denied"`
	DeniedShare            float64  `json:"denied_share"`
	Amount                 float64  `json:"amount_cny"`
	AmountStopped          float64  `json:"amount_stopped_cny"`
	AmountStoppedShare     float64  `json:"amount_stopped_share"`
	Logins                 int      `json:"logins"`
	LoginsSteppedUp        int      `json:"logins_stepped_up"`
	LoginsDenied           int      `json:"logins_denied"`
}

// Goal is one of the goals for the reference policy.
type Goal struct {
	Name   string  `json:"name"`
	Op     string  `json:"op"` // ">=" or "<="
	Target float64 `json:"target"`
	Value  float64 `json:"value"`
	Met    bool    `json:"met"`
}

// ScenarioReport is one scenario's figures: Legit or Fraud by its label.
type ScenarioReport struct {
	Name     string        `json:"name"`
	Label    string        `json:"label"`
	Doc      string        `json:"doc"`
	Episodes int           `json:"episodes"`
	Legit    *LegitFigures `json:"legit,omitempty"`
	Fraud    *FraudFigures `json:"fraud,omitempty"`
	// Reasons of the first step_up or deny of its transactions.
	Reasons []ReasonCount `json:"reasons"`
}

// ReasonCount counts the transactions whose first step_up or deny
// decision carried a reason, by that decision's outcome (a deny lists
// the step-up reasons that fired with it too).
type ReasonCount struct {
	Reason string `json:"reason"`
	StepUp int    `json:"step_up"`
	Deny   int    `json:"deny"`
}

// Missed is a group of fraud transactions that ended allowed.
type Missed struct {
	Scenario     string  `json:"scenario"`
	Stage        string  `json:"stage"`
	How          string  `json:"how"` // "allowed" (at once) or "verified"
	Reasons      string  `json:"reasons"`
	Transactions int     `json:"transactions"`
	Amount       float64 `json:"amount_cny"`
}

// Frozen is a legit account frozen by a decision on its own operation.
type Frozen struct {
	UID      string    `json:"uid"`
	Scenario string    `json:"scenario"`
	TxnID    string    `json:"txn_id"`
	At       time.Time `json:"at"`
	Reasons  []string  `json:"reasons"`
	// AbusedVelocity: the account itself made more than VelocityAbuse
	// transactions within a minute.
	AbusedVelocity bool `json:"abused_velocity"`
}

// VelocityAbuse is how many transactions a minute a person may make
// without abusing velocity: the source procedures' example ("more than 5
// transactions in 1 minute"). It judges the simulated customers, not the
// policy: a policy that lowers its own limit does not make its freezes
// justified.
const VelocityAbuse = 5

// The goals for the reference policy on the default run.
const (
	GoalFraudCaught        = 0.95
	GoalFraudAmountStopped = 0.90
	GoalLegitSteppedUp     = 0.03
	GoalLegitDenied        = 0.001
)

// report computes the report from the operations.
func (s *sim) report() *Report {
	rep := &Report{Seed: s.cfg.Seed, Days: s.cfg.Days, Accounts: len(s.pop.Accounts), MuleAccounts: len(s.pop.Mules),
		Start: s.cfg.Start, Policies: cmp.Or(s.cfg.Policies, "embedded reference policies"), Revision: s.revision,
		Plugins: []string{}, Calls: Calls{Decide: s.calls[CallDecide], Verify: s.calls[CallVerify], Event: s.calls[CallEvent], Outcome: s.calls[CallOutcome]}}
	if s.plugins != nil {
		for _, st := range s.plugins.Stats() {
			rep.Plugins = append(rep.Plugins, st.Plugin)
			for _, n := range st.Faults {
				rep.PluginFaults += n
			}
		}
		slices.Sort(rep.Plugins)
	}
	abusers := velocityAbusers(s.txns)
	frozen := frozenLegit(s.txns, abusers)
	rep.Legit, rep.Fraud = figures(s.txns, nil, frozen)
	for _, sc := range scenarios {
		sr := ScenarioReport{Name: sc.Name, Label: sc.Label.String(), Doc: sc.Doc, Episodes: s.episodes[sc]}
		l, f := figures(s.txns, sc, frozen)
		if sc.Label == Fraud {
			sr.Fraud = &f
		} else {
			sr.Legit = &l
		}
		sr.Reasons = reasonCounts(s.txns, sc, sc.Label)
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	rep.LegitFriction = reasonCounts(s.txns, nil, Legit)
	rep.FraudMissed = missed(s.txns)
	rep.FrozenLegit = sortedFrozen(frozen)
	if len(rep.FrozenLegit) > MaxListed {
		rep.FrozenLegit = rep.FrozenLegit[:MaxListed]
	}
	rep.Goals = goals(rep)
	return rep
}

func goals(rep *Report) []Goal {
	g := []Goal{
		{Name: "fraud transactions stepped up or denied", Op: ">=", Target: GoalFraudCaught, Value: rep.Fraud.SteppedUpOrDeniedShare},
		{Name: "fraud amount stopped", Op: ">=", Target: GoalFraudAmountStopped, Value: rep.Fraud.AmountStoppedShare},
		{Name: "legit transactions stepped up", Op: "<=", Target: GoalLegitSteppedUp, Value: rep.Legit.StepUpsPer1000 / 1000},
		{Name: "legit transactions denied", Op: "<=", Target: GoalLegitDenied, Value: rep.Legit.DeniedShare},
		{Name: "legit accounts frozen that did not abuse velocity", Op: "<=", Target: 0, Value: float64(rep.Legit.FrozenNotAbusing)},
	}
	for i := range g {
		if g[i].Op == ">=" {
			g[i].Met = g[i].Value >= g[i].Target
		} else {
			g[i].Met = g[i].Value <= g[i].Target
		}
	}
	return g
}

// figures computes the legit and fraud figures over the transactions of
// scenario sc (all when nil).
func figures(txns []*Txn, sc *Scenario, frozen map[string]Frozen) (LegitFigures, FraudFigures) {
	var l LegitFigures
	var f FraudFigures
	accounts := map[string]bool{}
	frozenHere := map[string]bool{}
	for _, t := range txns {
		if sc != nil && t.Scenario != sc {
			continue
		}
		fraud := t.Scenario.Label == Fraud
		if t.ID == "" {
			if fraud {
				f.Logins++
				f.LoginsSteppedUp += btoi(t.SteppedUp)
				f.LoginsDenied += btoi(t.Denied)
			} else {
				l.Logins++
				l.LoginsSteppedUp += btoi(t.SteppedUp)
				l.LoginsDenied += btoi(t.Denied)
			}
			continue
		}
		if fraud {
			f.Transactions++
			f.Outcomes.add(t)
			f.SteppedUpOrDenied += btoi(t.SteppedUp || t.Denied)
			f.Denied += btoi(t.Denied)
			f.Amount += t.Amount
			if !t.Allowed() {
				f.AmountStopped += t.Amount
			}
			continue
		}
		l.Transactions++
		l.Outcomes.add(t)
		l.SteppedUp += btoi(t.SteppedUp)
		l.Denied += btoi(t.Denied)
		accounts[t.UID] = true
		if fr, ok := frozen[t.UID]; ok && (sc == nil || fr.Scenario == sc.Name) {
			frozenHere[t.UID] = true
		}
	}
	l.Accounts = len(accounts)
	for uid := range frozenHere {
		l.AccountsFrozen++
		if !frozen[uid].AbusedVelocity {
			l.FrozenNotAbusing++
		}
	}
	l.StepUpsPer1000 = round4(1000 * share(l.SteppedUp, l.Transactions))
	l.DeniedShare = round6(share(l.Denied, l.Transactions))
	l.FrozenPer10000 = round4(10000 * share(l.AccountsFrozen, l.Accounts))
	f.SteppedUpOrDeniedShare = round6(share(f.SteppedUpOrDenied, f.Transactions))
	f.DeniedShare = round6(share(f.Denied, f.Transactions))
	f.Amount, f.AmountStopped = round2(f.Amount), round2(f.AmountStopped)
	if f.Amount > 0 {
		f.AmountStoppedShare = round6(f.AmountStopped / f.Amount)
	}
	return l, f
}

func (o *Outcomes) add(t *Txn) {
	switch {
	case t.Denied:
		o.Denied++
	case t.SteppedUp && t.Allowed():
		o.Verified++
	case t.SteppedUp:
		o.Abandoned++
	default:
		o.Allowed++
	}
}

// velocityAbusers are the accounts whose own legit transactions exceeded
// VelocityAbuse within a minute (an order and its payment count once).
func velocityAbusers(txns []*Txn) map[string]bool {
	times := map[string][]time.Time{}
	for _, t := range txns {
		if t.ID == "" || t.OrderID != "" || t.Scenario.Label != Legit {
			continue
		}
		times[t.UID] = append(times[t.UID], t.At)
	}
	out := map[string]bool{}
	for uid, ts := range times {
		slices.SortFunc(ts, time.Time.Compare)
		for i := VelocityAbuse; i < len(ts); i++ {
			if ts[i].Sub(ts[i-VelocityAbuse]) <= time.Minute {
				out[uid] = true
				break
			}
		}
	}
	return out
}

// frozenLegit finds the legit accounts a decision on one of their own
// legit operations froze, with the first such operation.
func frozenLegit(txns []*Txn, abusers map[string]bool) map[string]Frozen {
	out := map[string]Frozen{}
	for _, t := range txns { // in order of first decision
		if !t.Froze || t.Scenario.Label != Legit {
			continue
		}
		if _, ok := out[t.UID]; ok {
			continue
		}
		out[t.UID] = Frozen{UID: t.UID, Scenario: t.Scenario.Name, TxnID: t.ID, At: t.At, Reasons: t.Reasons,
			AbusedVelocity: abusers[t.UID]}
	}
	return out
}

// sortedFrozen lists frozen accounts by time, then UID.
func sortedFrozen(m map[string]Frozen) []Frozen {
	out := make([]Frozen, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Frozen) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.UID, b.UID))
	})
	return out
}

// reasonCounts counts the reasons of the first step_up or deny of the
// transactions of label (and scenario sc, all when nil), most frequent
// first.
func reasonCounts(txns []*Txn, sc *Scenario, label Label) []ReasonCount {
	m := map[string]*ReasonCount{}
	for _, t := range txns {
		if t.Caught == "" || t.Scenario.Label != label || (sc != nil && t.Scenario != sc) || t.ID == "" {
			continue
		}
		for _, r := range t.Reasons {
			c := m[r]
			if c == nil {
				c = &ReasonCount{Reason: r}
				m[r] = c
			}
			if t.Caught == "deny" {
				c.Deny++
			} else {
				c.StepUp++
			}
		}
	}
	out := make([]ReasonCount, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.StepUp+b.Deny, a.StepUp+a.Deny), strings.Compare(a.Reason, b.Reason))
	})
	return out
}

// missed groups the fraud transactions that ended allowed.
func missed(txns []*Txn) []Missed {
	type key struct{ scenario, stage, how, reasons string }
	m := map[key]*Missed{}
	for _, t := range txns {
		if t.ID == "" || t.Scenario.Label != Fraud || !t.Allowed() {
			continue
		}
		how := "allowed"
		if t.SteppedUp {
			how = "verified"
		}
		k := key{t.Scenario.Name, t.Stage, how, strings.Join(t.Reasons, ",")}
		g := m[k]
		if g == nil {
			g = &Missed{Scenario: k.scenario, Stage: k.stage, How: how, Reasons: k.reasons}
			m[k] = g
		}
		g.Transactions++
		g.Amount += t.Amount
	}
	out := make([]Missed, 0, len(m))
	for _, g := range m {
		g.Amount = round2(g.Amount)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Missed) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), strings.Compare(a.Scenario, b.Scenario),
			strings.Compare(a.Stage, b.Stage), strings.Compare(a.How, b.How), strings.Compare(a.Reasons, b.Reasons))
	})
	return out
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
