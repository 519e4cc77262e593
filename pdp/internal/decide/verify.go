package decide

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
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
// challenge, durably, and returns the operation's verification as stored
// after this result. A result for an unknown, expired or foreign
// challenge, or for a method the challenge did not ask for, is rejected
// and changes nothing. A failed or refused method stays failed: a later or
// concurrent "passed" for the same operation does not undo it (verify
// first, release after). The result is applied to the stored record in one
// atomic step (state.UpdateVerification), so results reported at the same
// time are all kept and the answer is the state this result produced.
func (s *Service) Verify(ctx context.Context, body []byte) (pdp.Verification, error) {
	var req VerificationRequest
	if err := request.DecodeStrict(body, 8, &req); err != nil {
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
	subject := pdp.VerificationSubject(c.Binding)
	v, err := s.state.UpdateVerification(ctx, c.UID, subject,
		func(cur *pdp.Verification) (pdp.Verification, error) {
			return withResult(cur, &c, subject, req.Method, result, now), nil
		},
		func(v *pdp.Verification) *pdp.AuditRecord {
			detail, _ := json.Marshal(map[string]string{"challenge_id": c.ID, "method": req.Method,
				"result": v.Results[req.Method].String(), "status": v.Status()})
			return &pdp.AuditRecord{At: now, Actor: pdp.Actor{Operator: obligationActor, Reason: "verification reported"},
				Action: "verification", Target: "txn/" + subject, Detail: string(detail)}
		})
	if err != nil {
		return pdp.Verification{}, errors.Join(errState, err)
	}
	return v, nil
}

// withResult is the operation's verification after method reported result
// for challenge c, given what was stored (cur, nil when nothing): the
// results of an earlier challenge for the same operation carry over (a
// passed face check stays passed), failures carry over whatever the
// earlier challenge was bound to (a failed check of a transaction stays
// failed for it, at any amount), and the new result is added unless the
// method already failed.
func withResult(cur *pdp.Verification, c *challenge, subject, method string, result pdp.VerificationResult, now time.Time) pdp.Verification {
	v := pdp.Verification{ChallengeID: c.ID, UID: c.UID, Subject: subject, Binding: c.Binding, Bound: true,
		Methods: c.Methods, Results: make(map[string]pdp.VerificationResult, len(c.Methods)), Expires: c.Expires, UpdatedAt: now}
	if cur != nil {
		same := cur.Bound && cur.Binding.Mismatch(c.Binding) == ""
		for m, r := range cur.Results {
			if same || r.Sticky() {
				v.Results[m] = r
			}
		}
		if cur.Expires.After(v.Expires) {
			v.Expires = cur.Expires
		}
	}
	if !v.Results[method].Sticky() {
		v.Results[method] = result
	}
	return v
}
