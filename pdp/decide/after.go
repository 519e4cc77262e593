package decide

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/engine"
	"github.com/riskpdp/riskpdp/pdp/state"
)

// Defaults for obligations that do not name a duration.
const (
	defaultLimitDuration = 24 * time.Hour
	defaultProbation     = 24 * time.Hour
	deviceSeenRefresh    = time.Hour // how stale last_seen may get before it is rewritten
	obligationActor      = "pdp"
)

// after carries out what the decision implies: a challenge for a step-up,
// the policy's obligations, remembering the device, counting the spend and
// learning the habit. State writes here are async: visible to the next
// decision at once, persisted by the store's group commit.
func (s *Service) after(ctx context.Context, in *engine.Input, acct *pdp.AccountState, d *pdp.Decision, res *engine.Result) {
	r := &in.Req
	now := in.Now
	if d.Outcome == pdp.StepUp && d.StepUp != nil {
		d.StepUp.ExpiresAt = now.Add(s.challengeTTL).Truncate(time.Second)
		d.StepUp.ChallengeID = s.signer.issue(r.UID, subjectOf(r), d.StepUp.Methods, d.StepUp.ExpiresAt)
	}
	moneyAllowed := d.Outcome == pdp.Allow && r.Stage.NeedsTxn() && r.Txn.Amount > 0
	if moneyAllowed && s.velocity != nil {
		s.velocity.RecordSpend(now, r.UID, r.Txn.Amount)
	}
	if s.state == nil || acct == nil {
		return
	}
	obligations := d.Obligations
	// A device joins the account's history only with an allowed operation:
	// an attempt that was stepped up or denied must not make an attacker's
	// device "known".
	newDevice := d.Outcome == pdp.Allow && r.Device.ID != "" && deviceStale(acct, r.Device.ID, now)
	// An account with an open case (a flag) has every decision journaled,
	// so the case trail holds them; so does any decision with obligations.
	tracked := len(acct.Flags) > 0
	if len(obligations) == 0 && !newDevice && !moneyAllowed && !tracked {
		return
	}
	var audit *pdp.AuditRecord
	if len(obligations) > 0 || tracked {
		audit = decisionAudit(in, d)
	}
	_, err := s.state.UpdateAccount(ctx, r.UID, state.Async, audit, func(a *pdp.AccountState) error {
		for _, o := range obligations {
			applyObligation(a, o, in, d.ID)
		}
		if newDevice {
			rememberDevice(a, r.Device.ID, now)
		}
		if moneyAllowed {
			a.Habit.Observe(r.Txn.Amount, r.Txn.Category)
		}
		return nil
	})
	if err != nil {
		s.metrics.Fallback("obligation_write")
		s.log.Error("carrying out the decision failed", "decision_id", d.ID, "uid", r.UID, "error", err)
	}
}

