package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// Case follow-up ("key tracking"). A policy flags a decision with a flag
// obligation; the sidecar then journals that decision and every later
// decision of the account (action "decision"), next to the verification
// results reported for it (action "verification") and the operators'
// actions, until an operator closes the case. The journal is the durable
// audit trail, indexed by UID, so these queries need no decision log.

// caseView is a flagged decision.
type caseView struct {
	Seq        uint64          `json:"seq"`
	At         time.Time       `json:"at"`
	UID        string          `json:"uid"`
	DecisionID string          `json:"decision_id"`
	Flags      []string        `json:"flags"`
	Decision   json.RawMessage `json:"decision"`
}

// recordView is a journal record as the operator API shows it: its
// detail as the JSON object it holds (a string only if it holds none).
type recordView struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Action string    `json:"action"` // decision, verification, freeze, release, limit.set, case.close, ...
	Actor  pdp.Actor `json:"actor"`
	UID    string    `json:"uid,omitempty"`
	Target string    `json:"target"`
	Detail any       `json:"detail,omitempty"`
}

func viewRecord(rec *pdp.AuditRecord) recordView {
	v := recordView{Seq: rec.Seq, At: rec.At, Action: rec.Action, Actor: rec.Actor, UID: rec.UID, Target: rec.Target}
	if rec.Detail != "" {
		if json.Valid([]byte(rec.Detail)) {
			v.Detail = json.RawMessage(rec.Detail)
		} else {
			v.Detail = rec.Detail
		}
	}
	return v
}

// decisionFlags returns the flag kinds a "decision" record carries, once
// each (two rules may raise the same kind).
func decisionFlags(rec *pdp.AuditRecord) []string {
	if rec.Action != "decision" {
		return nil
	}
	var d struct {
		Obligations []struct {
			Type string `json:"type"`
			Kind string `json:"kind"`
		} `json:"obligations"`
	}
	if json.Unmarshal([]byte(rec.Detail), &d) != nil {
		return nil
	}
	var kinds []string
	for _, o := range d.Obligations {
		if o.Type == string(pdp.ObligationFlag) && !slices.Contains(kinds, o.Kind) {
			kinds = append(kinds, o.Kind)
		}
	}
	return kinds
}

// journalQuery reads the filters shared by the case queries:
// from_seq, since, until (RFC 3339) and limit (default def, at most max).
func journalQuery(r *http.Request, f *state.JournalFilter, def, max int) (limit int, err error) {
	q := r.URL.Query()
	if f.FromSeq, err = uintParam(q.Get("from_seq"), "from_seq"); err != nil {
		return 0, err
	}
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return 0, err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return 0, err
	}
	limit = def
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > max {
			return 0, pdp.Errorf(pdp.CodeInvalidValue, "limit", "must be 1 to %d", max)
		}
	}
	return limit, nil
}

// cases lists flagged decisions: ?uid=&flag=&since=&until=&from_seq=&limit=
// (limit default 100, at most 1000). With uid the account's journal index
// is read; without, the whole journal from from_seq (page with
// next_from_seq).
func (s *Server) cases(w http.ResponseWriter, r *http.Request, _ caller) error {
	f := state.JournalFilter{UID: r.URL.Query().Get("uid")}
	limit, err := journalQuery(r, &f, 100, 1000)
	if err != nil {
		return err
	}
	flag := r.URL.Query().Get("flag")
	out := []caseView{}
	var next uint64
	err = s.o.Store.Journal(r.Context(), f, func(rec pdp.AuditRecord) error {
		if len(out) == limit {
			next = rec.Seq
			return errStop
		}
		kinds := decisionFlags(&rec)
		if len(kinds) == 0 || (flag != "" && !slices.Contains(kinds, flag)) {
			return nil
		}
		out = append(out, caseView{Seq: rec.Seq, At: rec.At, UID: rec.UID, DecisionID: trimTarget(rec.Target),
			Flags: kinds, Decision: json.RawMessage(rec.Detail)})
		return nil
	})
	if err != nil && err != errStop {
		return err
	}
	resp := map[string]any{"cases": out}
	if next != 0 {
		resp["next_from_seq"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func trimTarget(t string) string {
	if len(t) > len("decision/") && t[:len("decision/")] == "decision/" {
		return t[len("decision/"):]
	}
	return t
}

// caseTrail returns an account's open flags and its trail in time order:
// decisions, verifications and operator actions. ?since=&until=&from_seq=
// &limit= (default 1000, at most 10000; page with next_from_seq).
func (s *Server) caseTrail(w http.ResponseWriter, r *http.Request, _ caller) error {
	uid := r.PathValue("uid")
	f := state.JournalFilter{UID: uid}
	limit, err := journalQuery(r, &f, 1000, 10000)
	if err != nil {
		return err
	}
	a, err := s.o.Store.Account(uid, s.o.Now())
	if err != nil {
		return err
	}
	trail := []recordView{}
	var next uint64
	err = s.o.Store.Journal(r.Context(), f, func(rec pdp.AuditRecord) error {
		if len(trail) == limit {
			next = rec.Seq
			return errStop
		}
		e := viewRecord(&rec)
		e.UID = "" // the trail's
		trail = append(trail, e)
		return nil
	})
	if err != nil && err != errStop {
		return err
	}
	// The journal is in commit order; an async decision record commits a
	// few milliseconds after a sync operator action made later. Time order
	// is what a reviewer reads.
	slices.SortStableFunc(trail, func(x, y recordView) int { return x.At.Compare(y.At) })
	resp := map[string]any{"uid": uid, "open_flags": flagViews(a.Flags), "trail": trail}
	if next != 0 {
		resp["next_from_seq"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type closeCaseRequest struct {
	action
	// Flags are the flag kinds to close; empty: all.
	Flags []string `json:"flags"`
}

// closeCase closes an account's open flags (all, or the kinds named): its
// decisions are no longer journaled one by one. The journal record of the
// close names the kinds closed; the flags themselves stay in the decision
// records that raised them.
func (s *Server) closeCase(w http.ResponseWriter, r *http.Request, c caller) error {
	var req closeCaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	what := map[string]any{"flags": nonNil(req.Flags)} // none: every open flag
	return s.change(w, r, c, req.action, "case.close", what, func(a *pdp.AccountState) error {
		keep := a.Flags[:0:0]
		for _, f := range a.Flags {
			if len(req.Flags) != 0 && !slices.Contains(req.Flags, f.Kind) {
				keep = append(keep, f)
			}
		}
		if len(keep) == len(a.Flags) {
			return pdp.Errorf(pdp.CodeConflict, "flags", "the account has no open flag to close")
		}
		a.Flags = keep
		return nil
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
