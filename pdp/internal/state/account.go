package state

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Bounds UpdateAccount applies after every change, so that an account's
// record stays small (a few KiB) however long it lives.
const (
	// MaxFreezes bounds the freezes kept. Freezes that ended stay as
	// history for FreezeHistory after they end (an account that was frozen
	// is not "clean", and a temporary freeze's probation is derived from
	// it); beyond the bound, ended freezes go before active ones, the
	// oldest (by Since) first, permanent freezes last.
	MaxFreezes    = 32
	FreezeHistory = 365 * 24 * time.Hour
	// MaxLimits bounds the limits kept; expired limits are dropped, beyond
	// the bound the first ones go, releases' before operators' (a run of
	// verified payments cannot push out the cap an operator set).
	MaxLimits = 16
	// MaxEvents and EventMaxAge bound the events: the newest 64 (by At)
	// of each kind that are less than 90 days old. Per kind, so that no
	// flood of one kind (login_failed, which a user makes by failing to
	// log in) pushes out a password reset or the week's profile changes
	// that the decisions read.
	MaxEvents   = 64
	EventMaxAge = 90 * 24 * time.Hour
	// MaxDevices bounds the known devices: the 32 seen most recently.
	MaxDevices = 32
	// MaxDestinations bounds the known destinations: the 32 used most
	// recently.
	MaxDestinations = 32
	// MaxFlags bounds the follow-up flags: the newest 100 (by At).
	MaxFlags = 100
	// MaxPayments and PaymentMaxAge bound the allowed payments kept for
	// their outcomes: the newest 32 (by At) that are less than 30 days old.
	// An outcome of an older payment is still journaled (a chargeback
	// weeks later is a label), it just no longer changes spend or habit.
	MaxPayments   = 32
	PaymentMaxAge = 30 * 24 * time.Hour
)

// backlogFactor × FlushMaxPending pending records (states and audit
// records) is the backlog at which async writes start waiting for the
// committer (see UpdateAccount).
const backlogFactor = 16

