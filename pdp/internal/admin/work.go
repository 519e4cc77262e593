package admin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// The operators' work: the queue (open cases, review freezes, releases
// waiting for a second operator, appeals), who works an account,
// operators' notes, four-eyes releases and the answers to appeals.
//
// Identities are the token names of the token file (the third field): the
// one thing the operator API authenticates. Four-eyes compares them: the
// operator who approves a release must hold another token than the one who
// asked for it.

// Item kinds of the queue.
const (
	itemCase     = "case"     // open follow-up flags
	itemReview   = "review"   // a review freeze in force
	itemApproval = "approval" // a release waiting for a second operator
	itemAppeal   = "appeal"   // an open appeal
)

// queueItem is one piece of open work.
type queueItem struct {
	UID      string    `json:"uid"`
	Kind     string    `json:"kind"`
	ID       string    `json:"id"` // the approval's or appeal's id; the flag kinds' first for a case
	Since    time.Time `json:"since"`
	Waited   string    `json:"waited"` // since → now, a duration
	DueAt    time.Time `json:"due_at"` // since + the answer time
	Overdue  bool      `json:"overdue"`
	Assignee string    `json:"assignee"`
	Flags    []string  `json:"flags"`  // a case's open flag kinds
	Stages   []string  `json:"stages"` // the stages it concerns, when known
}

// workItems lists a's open work at now.
func workItems(a *pdp.AccountState, now time.Time, answer time.Duration) []queueItem {
	var out []queueItem
	add := func(kind, id string, since time.Time, flags, stages []string) {
		out = append(out, queueItem{UID: a.UID, Kind: kind, ID: id, Since: since, Waited: now.Sub(since).Round(time.Second).String(),
			DueAt: since.Add(answer), Overdue: now.After(since.Add(answer)), Assignee: a.Assignee.To,
			Flags: nonNil(flags), Stages: nonNil(stages)})
	}
	if len(a.Flags) > 0 {
		var kinds, stages []string
		since := a.Flags[0].At
		for _, f := range a.Flags {
			if !slices.Contains(kinds, f.Kind) {
				kinds = append(kinds, f.Kind)
			}
			if f.At.Before(since) {
				since = f.At
			}
			if f.Stage.Valid() && !slices.Contains(stages, f.Stage.String()) {
				stages = append(stages, f.Stage.String())
			}
			for _, p := range a.Payments { // a flag of a record without its stage
				if p.TxnID == f.TxnID && !slices.Contains(stages, p.Stage.String()) {
					stages = append(stages, p.Stage.String())
				}
			}
		}
		add(itemCase, kinds[0], since, kinds, stages)
	}
	for _, f := range a.Freezes {
		if f.Kind == pdp.FreezeReview && f.Active(now) {
			var stages []string
			for _, st := range f.Functions {
				stages = append(stages, st.String())
			}
			add(itemReview, "review", f.Since, nil, stages)
		}
	}
	for _, ap := range a.Approvals {
		add(itemApproval, ap.ID, ap.At, nil, nil)
	}
	for _, ap := range a.Appeals {
		if ap.Status == pdp.AppealOpen {
			add(itemAppeal, ap.ID, ap.At, nil, nil)
		}
	}
	return out
}

