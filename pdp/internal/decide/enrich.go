package decide

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// errState marks a failure to read the risk state: the decision falls back.
var errState = errors.New("risk state unavailable")

// counting is how a request counts in the velocity windows.
type counting uint8

const (
	peek          counting = iota // not at all: a read-only evaluation (the Data API)
	count                         // for good
	countUndoable                 // until taken back: a decision the synchronous log may refuse
)

// countingFor is how a decision counts: undoably when the synchronous
// decision log may refuse it.
func countingFor(sync bool) counting {
	if sync {
		return countUndoable
	}
	return count
}

// sensitiveEvents make a following large money movement suspicious.
var sensitiveEvents = map[string]bool{"password_reset": true, "phone_change": true, "pay_password_change": true}

// enrich adds what the sidecar knows to the policy input: reputation,
// account state, verification, velocity. It returns the account state it
// read (nil without state, or when it could not be read). A *pdp.Error is
// the caller's mistake; any other error means the state could not be read.
//
// What the sidecar knows beats what the caller claims: with risk state on,
// VIP status comes from the VIP list (account.vip relaxes nothing), a
// device is known only when the account has used it (device.new: false
// from the caller does not make it known), and an account's age is the
// time since the sidecar first saw it when the caller sends no
// account.created_at. how says how this request counts in the velocity
// windows; with countUndoable, what it writes is noted in rc.
func (s *Service) enrich(in *request.Input, how counting, rc *velocity.Receipt) (*pdp.AccountState, error) {
	r := &in.Req
	now := in.Now
	var acct *pdp.AccountState
	if s.state != nil {
		subjects := [4]struct {
			kind  pdp.SubjectKind
			value string
		}{{pdp.SubjectUID, r.UID}, {pdp.SubjectDevice, r.Device.ID}, {pdp.SubjectIP, r.Device.IP}, {pdp.SubjectCardBIN, r.Txn.CardBIN}}
		for i, sub := range subjects {
			if sub.value == "" {
				continue
			}
			rep, err := s.state.Reputation(sub.kind, sub.value, now)
			if err != nil {
				if err := unknown(in, "reputation", err); err != nil {
					return nil, err
				}
				continue
			}
			in.Enrich.Reputation[i] = rep
		}
		in.Enrich.HasReputation = true
		in.Derived.VIP = in.Enrich.Reputation[request.RepUID].VIP
		// Known only if the account's devices and destinations say so
		// (below).
		in.Derived.DeviceKnown = false
		in.SetDestinationKnown(false)

		var err error
		if acct, err = s.state.Account(r.UID, now); err != nil {
			if err := unknown(in, "account", err); err != nil {
				return nil, err
			}
		} else {
			in.Enrich.Account = accountView(acct, &r.Txn, r.Stage, in.Rates, now)
			for _, e := range acct.Events {
				if sensitiveEvents[e.Kind] {
					in.NoteSensitiveChange(e.At)
				}
			}
			if r.Device.ID != "" {
				in.SetDeviceKnown(knowsDevice(acct, r.Device.ID))
			}
			if r.Txn.Instrument != "" {
				age, ok := acct.DestinationAge(r.Txn.Instrument, now)
				in.SetDestinationKnown(ok && age >= pdp.NewDestinationWindow)
			}
			in.NoteFirstSeen(firstSeen(acct, now))
		}
		in.Purchase = purchase(r, acct)
		if err := s.verification(in); err != nil {
			return nil, err
		}
	}
	if in.Purchase == "" {
		in.Purchase = purchase(r, nil)
	}
	if s.velocity != nil {
		v := new(pdp.Velocity)
		obs := velocity.Observation{UID: r.UID, Device: r.Device.ID, IP: r.Device.IP,
			Amount: in.Derived.AmountBase, Login: !r.Stage.NeedsTxn()}
		if r.Stage.NeedsTxn() {
			obs.Purchase, obs.Method, obs.Instrument = in.Purchase, r.Txn.PaymentMethod, r.Txn.Instrument
			obs.Destination = r.Stage == pdp.StageWithdrawal
		}
		counted := false
		switch how {
		case count:
			counted = s.velocity.Observe(now, obs, v)
		case countUndoable:
			s.velocity.ObserveWithReceipt(now, obs, v, rc)
		default:
			s.velocity.Peek(now, obs, v)
		}
		if s.fleet != nil {
			// The fleet counts what the local windows count (a retry of a
			// purchase is not one more money movement); with
			// countUndoable it counts the request at apply (plan.fleet,
			// rc.Counted): here it only answers.
			s.fleet.Observe(now, r.UID, r.Device.ID, r.Device.IP, r.Stage.NeedsTxn() && counted, v)
		}
		in.Enrich.Velocity = v
	}
	return acct, nil
}

// purchase is the purchase r is counted under. A payment naming an order
// is the order's purchase (its retries and its verification are the
// order's) only while no other transaction paid the order: a payment the
// sidecar allowed for it, not failed or reversed since. A second payment
// of a paid order is a transaction of its own, counted, capped and
// verified as one; so is every payment naming an order when the sidecar
// keeps no account state (acct nil) and cannot tell.
func purchase(r *pdp.Request, acct *pdp.AccountState) string {
	p := r.Purchase()
	if r.Txn.OrderID == "" || r.Stage == pdp.StageOrder {
		return p
	}
	own := "txn:" + r.Txn.ID
	if acct == nil {
		return own
	}
	for i := range acct.Payments {
		x := &acct.Payments[i]
		if x.Purchase == p && x.TxnID != r.Txn.ID && x.Stage != pdp.StageOrder {
			if x.Settled() != pdp.OutcomeFailed && !x.Has(pdp.OutcomeReversed) {
				return own
			}
		}
	}
	return p
}

