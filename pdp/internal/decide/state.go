package decide

import (
	"context"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// State is the durable risk state the decision path reads and writes.
type State interface {
	Reputation(kind pdp.SubjectKind, value string, now time.Time) (pdp.Reputation, error)
	Account(uid string, now time.Time) (*pdp.AccountState, error)
	Verification(uid, subject string, now time.Time) (pdp.Verification, bool, error)
	// UpdateVerification applies fn to the stored verification of (uid,
	// subject) atomically (see state.Store.UpdateVerification).
	UpdateVerification(ctx context.Context, uid, subject string, fn func(cur *pdp.Verification) (pdp.Verification, error),
		audit func(v *pdp.Verification) *pdp.AuditRecord) (pdp.Verification, error)
	// UpdateAccount applies fn to the account. A state.Sync change is
	// durable (with its audit record) when it returns; a state.Async one is
	// visible to every later read at once and persisted by the store's
	// group commit, so the decision path never waits for a disk.
	UpdateAccount(ctx context.Context, uid string, mode state.Mode, audit *pdp.AuditRecord, fn func(*pdp.AccountState) error) (*pdp.AccountState, error)
	Secret(ctx context.Context, name string) ([]byte, error)
}

var _ State = (*state.Store)(nil)

// profileChanges are the account events that change the profile or how the
// account is reached: repeated ones look like tampering (001).
var profileChanges = map[string]bool{"profile_change": true, "email_change": true, "phone_change": true, "device_bind": true}

// freezeRank orders freeze kinds by severity.
func freezeRank(k pdp.FreezeKind) int {
	switch k {
	case pdp.FreezePermanent:
		return 3
	case pdp.FreezeReview:
		return 2
	case pdp.FreezeTemporary:
		return 1
	}
	return 0
}

// accountView reads the account state as it applies to a request at stage
// at time now: the strictest full freeze in force, the stages grey freezes
// deny, probation (explicit, or left behind by a temporary freeze that
// lifted itself), and the strictest limit in force, in base units
// (converted with rates, so that limits set in different currencies
// compare; a currency without a rate counts strictly).
func accountView(a *pdp.AccountState, txn *pdp.Txn, stage pdp.Stage, rates *pdp.Rates, now time.Time) *request.AccountView {
	v := &request.AccountView{EverFrozen: len(a.Freezes) > 0, KnownDevices: len(a.Devices)}
	if p := a.ProbationAt(now); !p.Until.IsZero() {
		v.Probation, v.ProbationUntil = true, p.Until
	}
	for _, f := range a.Freezes {
		if !f.Active(now) {
			continue
		}
		if len(f.Functions) > 0 {
			for _, s := range f.Functions {
				if name := s.String(); !slices.Contains(v.Restricted, name) {
					v.Restricted = append(v.Restricted, name)
				}
			}
			if f.Covers(stage) {
				v.StageRestricted = true
			}
			continue
		}
		if freezeRank(f.Kind) > freezeRank(kindOf(v.FreezeKind)) {
			v.Frozen, v.FreezeKind, v.FrozenUntil = true, f.Kind.String(), f.Until
		}
	}
	for _, e := range a.Events {
		if profileChanges[e.Kind] && now.Sub(e.At) < 7*24*time.Hour {
			v.ProfileChanges7d++
		}
	}
	for _, f := range a.Freezes {
		if now.Sub(f.Since) < 24*time.Hour {
			v.Freezes24h++
		}
	}
	if stage == pdp.StageWithdrawal {
		v.NewDestinations24h = a.NewDestinations24h(now, txn.Instrument)
	}
	for _, f := range a.Flags {
		if now.Sub(f.At) < 24*time.Hour && (f.TxnID == "" || f.TxnID != txn.ID) {
			v.Flags24h++
		}
	}
	for _, l := range a.Limits {
		if !l.Until.IsZero() && !now.Before(l.Until) {
			continue
		}
		daily, most, cur := rates.CapToBase(l.DailyAmount, l.Currency), rates.CapToBase(l.MaxAmount, l.Currency), l.Currency
		if rates != nil {
			cur = rates.Base()
		}
		if daily > 0 && (v.DailyAmount == 0 || daily < v.DailyAmount) {
			v.DailyAmount, v.LimitCurrency = daily, cur
		}
		if l.Operator && daily > 0 && (v.OperatorDailyAmount == 0 || daily < v.OperatorDailyAmount) {
			v.OperatorDailyAmount = daily
		}
		if most > 0 && (v.MaxAmount == 0 || most < v.MaxAmount) {
			v.MaxAmount, v.LimitCurrency = most, cur
		}
	}
	return v
}

func kindOf(name string) pdp.FreezeKind {
	k, _ := pdp.ParseFreezeKind(name)
	return k
}

// knowsDevice reports whether the UID has used the device before.
func knowsDevice(a *pdp.AccountState, id string) bool {
	for _, d := range a.Devices {
		if d.ID == id {
			return true
		}
	}
	return false
}
