package decide

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// Defaults for obligations that do not name a duration.
const (
	defaultLimitDuration = 24 * time.Hour
	defaultProbation     = 24 * time.Hour
	deviceSeenRefresh    = time.Hour // how stale last_seen may get before it is rewritten
	obligationActor      = "pdp"
)

// plan is a decision made and not yet carried out: the answer, what the
// record needs, and every change of state the decision implies, computed
// by planEffects and made by apply once the decision is recorded. It lives
// on Decide's stack; nothing keeps a pointer to it.
type plan struct {
	in        *request.Input
	d         *pdp.Decision
	satisfied []string // the step-ups a passed verification answered (the record's)
	cause     string   // why the decision fell back (the record's)
	closed    bool     // a closed-mode plugin failed: the decision stepped up

	// counted is what the velocity counts of this decision wrote, with the
	// synchronous log only: withdraw takes it back.
	counted velocity.Receipt
	// fleet: the fleet-wide count is added at apply (synchronous log).
	fleet, fleetMoney bool

	// The account update: account says there is one; newDevice and
	// moneyAllowed what it remembers besides the obligations and the first
	// sighting; audit its journal record (nil: none).
	account, newDevice, moneyAllowed bool
	audit                            *pdp.AuditRecord

	// span is the request's span (the zero Span: not traced).
	span tracing.Span
}

// planEffects completes the answer (a step-up's challenge) and works out
// what the decision implies: the policy's obligations, remembering the
// device, the destination and the allowed payment (whose outcomes teach
// the habit: outcomes.go), the account's first sighting, and their journal
// record. Nothing is written here but the day's spend of an allowed money
// movement, a velocity count like the observation (see the package doc).
func (s *Service) planEffects(p *plan, acct *pdp.AccountState) {
	in, d := p.in, p.d
	r := &in.Req
	now := in.Now
	if d.Outcome == pdp.StepUp && d.StepUp != nil {
		// A signed token (challenge.go): issuing it writes nothing.
		d.StepUp.ExpiresAt = now.Add(s.challengeTTL).Truncate(time.Second)
		d.StepUp.ChallengeID = s.signer.issue(r.UID, bindingOf(r), d.StepUp.Methods, d.StepUp.ExpiresAt)
	}
	moneyAllowed := d.Outcome == pdp.Allow && r.Stage.NeedsTxn() && r.Txn.Amount > 0
	// Spend is kept in base units (the policy's rates), so that amounts in
	// different currencies add up.
	if moneyAllowed && s.velocity != nil {
		if s.logSync {
			s.velocity.RecordSpendWithReceipt(now, r.UID, in.Purchase, in.Derived.AmountBase, &p.counted)
		} else {
			s.velocity.RecordSpend(now, r.UID, in.Purchase, in.Derived.AmountBase)
		}
	}
	if s.state == nil || acct == nil {
		return
	}
	obligations := d.Obligations
	// A device joins the account's history only with an allowed operation:
	// an attempt that was stepped up or denied must not make an attacker's
	// device "known".
	p.newDevice = d.Outcome == pdp.Allow && r.Device.ID != "" && deviceStale(acct, r.Device.ID, now)
	p.moneyAllowed = moneyAllowed
	// An account with an open case (a flag) has every decision journaled,
	// so the case trail holds them; so does any decision with obligations.
	tracked := len(acct.Flags) > 0
	// The first decision for a UID records when the sidecar first saw it:
	// the account age it vouches for when the caller sends none.
	firstSight := acct.FirstSeen.IsZero()
	if len(obligations) == 0 && !p.newDevice && !moneyAllowed && !tracked && !firstSight {
		return
	}
	p.account = true
	if len(obligations) > 0 || tracked {
		p.audit = decisionAudit(in, d)
		if freezesAnew(acct, obligations, now) {
			// A decision that puts a freeze on the account is a freeze
			// record, kept like the operators' (decision records are
			// pruned: state.decision_trail). One that extends a freeze
			// in force stays a decision record.
			p.audit.Action = "freeze"
		}
	}
}

// fleetScratch holds the counts a fleet count at apply reports, unused.
var fleetScratch = sync.Pool{New: func() any { return new(pdp.Velocity) }}

// withdraw takes back what a decision that could not be recorded counted:
// it changed nothing else.
func (s *Service) withdraw(p *plan) {
	if s.velocity != nil && !p.counted.Empty() {
		s.velocity.Undo(&p.counted)
	}
}

