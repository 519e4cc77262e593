package pdp

import (
	"cmp"
	"time"
)

// Risk state: what the sidecar remembers between decisions (lists, freezes,
// probation, limits, verifications, account events, known devices) and the
// audit journal of operator actions. pdp/internal/state keeps it durable; the types
// here are what the decision path and the operator API exchange.

// SubjectKind is what a list entry is about.
type SubjectKind uint8

// Subject kinds.
const (
	SubjectUID SubjectKind = iota + 1
	SubjectDevice
	SubjectIP
	SubjectCardBIN
)

var subjectNames = [...]string{"", "uid", "device", "ip", "card_bin"}

// String returns the wire name (uid, device, ip, card_bin).
func (k SubjectKind) String() string {
	if k >= SubjectUID && k <= SubjectCardBIN {
		return subjectNames[k]
	}
	return "unknown"
}

// ParseSubjectKind maps a wire name to its kind.
func ParseSubjectKind(s string) (SubjectKind, bool) {
	for i := SubjectUID; i <= SubjectCardBIN; i++ {
		if subjectNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// ListKind is the list an entry belongs to.
type ListKind uint8

// Lists. A subject may be on several (an IP on the block list and the
// allow list is blocked: deny lists win in the reference policy).
const (
	ListBlock ListKind = iota + 1 // blocklist (for IPs: the threat list)
	ListAllow                     // allow list: exempt from some rules
	ListVIP                       // VIP: relaxed thresholds, never past a blocklist
)

var listNames = [...]string{"", "block", "allow", "vip"}

// String returns the wire name (block, allow, vip).
func (l ListKind) String() string {
	if l >= ListBlock && l <= ListVIP {
		return listNames[l]
	}
	return "unknown"
}

// ParseListKind maps a wire name to its list.
func ParseListKind(s string) (ListKind, bool) {
	for i := ListBlock; i <= ListVIP; i++ {
		if listNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// ListEntry puts a subject on a list, optionally until Expires.
type ListEntry struct {
	List    ListKind
	Subject SubjectKind
	Value   string
	Reason  string
	Expires time.Time // zero: no expiry
	Created time.Time
	Actor   Actor
}

// Active reports whether the entry is in force at t.
func (e ListEntry) Active(t time.Time) bool { return e.Expires.IsZero() || t.Before(e.Expires) }

// Reputation is what the lists say about one subject at decision time.
type Reputation struct {
	Blocked, Allowed, VIP bool
	// Reason of the block entry, for operators (never shown to users).
	BlockReason string
}

// Actor is who made a change: an operator (with the ticket they cite) or
// the sidecar itself carrying out a policy obligation.
type Actor struct {
	Operator string `json:"operator"` // "pdp" for obligations
	Ticket   string `json:"ticket,omitempty"`
	Reason   string `json:"reason"`
}

// FreezeKind is how a freeze ends.
type FreezeKind uint8

// Freeze kinds (001): temporary freezes lift themselves, review freezes
// wait for an operator, permanent ones are bans.
const (
	FreezeTemporary FreezeKind = iota + 1
	FreezeReview
	FreezePermanent
)

var freezeNames = [...]string{"", "temporary", "review", "permanent"}

// String returns the wire name.
func (k FreezeKind) String() string {
	if k >= FreezeTemporary && k <= FreezePermanent {
		return freezeNames[k]
	}
	return "unknown"
}

// ParseFreezeKind maps a wire name to its kind.
func ParseFreezeKind(s string) (FreezeKind, bool) {
	for i := FreezeTemporary; i <= FreezePermanent; i++ {
		if freezeNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// Freeze blocks an account. With Functions set it is a grey freeze: only
// those stages are denied (e.g. withdrawals), the others keep working.
type Freeze struct {
	Kind      FreezeKind
	Functions []Stage // empty: every stage
	Since     time.Time
	Until     time.Time // temporary freezes; zero otherwise
	// Rule, TxnID and DecisionID trace the freeze to what caused it.
	Rule       string
	TxnID      string
	DecisionID string
	Actor      Actor
	// ProbationAfter is the probation a temporary freeze leaves behind
	// when it lifts itself (002: release → 24 h probation).
	ProbationAfter time.Duration
}

// Active reports whether the freeze is in force at t.
func (f Freeze) Active(t time.Time) bool { return f.Until.IsZero() || t.Before(f.Until) }

// Covers reports whether the freeze applies to stage s.
func (f Freeze) Covers(s Stage) bool {
	if len(f.Functions) == 0 {
		return true
	}
	for _, x := range f.Functions {
		if x == s {
			return true
		}
	}
	return false
}

// Probation follows a release (002): for its duration large transactions
// need a fresh two-factor step-up.
type Probation struct {
	Since, Until time.Time
	Reason       string
}

// Active reports whether probation is in force at t.
func (p Probation) Active(t time.Time) bool { return !p.Until.IsZero() && t.Before(p.Until) }

// ProbationAt is the probation in force at now: the one a release started,
// or the one a temporary freeze left when it lifted itself (its
// ProbationAfter from the moment it ended), whichever lasts longer. Every
// release starts a probation, automatic or by an operator. The zero
// Probation when none is in force.
func (a *AccountState) ProbationAt(now time.Time) Probation {
	p := Probation{}
	if a.Probation.Active(now) {
		p = a.Probation
	}
	for _, f := range a.Freezes {
		if f.Active(now) || f.Kind != FreezeTemporary || f.ProbationAfter <= 0 || f.Until.IsZero() {
			continue
		}
		if until := f.Until.Add(f.ProbationAfter); now.Before(until) && until.After(p.Until) {
			// The policy's rule, else the operator's reason: an
			// operator's freeze has no rule ("released: " said nothing).
			p = Probation{Since: f.Until, Until: until, Reason: "released: " + cmp.Or(f.Rule, f.Actor.Reason, "temporary freeze")}
		}
	}
	return p
}

// AccountEvent is something the payment service reported about an account.
type AccountEvent struct {
	Kind     string    `json:"kind"` // password_reset, phone_change, pay_password_change, profile_change, email_change, device_bind, login_failed, pin_failed, payment_failed
	At       time.Time `json:"at"`
	DeviceID string    `json:"device_id,omitempty"`
}

// Sighting is when an account first and last used something it keeps
// a memory of.
type Sighting struct {
	ID        string    `json:"id"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// KnownDevice is a device the UID has used.
type KnownDevice = Sighting

// KnownDestination is a destination the UID has moved money to: the
// txn.instrument of an allowed withdrawal (a fingerprint of the receiving
// account).
type KnownDestination = Sighting

// AccountState is the durable state of one UID.
type AccountState struct {
	UID string
	// FirstSeen is when the sidecar first decided for the UID (zero:
	// never recorded). It is the account age the sidecar can vouch for
	// when the caller sends no account.created_at.
	FirstSeen time.Time
	Freezes   []Freeze // full and grey freezes, active or expired-but-not-yet-swept
	Probation Probation
	Limits    []Limit
	Events    []AccountEvent // recent, bounded
	Devices   []KnownDevice  // recent, bounded
	Flags     []CaseFlag     // follow-up flags
	Habit     Habit          // spending habit, from completed payments
	// Payments are the recent money movements the sidecar allowed, with
	// the outcomes the service reported (bounded, newest last).
	Payments []Payment
	// Destinations are where the UID moved money to (recent, bounded): a
	// destination the sidecar has not seen, or first saw less than
	// NewDestinationWindow ago, is new.
	Destinations []KnownDestination
	// The operators' work (work.go): appeals (oldest first), releases
	// waiting for a second operator, the case's assignee, notes.
	Appeals   []Appeal
	Approvals []Approval
	Assignee  Assignment
	Notes     []Note
}

// NewDestinationWindow is how long a destination stays new after the
// account first moved money to it: a transfer split in two, or a second
// new payee the same day, still reads as going somewhere new.
const NewDestinationWindow = 24 * time.Hour

// DestinationAge is how long ago the account first moved money to the
// destination id, and false when it never did.
func (a *AccountState) DestinationAge(id string, now time.Time) (time.Duration, bool) {
	for _, d := range a.Destinations {
		if d.ID == id {
			return now.Sub(d.FirstSeen), true
		}
	}
	return 0, false
}

// NewDestinations24h counts the destinations other than except that the
// account first moved money to within NewDestinationWindow of now.
func (a *AccountState) NewDestinations24h(now time.Time, except string) int {
	n := 0
	for _, d := range a.Destinations {
		if d.ID != except && now.Sub(d.FirstSeen) < NewDestinationWindow {
			n++
		}
	}
	return n
}

// CaseFlag marks a case for follow-up ("key tracking").
type CaseFlag struct {
	Kind       string    `json:"kind"`
	Reason     string    `json:"reason"`
	TxnID      string    `json:"txn_id,omitempty"`
	DecisionID string    `json:"decision_id"`
	At         time.Time `json:"at"`
	// Stage is the stage of the decision that raised it (0 in records
	// written before it was kept). The operator API shows it as a name.
	Stage Stage `json:"-"`
}

// VerificationResult is the outcome of one verification method.
type VerificationResult uint8

// Verification results.
const (
	VerificationPassed VerificationResult = iota + 1
	VerificationFailed
	VerificationRefused
)

var verificationNames = [...]string{"", "passed", "failed", "refused"}

// String returns the wire name.
func (v VerificationResult) String() string {
	if v >= VerificationPassed && v <= VerificationRefused {
		return verificationNames[v]
	}
	return "unknown"
}

// ParseVerificationResult maps a wire name to its result.
func ParseVerificationResult(s string) (VerificationResult, bool) {
	for i := VerificationPassed; i <= VerificationRefused; i++ {
		if verificationNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// Verification records the results reported for the step-up challenges of
// one operation, and what they were issued for.
//
// "Verify first, release after" releases exactly what was verified: a
// verification is kept under (UID, Subject), where Subject names the
// operation by stage (VerificationSubject), and it binds the stage, the
// transaction, its amount and currency, its instrument (on a withdrawal the
// account that receives the money) and the device the challenge was issued
// for. A retry that differs in any of them is not released by it.
type Verification struct {
	ChallengeID string
	UID         string
	// Subject is the operation's key: VerificationSubject of the binding.
	Subject string
	// Binding is what the challenge was issued for. Bound is false for a
	// record written before bindings existed: it releases nothing.
	Binding VerificationBinding
	Bound   bool
	Methods []string // the methods the challenge asked for
	Results map[string]VerificationResult
	Expires time.Time // of the challenge
	// UpdatedAt is when the last result was reported.
	UpdatedAt time.Time
}

// VerificationBinding is the operation a step-up challenge was issued for.
// A login is bound to its device; a money movement to its transaction,
// amount, currency, instrument (txn.instrument: on a withdrawal, where the
// money goes) and device.
type VerificationBinding struct {
	Stage      Stage
	TxnID      string
	Amount     float64
	Currency   string
	Instrument string
	DeviceID   string
}

// UnboundInstrument is the instrument of a money movement's binding stored
// before instruments were bound: no request carries it (identifiers refuse
// control characters), so such a verification releases no retry, while a
// failure it holds stays in force.
const UnboundInstrument = "\x00"

// VerificationSubject is the key part of an operation's verification: the
// stage and the transaction id, or for a login the device, so that a login
// check never satisfies a payment (a payment whose txn.id is "login:d" is
// "payment:login:d") and an order's check never releases a withdrawal.
func VerificationSubject(b VerificationBinding) string {
	if b.Stage == StageLogin {
		return "login:" + b.DeviceID
	}
	return b.Stage.String() + ":" + b.TxnID
}

// Mismatch names the first field in which the operation o differs from the
// binding b ("stage", "txn", "amount", "currency", "instrument", "device"),
// or "" when o is the operation b was issued for.
func (b VerificationBinding) Mismatch(o VerificationBinding) string {
	switch {
	case b.Stage != o.Stage:
		return "stage"
	case b.TxnID != o.TxnID:
		return "txn"
	case b.Amount != o.Amount:
		return "amount"
	case b.Currency != o.Currency:
		return "currency"
	case b.Instrument != o.Instrument:
		return "instrument"
	case b.DeviceID != o.DeviceID:
		return "device"
	}
	return ""
}

// Sticky reports whether a result can never be undone by a later one for
// the same operation: a failed or refused check stays failed.
func (r VerificationResult) Sticky() bool { return r == VerificationFailed || r == VerificationRefused }

// Status summarizes the results: failed or refused if any method failed
// or was refused (a method the current challenge asks for or one an
// earlier challenge of the operation asked for: a failure stays), passed
// when every method asked for passed, pending otherwise.
func (v Verification) Status() string {
	refused := false
	for _, r := range v.Results {
		switch r {
		case VerificationFailed:
			return "failed"
		case VerificationRefused:
			refused = true
		}
	}
	if refused {
		return "refused"
	}
	pending := false
	for _, m := range v.Methods {
		if v.Results[m] != VerificationPassed {
			pending = true
		}
	}
	if pending || len(v.Methods) == 0 {
		return "pending"
	}
	return "passed"
}

// ActionDecision is the action of the journal records the decision path
// adds for case trails (a decision with obligations, or of an account
// with an open case). Unlike operator actions they are pruned by age and
// count (state.decision_trail): the decision log is their full record.
const ActionDecision = "decision"

// AuditRecord is one entry of the append-only journal of operator actions
// (and of what the sidecar did on a policy's behalf).
type AuditRecord struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Actor  Actor     `json:"actor"`
	Action string    `json:"action"`        // list.put, list.delete, freeze, release, limit.set, ActionDecision, ...
	UID    string    `json:"uid,omitempty"` // the account concerned, if any
	Target string    `json:"target"`        // e.g. "block/device/d-77"
	Detail string    `json:"detail"`        // JSON of the change
}
