package decide

import (
	"context"
	"errors"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// Account events the payment service reports (POST /v1/events), so the
// policy sees "a sensitive change shortly before a large payment" and
// lock-outs without the caller repeating history in every request.
var eventKinds = map[string]pdp.FailureKind{
	"password_reset": 0, "phone_change": 0, "pay_password_change": 0, "profile_change": 0, "email_change": 0, "device_bind": 0,
	"login_failed": pdp.FailureLogin, "pin_failed": pdp.FailurePIN, "payment_failed": pdp.FailurePayment,
}

// maxEventSkew bounds how far in the future an event's time may be.
const maxEventSkew = 5 * time.Minute

// EventRequest is the body of POST /v1/events.
type EventRequest struct {
	UID      string `json:"uid"`
	Kind     string `json:"kind"`
	At       string `json:"at"` // RFC 3339; default now
	DeviceID string `json:"device_id"`
}

// ErrNoState answers endpoints that need the risk state when it is off.
var ErrNoState = &pdp.Error{Code: pdp.CodeUnavailable, Message: "risk state is not enabled"}

// DecodeEvent decodes and validates an event body.
func DecodeEvent(body []byte, now time.Time) (pdp.AccountEvent, string, error) {
	var req EventRequest
	if err := request.DecodeStrict(body, 8, &req); err != nil {
		return pdp.AccountEvent{}, "", err
	}
	switch {
	case req.UID == "":
		return pdp.AccountEvent{}, "", pdp.Errorf(pdp.CodeMissingField, "uid", "is required")
	case len(req.UID) > 128:
		return pdp.AccountEvent{}, "", pdp.Errorf(pdp.CodeInvalidValue, "uid", "longer than 128 bytes")
	case req.Kind == "":
		return pdp.AccountEvent{}, "", pdp.Errorf(pdp.CodeMissingField, "kind", "is required")
	case len(req.DeviceID) > 128:
		return pdp.AccountEvent{}, "", pdp.Errorf(pdp.CodeInvalidValue, "device_id", "longer than 128 bytes")
	}
	if _, ok := eventKinds[req.Kind]; !ok {
		return pdp.AccountEvent{}, "", pdp.Errorf(pdp.CodeInvalidValue, "kind",
			"must be password_reset, phone_change, pay_password_change, profile_change, email_change, device_bind, login_failed, pin_failed or payment_failed")
	}
	at := now
	if req.At != "" {
		t, err := time.Parse(time.RFC3339Nano, req.At)
		if err != nil {
			return pdp.AccountEvent{}, "", pdp.Errorf(pdp.CodeInvalidValue, "at", "must be an RFC 3339 time")
		}
		if t.After(now.Add(maxEventSkew)) {
			return pdp.AccountEvent{}, "", pdp.Errorf(pdp.CodeInvalidValue, "at", "is in the future")
		}
		at = t
	}
	return pdp.AccountEvent{Kind: req.Kind, At: at, DeviceID: req.DeviceID}, req.UID, nil
}

// Event records an account event durably before it returns, and counts
// failures in the velocity windows.
func (s *Service) Event(ctx context.Context, body []byte) (pdp.AccountEvent, error) {
	now := s.now()
	ev, uid, err := DecodeEvent(body, now)
	if err != nil {
		return ev, err
	}
	if s.state == nil {
		return ev, ErrNoState
	}
	if _, err := s.state.UpdateAccount(ctx, uid, state.Sync, nil, func(a *pdp.AccountState) error {
		a.Events = append(a.Events, ev)
		return nil
	}); err != nil {
		return ev, errors.Join(errState, err)
	}
	if kind := eventKinds[ev.Kind]; kind != 0 && s.velocity != nil {
		_ = s.velocity.RecordFailure(ev.At, uid, kind)
	}
	return ev, nil
}