// apply carries out a recorded decision as planned: the fleet's count,
// the decision's metrics and the account update. State writes here are
// async: visible to the next decision at once, persisted by the store's
// group commit. The decision and its input are only read: the decision
// log's writer may be rendering them.
func (s *Service) apply(ctx context.Context, p *plan) {
	in, d := p.in, p.d
	r := &in.Req
	if p.fleet {
		ignored := fleetScratch.Get().(*pdp.Velocity) // the decision has its counts
		s.fleet.Observe(in.Now, r.UID, r.Device.ID, r.Device.IP, p.fleetMoney, ignored)
		fleetScratch.Put(ignored)
	}
	s.metrics.Decision(r.Stage, d.Outcome, d.Took)
	if !p.account {
		return
	}
	now := in.Now
	obligations, newDevice, moneyAllowed := d.Obligations, p.newDevice, p.moneyAllowed
	_, err := s.state.UpdateAccount(ctx, r.UID, state.Async, p.audit, func(a *pdp.AccountState) error {
		for _, o := range obligations {
			applyObligation(a, o, in, d.ID)
		}
		if newDevice {
			a.Devices = remember(a.Devices, r.Device.ID, now)
		}
		if moneyAllowed {
			rememberPayment(a, in, d)
			if r.Stage == pdp.StageWithdrawal && r.Txn.Instrument != "" {
				a.Destinations = remember(a.Destinations, r.Txn.Instrument, now)
			}
		}
		if a.FirstSeen.IsZero() {
			a.FirstSeen = firstSeen(a, now)
		}
		return nil
	})
	if err != nil {
		s.metrics.Fallback(metrics.FallbackObligationWrite)
		s.log.Error("carrying out the decision failed", "decision_id", d.ID, "uid", r.UID, "error", err)
	}
}

// probationAfter is the probation a freeze or restriction of the policy's
// leaves when it lifts itself: the obligation's, else defaultProbation
// (every release starts one, 002, automatic or by an operator).
func probationAfter(o pdp.Obligation) time.Duration {
	if o.Probation > 0 {
		return o.Probation
	}
	return defaultProbation
}

// applyObligation changes the account as the obligation asks. A repeat of
// an obligation already in force (the same freeze, limit or open flag,
// as each further attempt of a frozen account asks again) extends it
// rather than stacking a copy: the account record stays small, and the
// freeze keeps pointing at the transaction that caused it.
func applyObligation(a *pdp.AccountState, o pdp.Obligation, in *request.Input, decisionID string) {
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
		f := pdp.Freeze{Kind: kind, ProbationAfter: probationAfter(o)}
		if kind == pdp.FreezeTemporary {
			f.Until = now.Add(o.Duration)
		}
		freeze(f)
	case pdp.ObligationRestrict:
		f := pdp.Freeze{Kind: pdp.FreezeTemporary, Functions: o.Functions, ProbationAfter: probationAfter(o)}
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
			if m := &a.Limits[i]; !m.Operator && m.MaxAmount == l.MaxAmount && m.DailyAmount == l.DailyAmount && m.Currency == l.Currency &&
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
		a.Flags = append(a.Flags, pdp.CaseFlag{Kind: o.Kind, Reason: o.Reason, TxnID: in.Req.Txn.ID, DecisionID: decisionID, At: now,
			Stage: in.Req.Stage})
	}
}

