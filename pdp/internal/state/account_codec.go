package state

import (
	"fmt"
	"math"

	"github.com/riskpdp/riskpdp/pdp"
)

// Account records (codec.go, tag 'A', version 6; version 1 lacks the
// first-seen time, versions 1 and 2 the payments, versions 1 to 3 the
// work, versions 1 to 4 the flags' stages, versions 1 to 5 the limits'
// operator mark):
//
//	uid
//	first seen (version 2)
//	freezes    count, each: kind, functions (count, stage bytes), since,
//	           until, rule, txn id, decision id, actor (operator, ticket,
//	           reason), probation after (version 4: the probation a
//	           temporary freeze leaves when it lifts itself)
//	probation  since, until, reason
//	limits     count, each: max amount, daily amount, currency, duration,
//	           until, operator (version 6: 1 when set through the operator
//	           API, else 0)
//	events     count, each: kind, at, device id
//	devices    count, each: id, first seen, last seen
//	flags      count, each: kind, reason, txn id, decision id, at, stage
//	           (version 5; 0 when unknown)
//	payments   (version 3) count, each: txn id, purchase, decision id,
//	           reasons (count, each a string), stage, amount, currency,
//	           amount in base units, category, at, outcomes (count, each:
//	           status, at)
//	destinations (version 3) count, each: id, first seen, last seen
//	work       (version 4) appeals count, each: id, reason, documents
//	           (count, each a string), at, status, closed at, answer;
//	           approvals count, each: id, action, why, probation,
//	           requester, actor, at; assignment: to, by, at; notes count,
//	           each: at, actor, text
//	habit      only when its count is not 0: count, mean, variance,
//	           categories (count, each: category, weight)

// encodeAccount encodes st; the caller has validated it (validateAccount).
func encodeAccount(st *pdp.AccountState) []byte {
	w := enc{b: make([]byte, 0, 64+int(accountSize(st))/2)}
	w.byte(tagAccount)
	w.byte(accountVersion)
	w.str(st.UID)
	w.time(st.FirstSeen)
	w.uvarint(uint64(len(st.Freezes)))
	for _, f := range st.Freezes {
		w.byte(byte(f.Kind))
		w.uvarint(uint64(len(f.Functions)))
		for _, s := range f.Functions {
			w.byte(byte(s))
		}
		w.time(f.Since)
		w.time(f.Until)
		w.str(f.Rule)
		w.str(f.TxnID)
		w.str(f.DecisionID)
		w.actor(f.Actor)
		w.dur(f.ProbationAfter)
	}
	w.time(st.Probation.Since)
	w.time(st.Probation.Until)
	w.str(st.Probation.Reason)
	w.uvarint(uint64(len(st.Limits)))
	for _, l := range st.Limits {
		w.f64(l.MaxAmount)
		w.f64(l.DailyAmount)
		w.str(l.Currency)
		w.dur(l.Duration)
		w.time(l.Until)
		if l.Operator {
			w.byte(1)
		} else {
			w.byte(0)
		}
	}
	w.uvarint(uint64(len(st.Events)))
	for _, e := range st.Events {
		w.str(e.Kind)
		w.time(e.At)
		w.str(e.DeviceID)
	}
	w.uvarint(uint64(len(st.Devices)))
	for _, d := range st.Devices {
		w.str(d.ID)
		w.time(d.FirstSeen)
		w.time(d.LastSeen)
	}
	w.uvarint(uint64(len(st.Flags)))
	for _, f := range st.Flags {
		w.str(f.Kind)
		w.str(f.Reason)
		w.str(f.TxnID)
		w.str(f.DecisionID)
		w.time(f.At)
		w.byte(byte(f.Stage))
	}
	w.uvarint(uint64(len(st.Payments)))
	for _, p := range st.Payments {
		w.str(p.TxnID)
		w.str(p.Purchase)
		w.str(p.DecisionID)
		w.uvarint(uint64(len(p.Reasons)))
		for _, r := range p.Reasons {
			w.str(r)
		}
		w.byte(byte(p.Stage))
		w.f64(p.Amount)
		w.str(p.Currency)
		w.f64(p.AmountBase)
		w.str(p.Category)
		w.time(p.At)
		w.uvarint(uint64(len(p.Outcomes)))
		for _, m := range p.Outcomes {
			w.byte(byte(m.Status))
			w.time(m.At)
		}
	}
	w.uvarint(uint64(len(st.Destinations)))
	for _, d := range st.Destinations {
		w.str(d.ID)
		w.time(d.FirstSeen)
		w.time(d.LastSeen)
	}
	w.uvarint(uint64(len(st.Appeals)))
	for _, a := range st.Appeals {
		w.str(a.ID)
		w.str(a.Reason)
		w.uvarint(uint64(len(a.Documents)))
		for _, doc := range a.Documents {
			w.str(doc)
		}
		w.time(a.At)
		w.byte(byte(a.Status))
		w.time(a.ClosedAt)
		w.str(a.Answer)
	}
	w.uvarint(uint64(len(st.Approvals)))
	for _, a := range st.Approvals {
		w.str(a.ID)
		w.str(a.Action)
		w.str(a.Why)
		w.dur(a.Probation)
		w.str(a.Requester)
		w.actor(a.By)
		w.time(a.At)
	}
	w.str(st.Assignee.To)
	w.str(st.Assignee.By)
	w.time(st.Assignee.At)
	w.uvarint(uint64(len(st.Notes)))
	for _, n := range st.Notes {
		w.time(n.At)
		w.actor(n.By)
		w.str(n.Text)
	}
	if h := &st.Habit; h.Count > 0 {
		w.uvarint(uint64(h.Count))
		w.f64(h.Mean)
		w.f64(h.Var)
		w.uvarint(uint64(len(h.Categories)))
		for _, c := range h.Categories {
			w.str(c.Category)
			w.f64(c.Weight)
		}
	}
	return w.b
}

