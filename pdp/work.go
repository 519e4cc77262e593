package pdp

import (
	"slices"
	"time"
)

// Operators' work on an account: the appeals a service lodges for its
// user (POST /v1/appeals), the releases that wait for a second operator
// (four-eyes), who the account's case is assigned to, and the operators'
// notes. With the open follow-up flags and a review freeze in force, they
// make the account an entry of the operators' queue (AccountState.OpenWork).

// AppealStatus is where an appeal stands.
type AppealStatus uint8

// Appeal statuses.
const (
	AppealOpen     AppealStatus = iota + 1 // waiting for an operator
	AppealGranted                          // the freeze or restriction was lifted
	AppealRejected                         // it stays; the answer says why
)

var appealStatusNames = [...]string{"", "open", "granted", "rejected"}

func (s AppealStatus) String() string {
	if int(s) < len(appealStatusNames) {
		return appealStatusNames[s]
	}
	return "unknown"
}

// ParseAppealStatus parses an appeal status name.
func ParseAppealStatus(s string) (AppealStatus, bool) {
	i := slices.Index(appealStatusNames[:], s)
	return AppealStatus(max(i, 0)), i > 0
}

// Appeal is a user's appeal of a freeze or restriction, lodged by the
// service. It holds the user's words and references to the documents the
// service keeps, never documents or identity numbers themselves.
type Appeal struct {
	ID        string
	Reason    string
	Documents []string // the service's references (ids), at most MaxAppealDocuments
	At        time.Time
	Status    AppealStatus
	ClosedAt  time.Time
	// Answer is what the user is told once it is closed (the operator's
	// words, shown by GET /v1/accounts/{uid}/status).
	Answer string
}

// Approval is a change that waits for a second operator (four-eyes): a
// release of a permanent freeze, or any release without a verification
// the user passed after the freeze.
type Approval struct {
	ID     string
	Action string // "release"
	// Why it needs a second operator: "permanent_freeze" or
	// "no_verification".
	Why       string
	Probation time.Duration // the release's probation
	// Requester is the authenticated identity (the token's name) that
	// asked for it; another identity must approve. By is what the request
	// said (operator, reason, ticket).
	Requester string
	By        Actor
	At        time.Time
}

// Assignment is who works an account's case.
type Assignment struct {
	To string // an operator identity (a token's name); "" for nobody
	By string
	At time.Time
}

// Note is an operator's note on an account.
type Note struct {
	At   time.Time
	By   Actor
	Text string
}

// Bounds of the work kept on an account: open appeals and pending
// approvals are always kept (at most these many can be open); closed
// appeals and notes beyond them drop the oldest (the journal keeps all).
const (
	MaxAppeals         = 20
	MaxOpenAppeals     = 3
	MaxApprovals       = 4
	MaxNotes           = 50
	MaxAppealDocuments = 10
)

// OpenWork reports whether the account is in the operators' queue at now:
// an open follow-up flag, a review freeze in force, a pending approval or
// an open appeal.
func (a *AccountState) OpenWork(now time.Time) bool {
	if len(a.Flags) > 0 || len(a.Approvals) > 0 {
		return true
	}
	for _, ap := range a.Appeals {
		if ap.Status == AppealOpen {
			return true
		}
	}
	for _, f := range a.Freezes {
		if f.Kind == FreezeReview && f.Active(now) {
			return true
		}
	}
	return false
}
