package decide

import (
	"errors"
	"fmt"
	"slices"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/engine"
	"github.com/riskpdp/riskpdp/pdp/state"
	"github.com/riskpdp/riskpdp/pdp/velocity"
)

// errState marks a failure to read the risk state: the decision falls back.
var errState = errors.New("risk state unavailable")

// sensitiveEvents make a following large money movement suspicious.
var sensitiveEvents = map[string]bool{"password_reset": true, "phone_change": true, "pay_password_change": true}

// enrich adds what the sidecar knows to the policy input: reputation,
// account state, verification, velocity. It returns the account state it
// read (nil without state). A *pdp.Error is the caller's mistake; any other
// error means the state could not be read.
func (s *Service) enrich(in *engine.Input) (*pdp.AccountState, error) {
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
		in.Derived.VIP = in.Derived.VIP || in.Enrich.Reputation[engine.RepUID].VIP

		var err error
		if acct, err = s.state.Account(r.UID, now); err != nil {
			if err := unknown(in, "account", err); err != nil {
				return nil, err
			}
		} else {
			in.Enrich.Account = accountView(acct, r.Stage, now)
			for _, e := range acct.Events {
				if sensitiveEvents[e.Kind] {
					in.NoteSensitiveChange(e.At)
				}
			}
			if r.Device.ID != "" {
				in.SetDeviceNew(!knowsDevice(acct, r.Device.ID))
			}
		}
		if err := s.verification(in); err != nil {
			return nil, err
		}
	}
	if s.velocity != nil {
		v := new(pdp.Velocity)
		s.velocity.Observe(now, velocity.Observation{UID: r.UID, Device: r.Device.ID, IP: r.Device.IP,
			Amount: r.Txn.Amount, Login: !r.Stage.NeedsTxn()}, v)
		if s.fleet != nil {
			s.fleet.Observe(now, r.UID, r.Device.ID, r.Device.IP, r.Stage.NeedsTxn(), v)
		}
		in.Enrich.Velocity = v
	}
	return acct, nil
}

// unknown handles a failed read of part of the risk state. A shared store
// past its read budget (state.ErrUnavailable) leaves that part unknown: it
// is named in input.state_unknown and the policy decides with the rest (a
// cached block still denies; the reference policy steps up). Any other
// failure is an internal fault: the decision falls back.
func unknown(in *engine.Input, part string, err error) error {
	if !errors.Is(err, state.ErrUnavailable) {
		return fmt.Errorf("%w: %s: %w", errState, part, err)
	}
	if !slices.Contains(in.Enrich.Unknown, part) {
		in.Enrich.Unknown = append(in.Enrich.Unknown, part)
	}
	return nil
}

// verification finds the verification of this request's subject (its
// transaction, or for a login its device) and, when the caller names a
// challenge, checks the challenge is this request's.
func (s *Service) verification(in *engine.Input) error {
	r := &in.Req
	subject := subjectOf(r)
	if r.ChallengeID != "" {
		c, err := s.signer.open(r.ChallengeID, in.Now)
		switch {
		case errors.Is(err, errChallengeInvalid):
			return pdp.Errorf(pdp.CodeInvalidValue, "challenge_id", "unknown challenge")
		case err == nil && (c.UID != r.UID || c.Subject != subject):
			return pdp.Errorf(pdp.CodeInvalidValue, "challenge_id", "the challenge belongs to another operation")
		}
		// An expired challenge is not an error: the retry steps up again.
	}
	v, ok, err := s.state.Verification(r.UID, subject, in.Now)
	if err != nil {
		return unknown(in, "verification", err)
	}
	if !ok {
		return nil
	}
	view := engine.VerificationView{Status: v.Status(), ChallengeID: v.ChallengeID, Methods: v.Methods}
	for _, m := range v.Methods {
		if v.Results[m] == pdp.VerificationPassed {
			view.Passed = append(view.Passed, m)
		}
	}
	if in.Now.After(v.UpdatedAt.Add(s.verificationTTL)) {
		// Too old to release anything; a failure still counts.
		if view.Status == "passed" || view.Status == "pending" {
			view.Status, view.Passed = "expired", nil
		}
	}
	in.Enrich.Verification = view
	return nil
}
