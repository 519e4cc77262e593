package pdp

import "time"

// Request is the typed view of a decide request: the fields the sidecar
// itself reads (to key state, velocity and plugins). The policy sees the
// whole request document, including the free-form context, as its input.
type Request struct {
	// RequestID is the caller's id, echoed back. Optional.
	RequestID string
	// ChallengeID names an earlier step-up challenge the caller is retrying.
	// Optional: a retry of the same uid and txn.id finds it anyway.
	ChallengeID string
	Stage       Stage
	UID         string
	Device      Device
	// Txn is present for every stage but login (HasTxn reports it).
	Txn     Txn
	HasTxn  bool
	Account Account
	// Traceparent is the W3C trace context header, when the caller sent one.
	Traceparent string
	// Locale chooses the language of the user-facing message ("zh",
	// "en-SG"); "" for the configured default.
	Locale string
}

// Device describes where the operation comes from.
type Device struct {
	ID        string
	IP        string
	IPCountry string
	// New is what the caller says; when unset the sidecar derives it from
	// the devices it has seen for the UID.
	New OptBool
}

// Txn describes the money movement or order being authorized.
type Txn struct {
	ID string
	// OrderID links a payment to the order it pays (the order's txn.id):
	// the two are one purchase for velocity, spend and the order's
	// verification.
	OrderID       string
	Amount        float64
	Currency      string
	Category      string
	Merchant      string
	PaymentMethod string
	ShipCountry   string
	// CardBIN is the first 6 to 8 digits of the card. Full card numbers are
	// refused by the decoder.
	CardBIN string
	// Instrument is a fingerprint of the payment instrument (a token the
	// service derives from the card or account, never the number): one
	// instrument paying for many accounts is a signal. For a withdrawal it
	// is the destination: the sidecar remembers the destinations an
	// account moved money to, and knows which are new.
	Instrument string
	// DestinationNew is what the caller says of a withdrawal's
	// destination. It can make a destination new, never known: the
	// sidecar's own record (Instrument) decides that.
	DestinationNew OptBool
}

// Account is the caller's profile of the account.
type Account struct {
	HomeCountry   string
	CreatedAt     time.Time // zero when unknown
	VIP           OptBool
	RecentChanges []AccountChange
}

// AccountChange is a sensitive profile change the caller reports inline.
type AccountChange struct {
	Kind string
	At   time.Time
}

// OptBool is a boolean that may be absent. The zero value is Unset.
type OptBool uint8

// OptBool values.
const (
	Unset OptBool = iota
	False
	True
)

// OptBoolOf converts b to an OptBool that is set.
func OptBoolOf(b bool) OptBool {
	if b {
		return True
	}
	return False
}

// IsTrue reports whether o is set and true.
func (o OptBool) IsTrue() bool { return o == True }

// Purchase is the key of the purchase a money movement belongs to: an
// order, and the payment that names it in txn.order_id, are one purchase;
// any other operation is its own transaction. Retries of a purchase count
// once (pdp/internal/velocity).
func (r *Request) Purchase() string {
	switch {
	case r.Txn.OrderID != "":
		return "order:" + r.Txn.OrderID
	case r.Stage == StageOrder:
		return "order:" + r.Txn.ID
	}
	return "txn:" + r.Txn.ID
}