func decodeAccount(b []byte) (*pdp.AccountState, error) {
	d := dec{b: b}
	version := d.headerUpTo(tagAccount, accountVersion)
	st := &pdp.AccountState{UID: d.str()}
	if version >= 2 {
		st.FirstSeen = d.time()
	}
	if n := d.count(10); n > 0 {
		st.Freezes = make([]pdp.Freeze, n)
		for i := range st.Freezes {
			f := &st.Freezes[i]
			f.Kind = pdp.FreezeKind(d.enum("freeze kind", byte(pdp.FreezeTemporary), byte(pdp.FreezePermanent)))
			if m := d.count(1); m > 0 {
				f.Functions = make([]pdp.Stage, m)
				for j := range f.Functions {
					f.Functions[j] = pdp.Stage(d.enum("stage", byte(pdp.StageLogin), byte(pdp.StageRepayment)))
				}
			}
			f.Since, f.Until = d.time(), d.time()
			f.Rule, f.TxnID, f.DecisionID = d.str(), d.str(), d.str()
			f.Actor = d.actor()
			if version >= 4 {
				f.ProbationAfter = d.dur()
			}
		}
	}
	st.Probation.Since, st.Probation.Until, st.Probation.Reason = d.time(), d.time(), d.str()
	if n := d.count(19); n > 0 {
		st.Limits = make([]pdp.Limit, n)
		for i := range st.Limits {
			l := &st.Limits[i]
			l.MaxAmount, l.DailyAmount, l.Currency, l.Duration, l.Until = d.amount(), d.amount(), d.str(), d.dur(), d.time()
			if version >= 6 {
				l.Operator = d.enum("limit operator mark", 0, 1) == 1
			}
		}
	}
	if n := d.count(3); n > 0 {
		st.Events = make([]pdp.AccountEvent, n)
		for i := range st.Events {
			e := &st.Events[i]
			e.Kind, e.At, e.DeviceID = d.str(), d.time(), d.str()
		}
	}
	if n := d.count(3); n > 0 {
		st.Devices = make([]pdp.KnownDevice, n)
		for i := range st.Devices {
			dv := &st.Devices[i]
			dv.ID, dv.FirstSeen, dv.LastSeen = d.str(), d.time(), d.time()
		}
	}
	if n := d.count(5); n > 0 {
		st.Flags = make([]pdp.CaseFlag, n)
		for i := range st.Flags {
			f := &st.Flags[i]
			f.Kind, f.Reason, f.TxnID, f.DecisionID, f.At = d.str(), d.str(), d.str(), d.str(), d.time()
			if version >= 5 {
				f.Stage = pdp.Stage(d.enum("stage", 0, byte(pdp.StageRepayment)))
			}
		}
	}
	if version >= 3 {
		if n := d.count(30); n > 0 {
			st.Payments = make([]pdp.Payment, n)
			for i := range st.Payments {
				p := &st.Payments[i]
				p.TxnID, p.Purchase, p.DecisionID = d.str(), d.str(), d.str()
				if m := d.count(1); m > 0 {
					p.Reasons = make([]string, m)
					for j := range p.Reasons {
						p.Reasons[j] = d.str()
					}
				}
				p.Stage = pdp.Stage(d.enum("stage", byte(pdp.StageLogin), byte(pdp.StageRepayment)))
				p.Amount, p.Currency, p.AmountBase, p.Category, p.At = d.amount(), d.str(), d.amount(), d.str(), d.time()
				if m := d.count(2); m > 0 {
					p.Outcomes = make([]pdp.OutcomeMark, m)
					for j := range p.Outcomes {
						p.Outcomes[j] = pdp.OutcomeMark{
							Status: pdp.OutcomeStatus(d.enum("outcome", byte(pdp.OutcomeCompleted), byte(pdp.OutcomeConfirmedLegit))),
							At:     d.time()}
					}
				}
			}
		}
		if n := d.count(3); n > 0 {
			st.Destinations = make([]pdp.KnownDestination, n)
			for i := range st.Destinations {
				x := &st.Destinations[i]
				x.ID, x.FirstSeen, x.LastSeen = d.str(), d.time(), d.time()
			}
		}
	}
	if version >= 4 {
		decodeWork(&d, st)
	}
	if len(d.b) > 0 && d.err == nil {
		h := &st.Habit
		n := d.uvarint()
		if n == 0 || n > math.MaxUint32 {
			d.fail(fmt.Errorf("habit count %d", n))
		}
		h.Count, h.Mean, h.Var = uint32(n), d.amount(), d.amount()
		if n := d.count(9); n > pdp.MaxHabitCategories {
			d.fail(fmt.Errorf("%d habit categories", n))
		} else if n > 0 {
			h.Categories = make([]pdp.CategoryWeight, n)
			for i := range h.Categories {
				h.Categories[i] = pdp.CategoryWeight{Category: d.str(), Weight: d.amount()}
			}
		}
	}
	if err := d.end("account"); err != nil {
		return nil, err
	}
	return st, nil
}