// freezesAnew reports whether an obligation puts a freeze on the account
// that is not in force already (applyObligation extends one that is).
func freezesAnew(a *pdp.AccountState, obligations []pdp.Obligation, now time.Time) bool {
	for _, o := range obligations {
		if o.Type != pdp.ObligationFreeze && o.Type != pdp.ObligationRestrict {
			continue
		}
		inForce := slices.ContainsFunc(a.Freezes, func(f pdp.Freeze) bool {
			return f.Rule == o.Reason && f.Active(now) && (o.Type == pdp.ObligationFreeze || slices.Equal(f.Functions, o.Functions))
		})
		if !inForce {
			return true
		}
	}
	return false
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

// remember marks id seen now in list (a device the account used, a
// destination it moved money to: new for pdp.NewDestinationWindow from
// its first use, known after).
func remember(list []pdp.Sighting, id string, now time.Time) []pdp.Sighting {
	for i := range list {
		if list[i].ID == id {
			list[i].LastSeen = now
			return list
		}
	}
	return append(list, pdp.Sighting{ID: id, FirstSeen: now, LastSeen: now})
}

// rememberPayment keeps the allowed money movement with the account, for
// its outcomes; an allowed retry of the same transaction updates it.
func rememberPayment(a *pdp.AccountState, in *request.Input, d *pdp.Decision) {
	r := &in.Req
	p := pdp.Payment{TxnID: r.Txn.ID, Purchase: in.Purchase, DecisionID: d.ID, Reasons: slices.Clone(d.Reasons),
		Stage: r.Stage, Amount: r.Txn.Amount, Currency: r.Txn.Currency, AmountBase: in.Derived.AmountBase,
		Category: r.Txn.Category, At: in.Now}
	for i := range a.Payments {
		if q := &a.Payments[i]; q.TxnID == p.TxnID && q.Stage == p.Stage {
			p.Outcomes, p.At = q.Outcomes, q.At
			*q = p
			return
		}
	}
	a.Payments = append(a.Payments, p)
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
func decisionAudit(in *request.Input, d *pdp.Decision) *pdp.AuditRecord {
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

// coverRelease makes every limit an allowed money movement sets cover that
// very movement: a cap is for what follows a release (000 §3.3: a daily cap
// on further large payments), so its daily amount is raised to the day's
// spend plus the released amount, and its per-operation amount to the
// released amount, where they are lower (converted into the limit's
// currency). A verified 98 000 CNY order released with a 10 000 daily cap
// is therefore not over its own cap, and the cap then stops the next
// payment of the day. The obligations are copied, never changed in place
// (a policy's constant results are shared).
func coverRelease(res *policy.Result, in *request.Input) {
	r := &in.Req
	if !r.Stage.NeedsTxn() {
		return
	}
	spent := 0.0
	if v := in.Enrich.Velocity; v != nil {
		spent = v.Spent24h
	}
	var out []pdp.Obligation
	for i, o := range res.Obligations {
		if o.Type != pdp.ObligationLimit || o.Limit == nil {
			continue
		}
		l := *o.Limit
		// In whole cents, rounded up: a cap is money, and a sum of floats
		// would carry binary noise into the answer and the log.
		cents := func(x float64) float64 { return math.Ceil(math.Round(x*1e6)/1e4) / 100 }
		daily := cents(in.Rates.CoverIn(spent+in.Derived.AmountBase, l.Currency))
		single := cents(in.Rates.CoverIn(in.Derived.AmountBase, l.Currency))
		if !(l.DailyAmount > 0 && l.DailyAmount < daily) && !(l.MaxAmount > 0 && l.MaxAmount < single) {
			continue
		}
		if l.DailyAmount > 0 {
			l.DailyAmount = max(l.DailyAmount, daily)
		}
		if l.MaxAmount > 0 {
			l.MaxAmount = max(l.MaxAmount, single)
		}
		if out == nil {
			out = slices.Clone(res.Obligations)
		}
		out[i].Limit = &l
	}
	if out != nil {
		res.Obligations = out
	}
}

// ReasonReleaseOverCap is the reason of a decision the policy allowed while
// announcing a limit the operation itself exceeds.
const ReasonReleaseOverCap = "release_over_cap"

// holdToCap keeps a release within the limit it announces: an allowed money
// movement whose answer carries a limit (a conditional release's cap, or
// the policy's limit) must fit in it, the amount under max_amount and the
// day's spend plus the amount under daily_amount, converted to the
// request's currency. One that does not is denied: the policy contradicted
// itself, and the stricter reading wins (counted in
// pdp_release_over_cap_total).
func (s *Service) holdToCap(d *pdp.Decision, in *request.Input) {
	if heldToCap(d, in) {
		s.metrics.ReleaseOverCap()
	}
}

// heldToCap is holdToCap without the metric (an explanation decides
// nothing): it reports whether it held the release.
func heldToCap(d *pdp.Decision, in *request.Input) bool {
	r := &in.Req
	l := d.Limit
	if d.Outcome != pdp.Allow || l == nil || !r.Stage.NeedsTxn() {
		return false
	}
	spent := 0.0
	if v := in.Enrich.Velocity; v != nil {
		spent = v.Spent24h
	}
	// Converted caps carry rounding: a cap that covers the operation to
	// the millionth covers it.
	exceeds := func(x, cap float64) bool { return x > cap*(1+1e-12)+1e-6 }
	amount := in.Derived.AmountBase
	over := (l.MaxAmount > 0 && exceeds(amount, in.Rates.CapToBase(l.MaxAmount, l.Currency))) ||
		(l.DailyAmount > 0 && exceeds(spent+amount, in.Rates.CapToBase(l.DailyAmount, l.Currency)))
	if !over {
		return false
	}
	d.Outcome, d.StepUp = pdp.Deny, nil
	d.Reasons = append(slices.DeleteFunc(slices.Clone(d.Reasons), func(x string) bool { return x == policy.ReasonStepUpVerified }), ReasonReleaseOverCap)
	d.Obligations = slices.DeleteFunc(slices.Clone(d.Obligations), isLimit)
	d.Limit = nil
	return true
}

func isLimit(o pdp.Obligation) bool { return o.Type == pdp.ObligationLimit }