// applyObligation changes the account as the obligation asks. A repeat of
// an obligation already in force (the same freeze, limit or open flag,
// as each further attempt of a frozen account asks again) extends it
// rather than stacking a copy: the account record stays small, and the
// freeze keeps pointing at the transaction that caused it.
func applyObligation(a *pdp.AccountState, o pdp.Obligation, in *engine.Input, decisionID string) {
	now := in.Now
	actor := pdp.Actor{Operator: obligationActor, Reason: o.Reason}
	freeze := func(f pdp.Freeze) {
		for i := range a.Freezes {
			if g := &a.Freezes[i]; g.Kind == f.Kind && g.Rule == o.Reason && slices.Equal(g.Functions, f.Functions) && g.Active(now) {
				if !g.Until.IsZero() {
					g.Until = later(g.Until, f.Until)
				}
				g.ProbationAfter = max(g.ProbationAfter, f.ProbationAfter)
				return
			}
		}
		f.Since, f.Rule, f.TxnID, f.DecisionID, f.Actor = now, o.Reason, in.Req.Txn.ID, decisionID, actor
		a.Freezes = append(a.Freezes, f)
	}
	switch o.Type {
	case pdp.ObligationFreeze:
		kind, _ := pdp.ParseFreezeKind(o.Kind)
		f := pdp.Freeze{Kind: kind, ProbationAfter: o.Probation}
		if kind == pdp.FreezeTemporary {
			f.Until = now.Add(o.Duration)
		}
		freeze(f)
	case pdp.ObligationRestrict:
		f := pdp.Freeze{Kind: pdp.FreezeTemporary, Functions: o.Functions}
		if o.Duration > 0 {
			f.Until = now.Add(o.Duration)
		} else {
			f.Kind = pdp.FreezeReview
		}
		freeze(f)
	case pdp.ObligationLimit:
		l := *o.Limit
		if l.Duration <= 0 {
			l.Duration = defaultLimitDuration
		}
		l.Until = now.Add(l.Duration)
		for i := range a.Limits {
			if m := &a.Limits[i]; m.MaxAmount == l.MaxAmount && m.DailyAmount == l.DailyAmount && m.Currency == l.Currency &&
				m.Duration == l.Duration && now.Before(m.Until) {
				m.Until = later(m.Until, l.Until)
				return
			}
		}
		a.Limits = append(a.Limits, l)
	case pdp.ObligationProbation:
		dur := o.Duration
		if dur <= 0 {
			dur = defaultProbation
		}
		a.Probation = pdp.Probation{Since: now, Until: now.Add(dur), Reason: o.Reason}
	case pdp.ObligationFlag:
		for _, f := range a.Flags {
			if f.Kind == o.Kind && f.Reason == o.Reason {
				return // the case is open already; the journal keeps this decision
			}
		}
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: o.Kind, Reason: o.Reason, TxnID: in.Req.Txn.ID, DecisionID: decisionID, At: now})
	}
}

// later is the later of two expiries.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// deviceStale reports whether the device is new to the account or its
// last-seen time is old enough to be worth a write.
func deviceStale(a *pdp.AccountState, id string, now time.Time) bool {
	for _, d := range a.Devices {
		if d.ID == id {
			return now.Sub(d.LastSeen) > deviceSeenRefresh
		}
	}
	return true
}

func rememberDevice(a *pdp.AccountState, id string, now time.Time) {
	for i := range a.Devices {
		if a.Devices[i].ID == id {
			a.Devices[i].LastSeen = now
			return
		}
	}
	a.Devices = append(a.Devices, pdp.KnownDevice{ID: id, FirstSeen: now, LastSeen: now})
}

// DecisionDetail is the Detail of a "decision" journal record: the
// decision in brief (the decision log has it in full).
type DecisionDetail struct {
	DecisionID  string                   `json:"decision_id"`
	Stage       string                   `json:"stage"`
	TxnID       string                   `json:"txn_id,omitempty"`
	Amount      float64                  `json:"amount,omitempty"`
	Currency    string                   `json:"currency,omitempty"`
	Outcome     string                   `json:"outcome"`
	Reasons     []string                 `json:"reasons"`
	Obligations []decisionlog.Obligation `json:"obligations,omitempty"`
	Revision    string                   `json:"revision,omitempty"`
}

// decisionAudit is the journal record of a decision.
func decisionAudit(in *engine.Input, d *pdp.Decision) *pdp.AuditRecord {
	r := &in.Req
	detail := DecisionDetail{DecisionID: d.ID, Stage: r.Stage.String(), Outcome: d.Outcome.String(),
		Reasons: d.Reasons, Obligations: obligationsOf(d.Obligations), Revision: d.PolicyRevision}
	if r.HasTxn {
		detail.TxnID, detail.Amount, detail.Currency = r.Txn.ID, r.Txn.Amount, r.Txn.Currency
	}
	b, _ := json.Marshal(detail)
	return &pdp.AuditRecord{At: in.Now, Actor: pdp.Actor{Operator: obligationActor, Reason: "decision"},
		Action: pdp.ActionDecision, UID: r.UID, Target: "decision/" + d.ID, Detail: string(b)}
}
