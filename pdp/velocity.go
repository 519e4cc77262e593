package pdp

// Velocity is what the sidecar counted from the traffic it decided, as the
// policy sees it under input.velocity. Counts include the request being
// decided. Windows slide at the granularity documented by pdp/velocity.
//
// Money counts and amounts count transactions, not calls: a retry of an
// operation (the same txn.id, or a payment of the same txn.order_id) does
// not count again; Attempts1m/1h count every call, retries included.
type Velocity struct {
	UID    WindowCounts `json:"uid"`
	Device WindowCounts `json:"device"`
	IP     WindowCounts `json:"ip"`
	// UIDDevices1h is the number of distinct devices the UID used in the
	// last hour; DeviceUIDs1h the number of distinct UIDs on the device.
	UIDDevices1h uint32 `json:"uid_devices_1h"`
	DeviceUIDs1h uint32 `json:"device_uids_1h"`
	// Failures reported through /v1/events for the UID.
	Failures Failures `json:"failures"`
	// Spent24h is the sum of amounts the UID was allowed to move in the
	// last 24 hours, each purchase once, less the payments reported failed
	// (the basis of daily caps).
	Spent24h float64 `json:"spent_24h"`
	// Attempts1m and Attempts1h count the UID's money calls, retries and
	// denied attempts included (card testing, retry storms).
	Attempts1m uint32 `json:"attempts_1m"`
	Attempts1h uint32 `json:"attempts_1h"`
	// UIDMethods1h and PurchaseMethods1h are the distinct payment methods
	// the UID, and this purchase (an order and its payment), tried in the
	// last hour; InstrumentUIDs1h the distinct UIDs that paid with this
	// instrument (txn.instrument), UIDInstruments1h the distinct
	// instruments the UID paid with (cards tried one after another: card
	// testing; a withdrawal's destination is not one, and a withdrawal
	// gets 0). This request included; 0 when the request names no method
	// or instrument.
	UIDMethods1h      uint32 `json:"uid_methods_1h"`
	PurchaseMethods1h uint32 `json:"purchase_methods_1h"`
	InstrumentUIDs1h  uint32 `json:"instrument_uids_1h"`
	UIDInstruments1h  uint32 `json:"uid_instruments_1h"`
}

// WindowCounts are counts and amount sums over sliding windows for one key.
// Money-moving stages (everything but login) count in Count and Amount;
// logins count in Logins.
type WindowCounts struct {
	Count1m   uint32  `json:"count_1m"`
	Count1h   uint32  `json:"count_1h"`
	Count24h  uint32  `json:"count_24h"`
	Amount1m  float64 `json:"amount_1m"`
	Amount1h  float64 `json:"amount_1h"`
	Amount24h float64 `json:"amount_24h"`
	Logins1h  uint32  `json:"logins_1h"`
}

// Failures are failure events over sliding windows for one UID.
type Failures struct {
	Payment1h  uint32 `json:"payment_1h"`
	Payment24h uint32 `json:"payment_24h"`
	PIN1h      uint32 `json:"pin_1h"`
	PIN24h     uint32 `json:"pin_24h"`
	Login1h    uint32 `json:"login_1h"`
	Login24h   uint32 `json:"login_24h"`
}

// FailureKind is a failure event kind counted in Failures.
type FailureKind uint8

// Failure kinds.
const (
	FailurePayment FailureKind = iota + 1
	FailurePIN
	FailureLogin
)