// UpdateAccount changes the state of uid: fn receives a private copy of the
// current state (async changes included) and modifies it freely; an error
// from fn aborts the update and is returned as is. The result is pruned to
// the bounds above (expired freezes, limits and probation are removed, the
// lists trimmed), validated, and becomes the new state, returned as an
// immutable snapshot.
//
// Updates of one UID are serialized (no update is lost, whatever the mode),
// so fn should be quick and must not call UpdateAccount (the locks are
// striped: another UID may share the caller's); reads are fine. With a
// Shared backend, updates made through other sidecars are not lost either:
// fn is applied again to the stored value when another writer changed it
// meanwhile (see rebase.go), so fn may run more than once, and must change
// nothing but its argument; a sync fn then runs in the committer.
//
// Sync commits the new state and audit (when not nil) in one fsynced
// transaction before returning; on error nothing changed. Async makes the
// new state visible to every following read at once and queues it (with
// audit) for the background committer; it costs no fsync and no I/O (its
// measured cost: README.md, "Measured costs of the components"). It waits in two cases only:
// for a sync update of the same UID being committed, and for backpressure:
// when more than 16 × FlushMaxPending records wait to be flushed (the
// committer cannot keep up), it waits for the next flush (at most one
// second, and not while flushes fail, when waiting would not help), so
// that a runaway writer can neither grow memory without bound nor starve
// sync writes.
//
// The audit's UID defaults to uid, its At to the Store's clock and its
// Action to "account.update". It is copied once fn has run, so fn may
// complete it (its Detail: what the change was).
//
// ctx is honoured until a sync change is queued for commit.
func (s *Store) UpdateAccount(ctx context.Context, uid string, mode Mode, audit *pdp.AuditRecord, fn func(*pdp.AccountState) error) (*pdp.AccountState, error) {
	if uid == "" || len(uid) > maxValueLen {
		return nil, invalid("uid of %d bytes", len(uid))
	}
	if mode != Sync && mode != Async {
		return nil, invalid("mode %d", mode)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := s.c.key(nsAccount, uid, "")
	mu := s.uidLock(h)
	var backlog bool
	defer func() {
		if backlog { // after the unlock below
			s.awaitFlush()
		}
	}()
	mu.Lock()
	defer mu.Unlock()

	now := s.cfg.Clock()
	if mode == Sync && s.shared != nil {
		// The committer computes the change from the stored value (see
		// rebase.go). uid is kept: a copy, as the caller's string may
		// alias a reused buffer.
		uid = strings.Clone(uid)
		return s.updateShared(ctx, h, uid, s.ver.Add(1), now, audit, fn)
	}
	// Under the lock the overlay, when it has the UID, is the latest state;
	// reading it first keeps the cache out of the async write path.
	cur, ok := s.ov.get(h, uid)
	if !ok {
		var err error
		// A sync write (the operator's) may wait past the read budget.
		if cur, err = s.account(h, uid, now.UnixNano(), mode == Async); err != nil {
			return nil, err
		}
	}
	st := cloneAccount(cur)
	if err := fn(st); err != nil {
		return nil, err
	}
	rec := auditRecord(audit, now) // after fn, which may complete it
	// cur.UID is the Store's own copy of uid (the caller's string may alias
	// a reused buffer); the overlay and the cache keep it.
	uid = cur.UID
	st.UID = uid
	if rec != nil && rec.UID == "" {
		rec.UID = uid
	}
	pruneAccount(st, now)
	if err := validateAccount(st); err != nil {
		return nil, err
	}
	ver := s.ver.Add(1)

	if mode == Async {
		if !s.enter(h) {
			return nil, ErrClosed
		}
		var keep func(*pdp.AccountState) error
		if s.shared != nil {
			keep = fn // applied again by the flushes (rebase.go)
		}
		s.ov.put(h, uid, st, ver, rec, keep)
		s.c.bump(h)
		s.exit(h)
		if p := s.ov.pending(); p >= int64(s.cfg.FlushMaxPending) {
			s.kickFlush()
			backlog = p >= int64(s.cfg.FlushMaxPending)*backlogFactor
		}
		return st, nil
	}

	r := &request{after: func() { s.afterAccountWrite(h, uid, ver, now, st) }}
	r.batch.put(BucketAccounts, []byte(uid), encodeAccount(st))
	queueWrite(&r.batch, st, cur.OpenWork(now), now)
	if rec != nil {
		if err := s.journal(&r.batch, rec); err != nil {
			return nil, err
		}
	}
	if err := s.do(ctx, r); err != nil {
		return nil, err
	}
	return st, nil
}

// auditRecord is a copy of audit with the time and the action defaulted
// (the UID is the caller's to default). nil for none.
func auditRecord(audit *pdp.AuditRecord, now time.Time) *pdp.AuditRecord {
	if audit == nil {
		return nil
	}
	a := *audit
	if a.At.IsZero() {
		a.At = now
	}
	if a.Action == "" {
		a.Action = "account.update"
	}
	return &a
}

func (s *Store) journal(b *Batch, a *pdp.AuditRecord) error {
	data, err := encodeAudit(a)
	if err != nil {
		return invalid("audit record: %v", err)
	}
	b.Journal = append(b.Journal, JournalEntry{UID: a.UID, Record: data, Chain: chained(a.Action)})
	return nil
}

// cloneAccount copies everything fn may modify; each slice gets room for
// one append.
func cloneAccount(cur *pdp.AccountState) *pdp.AccountState {
	st := &pdp.AccountState{UID: cur.UID, FirstSeen: cur.FirstSeen, Probation: cur.Probation, Habit: cur.Habit}
	st.Payments = cloneSlice(cur.Payments)
	for i := range st.Payments {
		p := &st.Payments[i]
		p.Reasons, p.Outcomes = slices.Clone(p.Reasons), slices.Clone(p.Outcomes)
	}
	st.Habit.Categories = slices.Clone(cur.Habit.Categories)
	st.Freezes = cloneSlice(cur.Freezes)
	for i := range st.Freezes {
		st.Freezes[i].Functions = slices.Clone(st.Freezes[i].Functions)
	}
	st.Limits = cloneSlice(cur.Limits)
	st.Events = cloneSlice(cur.Events)
	st.Devices = cloneSlice(cur.Devices)
	st.Destinations = cloneSlice(cur.Destinations)
	st.Flags = cloneSlice(cur.Flags)
	st.Appeals = cloneSlice(cur.Appeals)
	for i := range st.Appeals {
		st.Appeals[i].Documents = slices.Clone(st.Appeals[i].Documents)
	}
	st.Approvals = cloneSlice(cur.Approvals)
	st.Assignee = cur.Assignee
	st.Notes = cloneSlice(cur.Notes)
	return st
}

func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	out := make([]T, len(s), len(s)+1)
	copy(out, s)
	return out
}