// decodeWork reads the operators' work (version 4).
func decodeWork(d *dec, st *pdp.AccountState) {
	if n := d.count(6); n > 0 {
		st.Appeals = make([]pdp.Appeal, n)
		for i := range st.Appeals {
			a := &st.Appeals[i]
			a.ID, a.Reason = d.str(), d.str()
			if m := d.count(1); m > 0 {
				a.Documents = make([]string, m)
				for j := range a.Documents {
					a.Documents[j] = d.str()
				}
			}
			a.At = d.time()
			a.Status = pdp.AppealStatus(d.enum("appeal status", byte(pdp.AppealOpen), byte(pdp.AppealRejected)))
			a.ClosedAt, a.Answer = d.time(), d.str()
		}
	}
	if n := d.count(9); n > 0 {
		st.Approvals = make([]pdp.Approval, n)
		for i := range st.Approvals {
			a := &st.Approvals[i]
			a.ID, a.Action, a.Why, a.Probation, a.Requester = d.str(), d.str(), d.str(), d.dur(), d.str()
			a.By, a.At = d.actor(), d.time()
		}
	}
	st.Assignee.To, st.Assignee.By, st.Assignee.At = d.str(), d.str(), d.time()
	if n := d.count(5); n > 0 {
		st.Notes = make([]pdp.Note, n)
		for i := range st.Notes {
			nt := &st.Notes[i]
			nt.At, nt.By, nt.Text = d.time(), d.actor(), d.str()
		}
	}
}