// queue lists the open work, oldest first:
// ?kind=&flag=&stage=&min_age=&assignee=&mine=true&after=&limit=
// (assignee "none": unassigned; limit default 50, at most 500; page with
// next_after).
func (s *Server) queue(w http.ResponseWriter, r *http.Request, c caller) error {
	q := r.URL.Query()
	kind, flag, stage, assignee := q.Get("kind"), q.Get("flag"), q.Get("stage"), q.Get("assignee")
	if kind != "" && !slices.Contains([]string{itemCase, itemReview, itemApproval, itemAppeal}, kind) {
		return pdp.Errorf(pdp.CodeInvalidValue, "kind", "must be case, review, approval or appeal")
	}
	if stage != "" {
		if _, ok := pdp.ParseStage(stage); !ok {
			return pdp.Errorf(pdp.CodeInvalidValue, "stage", "unknown stage %q", stage)
		}
	}
	var minAge time.Duration
	if v := q.Get("min_age"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return pdp.Errorf(pdp.CodeInvalidValue, "min_age", "must be a duration such as \"24h\"")
		}
		minAge = d
	}
	switch v := q.Get("mine"); v {
	case "", "false":
	case "true":
		if assignee != "" {
			return pdp.Errorf(pdp.CodeInvalidValue, "mine", "give mine or assignee, not both")
		}
		assignee = c.token
	default:
		return pdp.Errorf(pdp.CodeInvalidValue, "mine", "must be true or false")
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 500 {
			return pdp.Errorf(pdp.CodeInvalidValue, "limit", "must be 1 to 500")
		}
	}
	var after *queueItem
	if v := q.Get("after"); v != "" {
		a, ok := parseCursor(v)
		if !ok {
			return pdp.Errorf(pdp.CodeInvalidValue, "after", "not a cursor this API gave")
		}
		after = &a
	}
	now := s.o.Now()
	items := []queueItem{}
	err := s.o.Store.Queue(r.Context(), func(uid string) error {
		a, err := s.o.Store.Account(uid, now)
		if err != nil {
			return err
		}
		for _, it := range workItems(a, now, s.o.AnswerTime) {
			switch {
			case kind != "" && it.Kind != kind,
				flag != "" && !slices.Contains(it.Flags, flag),
				stage != "" && !slices.Contains(it.Stages, stage),
				now.Sub(it.Since) < minAge,
				assignee == "none" && it.Assignee != "",
				assignee != "" && assignee != "none" && it.Assignee != assignee,
				after != nil && itemOrder(it, *after) <= 0:
				continue
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(items, itemOrder)
	resp := map[string]any{"answer_time": s.o.AnswerTime.String()}
	if len(items) > limit {
		items = items[:limit]
		resp["next_after"] = cursor(items[limit-1])
	}
	resp["items"] = items
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// itemOrder is the queue's order: the longest waiting first.
func itemOrder(a, b queueItem) int {
	if c := a.Since.Compare(b.Since); c != 0 {
		return c
	}
	return strings.Compare(a.UID+"\x00"+a.Kind+"\x00"+a.ID, b.UID+"\x00"+b.Kind+"\x00"+b.ID)
}

func cursor(it queueItem) string {
	return base64.RawURLEncoding.EncodeToString([]byte(it.Since.Format(time.RFC3339Nano) + "\x00" + it.UID + "\x00" + it.Kind + "\x00" + it.ID))
}

func parseCursor(s string) (queueItem, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return queueItem{}, false
	}
	p := strings.Split(string(b), "\x00")
	if len(p) != 4 {
		return queueItem{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, p[0])
	if err != nil {
		return queueItem{}, false
	}
	return queueItem{Since: t, UID: p[1], Kind: p[2], ID: p[3]}, true
}

type assignRequest struct {
	// Assignee is the identity (a token's name) to work the account; ""
	// unassigns.
	Assignee string `json:"assignee"`
}

// assign sets who works the account (POST …/assign {"assignee"}); claim
// (POST …/claim, no body) assigns it to the caller. Either is journalled
// ("case.assign") with the caller as the operator.
func (s *Server) assign(w http.ResponseWriter, r *http.Request, c caller) error {
	var req assignRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Assignee != "" {
		if err := operatorText.check(req.Assignee, "who works the account"); err != nil {
			return pdp.Errorf(pdp.CodeInvalidValue, "assignee", "%s", pdp.AsError(err).Message)
		}
	}
	return s.setAssignee(w, r, c, req.Assignee)
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request, c caller) error {
	return s.setAssignee(w, r, c, c.token)
}

func (s *Server) setAssignee(w http.ResponseWriter, r *http.Request, c caller, to string) error {
	now := s.o.Now()
	why := "assign to " + strconv.Quote(to)
	if to == "" {
		why = "unassign"
	}
	act := action{Operator: c.token, Reason: why}
	return s.change(w, r, c, act, "case.assign", map[string]any{"assignee": to}, func(a *pdp.AccountState) error {
		if !a.OpenWork(now) && to != "" {
			return pdp.Errorf(pdp.CodeConflict, "", "the account has no open work to assign")
		}
		a.Assignee = pdp.Assignment{To: to, By: c.token, At: now}
		return nil
	})
}

type noteRequest struct {
	action
	Text string `json:"text"`
}

var noteText = textRule{field: "text", max: 2000, required: true}

// note adds an operator's note to the account (journalled with its text).
func (s *Server) note(w http.ResponseWriter, r *http.Request, c caller) error {
	var req noteRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if err := noteText.check(req.Text, "the note"); err != nil {
		return err
	}
	if err := noNumbers("text", req.Text); err != nil {
		return err
	}
	now := s.o.Now()
	return s.change(w, r, c, req.action, "note", map[string]any{"text": req.Text}, func(a *pdp.AccountState) error {
		a.Notes = append(a.Notes, pdp.Note{At: now, By: req.actor(), Text: req.Text})
		return nil
	})
}

// noNumbers refuses a text that holds a card or identity number: notes
// and answers are kept for years and shown in the console.
func noNumbers(field, text string) error {
	var sc pii.Scanner
	if k := sc.FirstNumber(text, pii.Mask); k != pii.None {
		return pdp.Errorf(pdp.CodeInvalidValue, field, "holds what looks like a %s number: refer to it, do not copy it", k)
	}
	return nil
}

// lastPassed is when the account's user last passed a verification (zero
// if never, as far as the verifications kept tell).
func (s *Server) lastPassed(uid string) (time.Time, error) {
	vs, err := s.o.Store.Verifications(uid)
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	for _, v := range vs {
		if v.Status() == "passed" && v.UpdatedAt.After(t) {
			t = v.UpdatedAt
		}
	}
	return t, nil
}

// fourEyes says why releasing a at now needs a second operator ("" if it
// does not, or nothing is in force): a permanent freeze in force, or no
// verification passed (passed: the last one) after the latest freeze in
// force began.
func fourEyes(a *pdp.AccountState, now, passed time.Time) string {
	var latest time.Time
	for _, f := range a.Freezes {
		if !f.Active(now) {
			continue
		}
		if f.Kind == pdp.FreezePermanent {
			return "permanent_freeze"
		}
		if f.Since.After(latest) {
			latest = f.Since
		}
	}
	if !latest.IsZero() && !passed.After(latest) {
		return "no_verification"
	}
	return ""
}

// liftFreezes ends every freeze in force at now and starts the probation.
func liftFreezes(a *pdp.AccountState, now time.Time, prob time.Duration, reason string) error {
	lifted := 0
	for i := range a.Freezes {
		if a.Freezes[i].Active(now) {
			a.Freezes[i].Until = now
			lifted++
		}
	}
	if lifted == 0 {
		return pdp.Errorf(pdp.CodeConflict, "", "the account is not frozen")
	}
	if prob > 0 {
		a.Probation = pdp.Probation{Since: now, Until: now.Add(prob), Reason: "release: " + reason}
	}
	return nil
}

// requestApproval records a release that waits for a second operator and
// answers 202 with the account's view (its approvals list it).
func (s *Server) requestApproval(w http.ResponseWriter, r *http.Request, c caller, req releaseRequest, why string, prob time.Duration) error {
	now := s.o.Now()
	id := newID("apr-")
	uid := r.PathValue("uid")
	audit := &pdp.AuditRecord{At: now, Actor: req.actor(), Action: "release.requested", UID: uid, Target: "account/" + uid,
		Detail: detail(map[string]any{"approval_id": id, "why": why, "probation": prob.String(), "token": c.token})}
	_, err := s.o.Store.UpdateAccount(r.Context(), uid, state.Sync, audit, func(a *pdp.AccountState) error {
		for _, ap := range a.Approvals {
			if ap.Action == "release" {
				return pdp.Errorf(pdp.CodeConflict, "", "a release of this account already waits for approval (%s)", ap.ID)
			}
		}
		if len(a.Approvals) >= pdp.MaxApprovals {
			return pdp.Errorf(pdp.CodeConflict, "", "too many pending approvals")
		}
		a.Approvals = append(a.Approvals, pdp.Approval{ID: id, Action: "release", Why: why, Probation: prob, Requester: c.token,
			By: req.actor(), At: now})
		return nil
	})
	if err != nil {
		return err
	}
	v, err := s.accountView(uid, s.o.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

// decideApproval approves (POST …/approvals/{id}/approve) or rejects
// (…/reject) a pending release. Approving needs another identity than the
// requester's and carries the release out in the same write.
func (s *Server) decideApproval(approve bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c caller) error {
		var req action
		if err := decode(r, &req); err != nil {
			return err
		}
		if err := req.check(); err != nil {
			return err
		}
		id := r.PathValue("id")
		now := s.o.Now()
		name, what := "release.rejected", map[string]any{"approval_id": id}
		if approve {
			name = "release.approved"
		}
		return s.change(w, r, c, req, name, what, func(a *pdp.AccountState) error {
			i := slices.IndexFunc(a.Approvals, func(ap pdp.Approval) bool { return ap.ID == id })
			if i < 0 {
				return pdp.Errorf(pdp.CodeNotFound, "id", "no pending approval %q on this account", id)
			}
			ap := a.Approvals[i]
			if approve {
				if ap.Requester == c.token {
					return pdp.Errorf(pdp.CodeForbidden, "", "four eyes: the release was asked for with this token; another operator must approve it")
				}
				// The approver approves what was asked: a freeze put on
				// since (a permanent one, say) is not lifted under an
				// approval given for an older one.
				if slices.ContainsFunc(a.Freezes, func(f pdp.Freeze) bool { return f.Active(now) && f.Since.After(ap.At) }) {
					return pdp.Errorf(pdp.CodeConflict, "id", "the account was frozen again after release %s was asked for: reject it and ask again", id)
				}
				if err := liftFreezes(a, now, ap.Probation, ap.By.Reason); err != nil {
					return err
				}
			}
			a.Approvals = slices.Delete(a.Approvals, i, i+1)
			return nil
		})
	}
}

type appealAnswerRequest struct {
	action
	Status string `json:"status"` // granted or rejected
	// Answer is what the user is told (GET /v1/accounts/{uid}/status).
	Answer string `json:"answer"`
}

var answerText = textRule{field: "answer", max: 2000, required: true}

// answerAppeal closes an open appeal: granted (only once nothing freezes
// or restricts the account any more: release it first, four eyes
// included) or rejected, with the answer the user is shown.
func (s *Server) answerAppeal(w http.ResponseWriter, r *http.Request, c caller) error {
	var req appealAnswerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	st, ok := pdp.ParseAppealStatus(req.Status)
	if !ok || st == pdp.AppealOpen {
		return pdp.Errorf(pdp.CodeInvalidValue, "status", "must be granted or rejected")
	}
	if err := answerText.check(req.Answer, "what the user is told"); err != nil {
		return err
	}
	if err := noNumbers("answer", req.Answer); err != nil {
		return err
	}
	id := r.PathValue("id")
	now := s.o.Now()
	return s.change(w, r, c, req.action, "appeal."+st.String(), map[string]any{"appeal_id": id, "status": st.String()}, func(a *pdp.AccountState) error {
		i := slices.IndexFunc(a.Appeals, func(ap pdp.Appeal) bool { return ap.ID == id })
		switch {
		case i < 0:
			return pdp.Errorf(pdp.CodeNotFound, "id", "no appeal %q on this account", id)
		case a.Appeals[i].Status != pdp.AppealOpen:
			return pdp.Errorf(pdp.CodeConflict, "", "appeal %s is %s already", id, a.Appeals[i].Status)
		}
		if st == pdp.AppealGranted {
			for _, f := range a.Freezes {
				if f.Active(now) {
					return pdp.Errorf(pdp.CodeConflict, "status", "the account is still frozen or restricted: release it first")
				}
			}
		}
		ap := &a.Appeals[i]
		ap.Status, ap.ClosedAt, ap.Answer = st, now, req.Answer
		return nil
	})
}

// newID is prefix and 12 random hex digits.
func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
