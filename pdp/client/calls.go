package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// The rest of the decision API a payment service uses: the step-up loop's
// verifications, account events, payment outcomes and readiness. Each
// call that changes state is written durably before the sidecar answers,
// so each gets at least writeTimeout.

// writeTimeout is the least time a call the sidecar writes durably (an
// fsync, or a Redis round trip) before it answers gets.
const writeTimeout = 2 * time.Second

// Verification reports the result of one method of a step-up challenge
// (Decision.StepUp): Result is "passed", "failed" or "refused".
type Verification struct {
	ChallengeID string `json:"challenge_id"`
	Method      string `json:"method"`
	Result      string `json:"result"`
	// UID, when set, is checked to be the challenge's account.
	UID string `json:"uid,omitempty"`
}

// VerificationStatus is the challenge's state after a result: Status is
// "pending", "passed" or "failed"; Passed the methods passed so far.
type VerificationStatus struct {
	Status  string   `json:"status"`
	Methods []string `json:"methods"`
	Passed  []string `json:"passed"`
}

// Verify reports a step-up result. Reporting the same result again
// changes nothing (a failed check wins over any later passed), so the call
// is retried once after a connection failure. A *Error with Status 404,
// 409 or 403 means an unknown, expired or foreign challenge.
func (c *Client) Verify(ctx context.Context, v *Verification) (*VerificationStatus, error) {
	var out VerificationStatus
	return &out, c.send(ctx, "/v1/verifications", v, true, &out)
}

// Event is an account event the service reports (README "Account
// events"): Kind is password_reset, phone_change, pay_password_change,
// profile_change, email_change, device_bind, login_failed, pin_failed or
// payment_failed; At defaults to now.
type Event struct {
	UID      string    `json:"uid"`
	Kind     string    `json:"kind"`
	At       time.Time `json:"at,omitzero"`
	DeviceID string    `json:"device_id,omitempty"`
}

// EventRecorded is the sidecar's answer to an event.
type EventRecorded struct {
	Recorded bool      `json:"recorded"`
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
}

// Event records an account event. Events count (two failed logins are
// two), so the call is never retried: after a transport error the service
// decides whether to send it again.
func (c *Client) Event(ctx context.Context, e *Event) (*EventRecorded, error) {
	var out EventRecorded
	return &out, c.send(ctx, "/v1/events", e, false, &out)
}

// Outcome is what became of a money movement the sidecar allowed
// (README "Payment outcomes"): Status is completed, failed, reversed,
// refunded, chargeback, fraud_reported or confirmed_legit.
type Outcome struct {
	UID    string `json:"uid"`
	TxnID  string `json:"txn_id"`
	Status string `json:"status"`
	// Amount and Currency are optional and only recorded.
	Amount   float64   `json:"amount,omitempty"`
	Currency string    `json:"currency,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// OutcomeRecorded is the sidecar's answer to an outcome: Recorded is
// false when the same status was reported before; Known is false for a
// label of a payment the sidecar no longer keeps.
type OutcomeRecorded struct {
	Recorded bool             `json:"recorded"`
	UID      string           `json:"uid"`
	TxnID    string           `json:"txn_id"`
	Status   string           `json:"status"`
	Known    bool             `json:"known"`
	Outcomes []ReportedStatus `json:"outcomes"`
}

// ReportedStatus is one outcome reported for a payment.
type ReportedStatus struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// Outcome reports a payment's outcome. The same status twice is answered
// as before and changes nothing, so the call is retried once after a
// connection failure. A *Error with Status 404 names an unknown
// transaction; 409 a completed payment reported failed (or the reverse).
func (c *Client) Outcome(ctx context.Context, o *Outcome) (*OutcomeRecorded, error) {
	var out OutcomeRecorded
	return &out, c.send(ctx, "/v1/outcomes", o, true, &out)
}

// Ready reports whether the sidecar is ready to decide (GET
// /health/ready): nil when it is, a *Error with Status 503 when it is not
// (no policy loaded yet), another error when it cannot be reached.
func (c *Client) Ready(ctx context.Context) error {
	var out struct {
		Status string `json:"status"`
	}
	return c.do(ctx, fasthttp.MethodGet, "/health/ready", nil, c.timeout, true, &out)
}

// send posts v as JSON to path with at least writeTimeout; retry says
// whether the call is idempotent.
func (c *Client) send(ctx context.Context, path string, v any, retry bool, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("pdp: encode %s: %w", path, err)
	}
	return c.do(ctx, fasthttp.MethodPost, path, body, max(c.timeout, writeTimeout), retry, out)
}
