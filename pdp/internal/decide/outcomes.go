package decide

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// Payment outcomes (POST /v1/outcomes): what became of a money movement
// the sidecar allowed. A completed payment teaches the habit; a failed one
// (or one reversed before it completed) no longer counts in the day's
// spend; chargebacks, fraud reports and confirmations are labels, kept
// with the decision that allowed the payment. Each outcome is journaled
// (action "outcome", never pruned: the labels' record) and counted.
// Reporting a status twice changes nothing (idempotent per txn and status).

// OutcomeRequest is the body of POST /v1/outcomes.
type OutcomeRequest struct {
	UID    string   `json:"uid"`
	TxnID  string   `json:"txn_id"`
	Status string   `json:"status"`
	Amount *float64 `json:"amount"`
	// Currency of Amount (ISO 4217).
	Currency string `json:"currency"`
	At       string `json:"at"` // RFC 3339; default now
}

// Outcome is the answer: the payment's outcomes after this report.
type Outcome struct {
	UID, TxnID string
	Status     pdp.OutcomeStatus
	At         time.Time
	// Duplicate: the status had been reported already; nothing changed.
	Duplicate bool
	// Known: the sidecar keeps the payment (allowed in the last
	// state.PaymentMaxAge); an outcome of another is journaled only.
	Known    bool
	Outcomes []pdp.OutcomeMark
}

// OutcomeDetail is the Detail of an "outcome" journal record.
type OutcomeDetail struct {
	TxnID      string   `json:"txn_id"`
	Status     string   `json:"status"`
	Label      string   `json:"label,omitempty"`
	At         string   `json:"at"`
	Amount     *float64 `json:"amount,omitempty"`
	Currency   string   `json:"currency,omitempty"`
	DecisionID string   `json:"decision_id,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
	Stage      string   `json:"stage,omitempty"`
}

// errDuplicate aborts an account update that would change nothing.
var errDuplicate = errors.New("outcome reported already")

// DecodeOutcome decodes and validates an outcome body.
func DecodeOutcome(body []byte, now time.Time) (OutcomeRequest, pdp.OutcomeStatus, time.Time, error) {
	var req OutcomeRequest
	if err := request.DecodeStrict(body, 8, &req); err != nil {
		return req, 0, time.Time{}, err
	}
	switch {
	case req.UID == "":
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeMissingField, "uid", "is required")
	case len(req.UID) > 128:
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, "uid", "longer than 128 bytes")
	case req.TxnID == "":
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeMissingField, "txn_id", "is required")
	case len(req.TxnID) > 128:
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, "txn_id", "longer than 128 bytes")
	case req.Status == "":
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeMissingField, "status", "is required")
	case req.Amount != nil && (*req.Amount < 0 || math.IsInf(*req.Amount, 0) || math.IsNaN(*req.Amount)):
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, "amount", "must be a finite number, not negative")
	case req.Amount != nil && req.Currency == "":
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeMissingField, "currency", "is required with an amount")
	}
	if req.Currency != "" {
		cur, ok := pdp.CanonicalCurrency(req.Currency)
		if !ok {
			return req, 0, time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, "currency", "must be an ISO 4217 code such as \"CNY\"")
		}
		req.Currency = cur
	}
	status, ok := pdp.ParseOutcomeStatus(req.Status)
	if !ok {
		return req, 0, time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, "status",
			"must be completed, failed, reversed, refunded, chargeback, fraud_reported or confirmed_legit")
	}
	at := now
	if req.At != "" {
		t, err := time.Parse(time.RFC3339Nano, req.At)
		if err != nil {
			return req, 0, time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, "at", "must be an RFC 3339 time")
		}
		if t.After(now.Add(maxEventSkew)) {
			return req, 0, time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, "at", "is in the future")
		}
		at = t
	}
	return req, status, at, nil
}

// Outcome records a payment outcome durably (with its journal record)
// before it returns, then applies it: a failed payment's spend is taken
// back, a completed one teaches the habit. An outcome that contradicts how
// the payment settled (failed after completed, or the reverse) is refused
// (409); the same status twice is answered as before and changes nothing.
func (s *Service) Outcome(ctx context.Context, body []byte) (Outcome, error) {
	now := s.now()
	req, status, at, err := DecodeOutcome(body, now)
	if err != nil {
		return Outcome{}, err
	}
	if s.state == nil {
		return Outcome{}, ErrNoState
	}
	out := Outcome{UID: req.UID, TxnID: req.TxnID, Status: status, At: at}
	var paid pdp.Payment
	detail := OutcomeDetail{TxnID: req.TxnID, Status: status.String(), Label: status.Label(), At: jsonw.FormatTime(at),
		Amount: req.Amount, Currency: req.Currency}
	audit := &pdp.AuditRecord{At: now, Actor: pdp.Actor{Operator: obligationActor, Reason: "outcome reported"},
		Action: "outcome", UID: req.UID, Target: "txn/" + req.TxnID}
	_, err = s.state.UpdateAccount(ctx, req.UID, state.Sync, audit, func(a *pdp.AccountState) error {
		p := findPayment(a, req.TxnID)
		out.Known = p != nil
		if p == nil {
			// Not a payment this sidecar keeps: a label is still a
			// label (a chargeback weeks later), anything else has
			// nothing to apply to.
			if status.Label() == "" {
				return pdp.Errorf(pdp.CodeNotFound, "txn_id", "no allowed payment %s of this account in the last %v", req.TxnID, state.PaymentMaxAge)
			}
			audit.Detail = marshal(detail)
			return nil
		}
		if p.Has(status) {
			paid = *p
			return errDuplicate
		}
		if settled := p.Settled(); status.Settles() && settled != 0 {
			return pdp.Errorf(pdp.CodeConflict, "status", "the payment %s already", settled)
		}
		if status == pdp.OutcomeCompleted {
			a.Habit.Observe(p.AmountBase, p.Category)
		}
		p.Outcomes = append(p.Outcomes, pdp.OutcomeMark{Status: status, At: at})
		paid = *p
		detail.DecisionID, detail.Reasons, detail.Stage = p.DecisionID, p.Reasons, p.Stage.String()
		audit.Detail = marshal(detail)
		return nil
	})
	switch {
	case errors.Is(err, errDuplicate):
		out.Duplicate, out.Known, out.Outcomes = true, true, paid.Outcomes
		return out, nil
	case err != nil:
		if e := (*pdp.Error)(nil); errors.As(err, &e) {
			return Outcome{}, e
		}
		return Outcome{}, errors.Join(errState, err)
	}
	out.Outcomes = paid.Outcomes
	s.metrics.Outcome(status.String(), status.Label(), paid.Reasons, out.Known)
	if s.velocity != nil && out.Known {
		switch {
		case status == pdp.OutcomeFailed, status == pdp.OutcomeReversed && paid.Settled() != pdp.OutcomeCompleted:
			s.velocity.UnrecordSpend(at, req.UID, paid.Purchase)
		}
		if status == pdp.OutcomeFailed {
			_ = s.velocity.RecordFailure(at, req.UID, pdp.FailurePayment)
		}
	}
	return out, nil
}

func findPayment(a *pdp.AccountState, txnID string) *pdp.Payment {
	for i := len(a.Payments) - 1; i >= 0; i-- {
		if a.Payments[i].TxnID == txnID {
			return &a.Payments[i]
		}
	}
	return nil
}

func marshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
