package pdp

import (
	"encoding/json"
	"fmt"
	"time"
)

// Decision is the sidecar's answer to a decide request.
type Decision struct {
	// ID is unique per decision and time-ordered (UUIDv7); the decision log
	// and operator tools use it to find the record.
	ID        string
	RequestID string
	Outcome   Outcome
	// Reasons are internal reason codes for the service and the log; they
	// are never meant for the end user.
	Reasons []string
	// StepUp is set when Outcome is StepUp.
	StepUp *StepUpChallenge
	// Message is generic text that is safe to show the end user: it never
	// reveals which rule fired.
	Message string
	// Warning is an additional notice to show the user (e.g. anti-fraud).
	Warning *Warning
	// Limit is set on a conditional release (allow after a passed step-up)
	// or while the account is on probation.
	Limit *Limit
	// Obligations lists the actions the sidecar carried out for the policy.
	Obligations []Obligation
	// PolicyRevision identifies the policy set that decided.
	PolicyRevision string
	// Evaluator names the policy evaluator that answered ("fast",
	// "opa_optimized", "opa": see engine.Result), "" on a fallback;
	// Reevaluated is the error of the faster evaluator after which OPA's
	// evaluator answered. The decision log records both.
	Evaluator, Reevaluated string
	// Fallback is true when an internal fault produced the outcome.
	Fallback bool
	Took     time.Duration
}

// StepUpChallenge tells the caller which verification to run before it may
// retry the same operation.
type StepUpChallenge struct {
	Methods     []string
	ChallengeID string    // set once risk state is enabled
	ExpiresAt   time.Time // zero when there is no challenge
}

// Warning is a user-facing notice chosen by the policy from a fixed set of
// codes; its text comes from the sidecar configuration, not the policy.
type Warning struct {
	Code    string
	Message string
}

// Limit caps what a conditionally released account may move.
type Limit struct {
	// Operator marks a limit set through the operator API: its daily cap
	// counts every money movement. A release's cap (a policy's limit
	// obligation) bounds large payments only (000 §3.3).
	Operator bool
	// MaxAmount caps a single operation; 0 means no per-operation cap.
	MaxAmount float64
	// DailyAmount caps the total over 24 hours; 0 means no daily cap.
	DailyAmount float64
	// Currency of the amounts.
	Currency string
	// Duration is how long the limit lasts once set (as the policy asks);
	// Until is the resulting expiry. Zero Duration means the default (24h).
	Duration time.Duration
	Until    time.Time
}

// limitJSON is Limit as JSON: the decision API's names, the duration as a
// Go duration string ("24h0m0s").
type limitJSON struct {
	MaxAmount   float64   `json:"max_amount,omitempty"`
	DailyAmount float64   `json:"daily_amount,omitempty"`
	Currency    string    `json:"currency,omitempty"`
	Duration    string    `json:"duration,omitempty"`
	Until       time.Time `json:"until,omitzero"`
	Operator    bool      `json:"operator,omitempty"`
}

// MarshalJSON writes the limit with the decision API's names and its
// duration as a string such as "24h0m0s".
func (l Limit) MarshalJSON() ([]byte, error) {
	j := limitJSON{MaxAmount: l.MaxAmount, DailyAmount: l.DailyAmount, Currency: l.Currency, Until: l.Until, Operator: l.Operator}
	if l.Duration != 0 {
		j.Duration = l.Duration.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *Limit) UnmarshalJSON(b []byte) error {
	var j limitJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var d time.Duration
	if j.Duration != "" {
		var err error
		if d, err = time.ParseDuration(j.Duration); err != nil {
			return fmt.Errorf("limit duration: %w", err)
		}
	}
	*l = Limit{MaxAmount: j.MaxAmount, DailyAmount: j.DailyAmount, Currency: j.Currency, Duration: d, Until: j.Until,
		Operator: j.Operator}
	return nil
}
