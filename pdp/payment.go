package pdp

import "time"

// Payment outcomes: what became of a money movement the sidecar allowed,
// reported back by the payment service (POST /v1/outcomes). They decide
// what counts as spend and habit (a payment that failed does not), and some
// of them are labels — a chargeback, a fraud report, a confirmation that a
// payment was the customer's — kept with the decision that allowed it, so
// that catch and friction can be measured on real traffic.

// OutcomeStatus is one reported outcome.
type OutcomeStatus uint8

// Outcome statuses.
const (
	OutcomeCompleted OutcomeStatus = iota + 1
	OutcomeFailed
	OutcomeReversed
	OutcomeRefunded
	OutcomeChargeback
	OutcomeFraudReported
	OutcomeConfirmedLegit
)

var outcomeStatusNames = [...]string{"", "completed", "failed", "reversed", "refunded", "chargeback", "fraud_reported", "confirmed_legit"}

// String returns the wire name.
func (o OutcomeStatus) String() string {
	if o >= OutcomeCompleted && o <= OutcomeConfirmedLegit {
		return outcomeStatusNames[o]
	}
	return "unknown"
}

// ParseOutcomeStatus maps a wire name to its status.
func ParseOutcomeStatus(s string) (OutcomeStatus, bool) {
	for i := OutcomeCompleted; i <= OutcomeConfirmedLegit; i++ {
		if outcomeStatusNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// Label is the label an outcome gives the payment for measuring catch and
// friction, in the words `pdp replay --labels` reads: "chargeback",
// "fraud", "legit", or "" for an outcome that is not a label.
func (o OutcomeStatus) Label() string {
	switch o {
	case OutcomeChargeback:
		return "chargeback"
	case OutcomeFraudReported:
		return "fraud"
	case OutcomeConfirmedLegit:
		return "legit"
	}
	return ""
}

// Settles reports whether the status says how the payment ended (it
// completed or it did not): a payment settles once.
func (o OutcomeStatus) Settles() bool { return o == OutcomeCompleted || o == OutcomeFailed }

// Payment is a money movement the sidecar allowed, kept with the account
// (bounded: MaxPayments in pdp/internal/state) so that its outcomes can be applied:
// its purchase for spend, its category for the habit, the decision that
// allowed it for labels.
type Payment struct {
	TxnID      string
	Purchase   string // Request.Purchase
	DecisionID string
	Reasons    []string // of the allowing decision
	Stage      Stage
	Amount     float64 // as sent, in Currency
	Currency   string
	AmountBase float64 // in the policy's base currency
	Category   string
	At         time.Time
	// Outcomes are the statuses reported, each once, in order.
	Outcomes []OutcomeMark
}

// OutcomeMark is one reported status and when it happened.
type OutcomeMark struct {
	Status OutcomeStatus
	At     time.Time
}

// Has reports whether the payment has had status reported.
func (p *Payment) Has(status OutcomeStatus) bool {
	for _, m := range p.Outcomes {
		if m.Status == status {
			return true
		}
	}
	return false
}

// Settled returns how the payment ended (completed or failed), 0 when no
// outcome says yet.
func (p *Payment) Settled() OutcomeStatus {
	for _, m := range p.Outcomes {
		if m.Status.Settles() {
			return m.Status
		}
	}
	return 0
}