func pruneAccount(st *pdp.AccountState, now time.Time) {
	st.Freezes = slices.DeleteFunc(st.Freezes, func(f pdp.Freeze) bool {
		return !f.Active(now) && now.Sub(f.Until.Add(f.ProbationAfter)) > FreezeHistory
	})
	if len(st.Freezes) > MaxFreezes {
		// Active before ended, permanent before the others, newest first;
		// keep the head.
		slices.SortStableFunc(st.Freezes, func(a, b pdp.Freeze) int {
			if aa, ba := a.Active(now), b.Active(now); aa != ba {
				if aa {
					return -1
				}
				return 1
			}
			ap, bp := a.Kind == pdp.FreezePermanent, b.Kind == pdp.FreezePermanent
			if ap != bp {
				if ap {
					return -1
				}
				return 1
			}
			return b.Since.Compare(a.Since)
		})
		st.Freezes = st.Freezes[:MaxFreezes]
	}
	st.Limits = slices.DeleteFunc(st.Limits, func(l pdp.Limit) bool { return !l.Until.IsZero() && !now.Before(l.Until) })
	for extra := len(st.Limits) - MaxLimits; extra > 0; extra-- {
		i := slices.IndexFunc(st.Limits, func(l pdp.Limit) bool { return !l.Operator })
		if i < 0 {
			i = 0
		}
		st.Limits = slices.Delete(st.Limits, i, i+1)
	}
	if p := st.Probation; !p.Until.IsZero() && !now.Before(p.Until) {
		st.Probation = pdp.Probation{}
	}
	oldest := now.Add(-EventMaxAge)
	st.Events = slices.DeleteFunc(st.Events, func(e pdp.AccountEvent) bool { return e.At.Before(oldest) })
	st.Events = keepNewestPerKind(st.Events, MaxEvents)
	st.Devices = keepNewest(st.Devices, MaxDevices, func(d pdp.KnownDevice) time.Time { return d.LastSeen })
	st.Destinations = keepNewest(st.Destinations, MaxDestinations, func(d pdp.KnownDestination) time.Time { return d.LastSeen })
	st.Flags = keepNewest(st.Flags, MaxFlags, func(f pdp.CaseFlag) time.Time { return f.At })
	paidSince := now.Add(-PaymentMaxAge)
	st.Payments = slices.DeleteFunc(st.Payments, func(p pdp.Payment) bool { return p.At.Before(paidSince) })
	st.Payments = nilIfEmpty(keepNewest(st.Payments, MaxPayments, func(p pdp.Payment) time.Time { return p.At }))
	st.Notes = keepNewest(st.Notes, pdp.MaxNotes, func(n pdp.Note) time.Time { return n.At })
	if len(st.Appeals) > pdp.MaxAppeals {
		// Open appeals stay; the oldest closed ones go (the journal keeps them).
		drop := len(st.Appeals) - pdp.MaxAppeals
		st.Appeals = slices.DeleteFunc(st.Appeals, func(a pdp.Appeal) bool {
			if drop > 0 && a.Status != pdp.AppealOpen {
				drop--
				return true
			}
			return false
		})
	}
	st.Freezes = nilIfEmpty(st.Freezes)
	st.Limits = nilIfEmpty(st.Limits)
	st.Events = nilIfEmpty(st.Events)
	st.Notes = nilIfEmpty(st.Notes)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// keepNewestPerKind keeps the n newest events (by At) of each kind, all
// of them oldest first.
func keepNewestPerKind(evs []pdp.AccountEvent, n int) []pdp.AccountEvent {
	if len(evs) <= n {
		return evs
	}
	slices.SortStableFunc(evs, func(a, b pdp.AccountEvent) int { return a.At.Compare(b.At) })
	kept := map[string]int{}
	drop := make([]bool, len(evs))
	for i := len(evs) - 1; i >= 0; i-- { // newest first
		k := evs[i].Kind
		if kept[k] == n {
			drop[i] = true
			continue
		}
		kept[k]++
	}
	out := evs[:0]
	for i, e := range evs {
		if !drop[i] {
			out = append(out, e)
		}
	}
	return out
}

// keepNewest keeps the n newest elements by at, oldest first; it sorts
// only when over the bound.
func keepNewest[T any](s []T, n int, at func(T) time.Time) []T {
	if len(s) <= n {
		return s
	}
	slices.SortStableFunc(s, func(a, b T) int { return at(a).Compare(at(b)) })
	return s[len(s)-n:]
}

// validateAccount refuses what could not be stored faithfully: unknown
// freeze kinds or stages, amounts that are not finite non-negative numbers.
func validateAccount(st *pdp.AccountState) error {
	for _, f := range st.Freezes {
		if f.Kind < pdp.FreezeTemporary || f.Kind > pdp.FreezePermanent {
			return invalid("freeze kind %d", f.Kind)
		}
		for _, fn := range f.Functions {
			if !fn.Valid() {
				return invalid("freeze function %d", fn)
			}
		}
	}
	for _, f := range st.Flags {
		if f.Stage != 0 && !f.Stage.Valid() {
			return invalid("flag %q: stage %d", f.Kind, f.Stage)
		}
	}
	for _, l := range st.Limits {
		if !finite(l.MaxAmount) || !finite(l.DailyAmount) {
			return invalid("limit amounts %v, %v", l.MaxAmount, l.DailyAmount)
		}
	}
	open := 0
	for _, a := range st.Appeals {
		if a.Status < pdp.AppealOpen || a.Status > pdp.AppealRejected || a.ID == "" {
			return invalid("appeal %q: status %d", a.ID, a.Status)
		}
		if a.Status == pdp.AppealOpen {
			open++
		}
	}
	if open > pdp.MaxOpenAppeals || len(st.Approvals) > pdp.MaxApprovals {
		return invalid("%d open appeals, %d pending approvals", open, len(st.Approvals))
	}
	for _, p := range st.Payments {
		if !finite(p.Amount) || !finite(p.AmountBase) || !p.Stage.Valid() || p.TxnID == "" {
			return invalid("payment %q: amounts %v, %v, stage %d", p.TxnID, p.Amount, p.AmountBase, p.Stage)
		}
		for _, m := range p.Outcomes {
			if m.Status < pdp.OutcomeCompleted || m.Status > pdp.OutcomeConfirmedLegit {
				return invalid("payment %q: outcome %d", p.TxnID, m.Status)
			}
		}
	}
	h := &st.Habit
	ok := finite(h.Mean) && finite(h.Var) && len(h.Categories) <= pdp.MaxHabitCategories
	for _, c := range h.Categories {
		ok = ok && finite(c.Weight)
	}
	if !ok {
		return invalid("habit %+v", *h)
	}
	return nil
}

func finite(x float64) bool { return x >= 0 && !math.IsInf(x, 0) }
