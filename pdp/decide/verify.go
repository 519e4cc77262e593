package decide

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/engine"
)

// VerificationRequest is the body of POST /v1/verifications.
type VerificationRequest struct {
	ChallengeID string `json:"challenge_id"`
	Method      string `json:"method"`
	Result      string `json:"result"`
	// UID, when sent, must be the challenge's.
	UID string `json:"uid"`
}

// Verify records the result of one verification method for a step-up
// challenge, durably, and returns the challenge's verification. A result
// for an unknown, expired or foreign challenge, or for a method the
// challenge did not ask for, is rejected and changes nothing. A failed or
// refused method stays failed: a later "passed" for the same challenge
// does not undo it (verify first, release after).
func (s *Service) Verify(ctx context.Context, body []byte) (pdp.Verification, error) {
	var req VerificationRequest
	if err := engine.DecodeStrict(body, 8, &req); err != nil {
		return pdp.Verification{}, err
	}
	switch {
	case req.ChallengeID == "":
		return pdp.Verification{}, pdp.Errorf(pdp.CodeMissingField, "challenge_id", "is required")
	case req.Method == "":
		return pdp.Verification{}, pdp.Errorf(pdp.CodeMissingField, "method", "is required")
	case req.Result == "":
		return pdp.Verification{}, pdp.Errorf(pdp.CodeMissingField, "result", "is required")
	}
	result, ok := pdp.ParseVerificationResult(req.Result)
	if !ok {
		return pdp.Verification{}, pdp.Errorf(pdp.CodeInvalidValue, "result", "must be passed, failed or refused")
	}
	if s.state == nil {
		return pdp.Verification{}, ErrNoState
	}
	now := s.now()
	c, err := s.signer.open(req.ChallengeID, now)
	switch {
	case errors.Is(err, errChallengeInvalid):
		return pdp.Verification{}, pdp.Errorf(pdp.CodeNotFound, "challenge_id", "unknown challenge")
	case errors.Is(err, errChallengeExpired):
		return pdp.Verification{}, pdp.Errorf(pdp.CodeConflict, "challenge_id", "the challenge has expired; decide again for a new one")
	case req.UID != "" && req.UID != c.UID:
		return pdp.Verification{}, pdp.Errorf(pdp.CodeForbidden, "uid", "the challenge belongs to another account")
	case !slices.Contains(c.Methods, req.Method):
		return pdp.Verification{}, pdp.Errorf(pdp.CodeInvalidValue, "method", "the challenge asked for %v", c.Methods)
	}
	prev, found, err := s.state.Verification(c.UID, c.Subject, now)
	if err != nil {
		return pdp.Verification{}, errors.Join(errState, err)
	}
	// The store shares its copy: build a new record. Results of an earlier
	// challenge for the same operation carry over (a passed face check
	// stays passed, a failure stays a failure).
	v := pdp.Verification{ChallengeID: c.ID, UID: c.UID, TxnID: c.Subject, Methods: c.Methods,
		Results: make(map[string]pdp.VerificationResult, len(c.Methods)), Expires: c.Expires}
	if found {
		for m, r := range prev.Results {
			v.Results[m] = r
		}
	}
	if prev := v.Results[req.Method]; prev == pdp.VerificationFailed || prev == pdp.VerificationRefused {
		result = prev
	}
	v.Results[req.Method] = result
	v.UpdatedAt = now
	detail, _ := json.Marshal(map[string]string{"challenge_id": c.ID, "method": req.Method,
		"result": result.String(), "status": v.Status()})
	audit := &pdp.AuditRecord{At: now, Actor: pdp.Actor{Operator: obligationActor, Reason: "verification reported"},
		Action: "verification", Target: "txn/" + c.Subject, Detail: string(detail)}
	if err := s.state.RecordVerification(ctx, v, audit); err != nil {
		return pdp.Verification{}, errors.Join(errState, err)
	}
	return v, nil
}