// firstSeen is when the sidecar first saw the account: its record, else
// the first use of its oldest known device, else now (never seen before).
func firstSeen(a *pdp.AccountState, now time.Time) time.Time {
	if !a.FirstSeen.IsZero() {
		return a.FirstSeen
	}
	first := now
	for _, d := range a.Devices {
		if !d.FirstSeen.IsZero() && d.FirstSeen.Before(first) {
			first = d.FirstSeen
		}
	}
	return first
}

// unknown handles a failed read of part of the risk state. A shared store
// past its read budget (state.ErrUnavailable) leaves that part unknown: it
// is named in input.state_unknown and the policy decides with the rest (a
// cached block still denies; the reference policy steps up). Any other
// failure is an internal fault: the decision falls back.
func unknown(in *request.Input, part string, err error) error {
	if !errors.Is(err, state.ErrUnavailable) {
		return fmt.Errorf("%w: %s: %w", errState, part, err)
	}
	if !slices.Contains(in.Enrich.Unknown, part) {
		in.Enrich.Unknown = append(in.Enrich.Unknown, part)
	}
	return nil
}

// verification finds the verification of this request's operation (its
// stage and transaction, or for a login its device). It releases only the
// operation it was issued for: a retry that differs in amount, currency,
// instrument or device (pdp.VerificationBinding) is decided afresh, counted in
// pdp_challenge_mismatch_total; a failed or refused check of the
// transaction stays in force whatever the retry. A challenge the caller
// names must be this account's; one of another operation is counted and
// does not count for anything.
func (s *Service) verification(in *request.Input) error {
	r := &in.Req
	b := bindingOf(r)
	if r.ChallengeID != "" {
		c, err := s.signer.open(r.ChallengeID, in.Now)
		switch {
		case errors.Is(err, errChallengeInvalid):
			return pdp.Errorf(pdp.CodeInvalidValue, "challenge_id", "unknown challenge")
		case c.UID != r.UID:
			return pdp.Errorf(pdp.CodeInvalidValue, "challenge_id", "the challenge belongs to another account")
		case err == nil && pdp.VerificationSubject(c.Binding) != pdp.VerificationSubject(b):
			// A challenge of another operation (another stage or
			// transaction) releases nothing; one of this operation is
			// checked with its stored verification below. An expired
			// challenge is not an error: the retry steps up again.
			s.metrics.ChallengeMismatch(c.Binding.Mismatch(b))
		}
	}
	v, ok, err := s.state.Verification(r.UID, pdp.VerificationSubject(b), in.Now)
	ofOrder := false
	if err == nil && !ok && r.Stage == pdp.StagePayment && r.Txn.OrderID != "" && in.Purchase == r.Purchase() {
		// The payment of a verified order: the order's check releases it.
		order := pdp.VerificationBinding{Stage: pdp.StageOrder, TxnID: r.Txn.OrderID}
		v, ok, err = s.state.Verification(r.UID, pdp.VerificationSubject(order), in.Now)
		ofOrder = true
	}
	if err != nil {
		return unknown(in, "verification", err)
	}
	if !ok {
		return nil
	}
	status := v.Status()
	failed := status == "failed" || status == "refused"
	mismatch := ""
	switch {
	case !v.Bound:
		mismatch = "txn" // a record of before bindings: releases nothing
	case ofOrder:
		mismatch = paysOrder(v.Binding, b)
	default:
		mismatch = v.Binding.Mismatch(b)
	}
	same := mismatch == ""
	if !same {
		if v.Bound {
			s.metrics.ChallengeMismatch(mismatch)
		}
		if !failed {
			return nil // another operation's check: decided afresh
		}
	}
	view := request.VerificationView{Status: status, ChallengeID: v.ChallengeID, Methods: v.Methods}
	if same && !failed {
		for _, m := range v.Methods {
			if v.Results[m] == pdp.VerificationPassed {
				view.Passed = append(view.Passed, m)
			}
		}
		if in.Now.After(v.UpdatedAt.Add(s.verificationTTL)) {
			// Too old to release anything.
			view.Status, view.Passed = "expired", nil
		}
	}
	in.Enrich.Verification = view
	return nil
}

// paysOrder is the first field in which the payment p differs from what
// order, a verified order's binding, released: the payment of the order
// (txn.order_id), in its currency, with its instrument if it named one,
// from its device, of no more than its amount. "" when the order's check
// releases the payment.
func paysOrder(order, p pdp.VerificationBinding) string {
	switch {
	case order.Stage != pdp.StageOrder:
		return "stage"
	case order.Currency != p.Currency:
		return "currency"
	case p.Amount > order.Amount:
		return "amount"
	case order.Instrument != "" && order.Instrument != p.Instrument:
		return "instrument"
	case order.DeviceID != p.DeviceID:
		return "device"
	}
	return ""
}
