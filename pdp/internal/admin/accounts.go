package admin

import (
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// accountView is an account's full state as operators read it, and the
// answer of every change to an account: the answer and the view agree.
type accountView struct {
	UID    string          `json:"uid"`
	Lists  map[string]bool `json:"lists"`
	Frozen bool            `json:"frozen"` // a freeze of every function in force
	// Restricted are the functions (stages) a grey freeze in force
	// denies, the others keep working; empty when Frozen.
	Restricted []string           `json:"restricted"`
	Freezes    []freezeView       `json:"freezes"`
	Probation  *probationView     `json:"probation,omitempty"`
	Limits     []pdp.Limit        `json:"limits"`
	Events     []pdp.AccountEvent `json:"recent_events"`
	Devices    []pdp.KnownDevice  `json:"devices"`
	// Destinations are where the account moved money to (withdrawals'
	// txn.instrument), new for a day after their first use.
	Destinations []pdp.KnownDestination `json:"destinations"`
	Flags        []flagView             `json:"flags"`
	// Verifications are the step-up challenges answered or pending, kept
	// a day past their expiry.
	Verifications []verificationView `json:"verifications"`
	Habit         pdp.Habit          `json:"habit"`
	Velocity      *pdp.Velocity      `json:"velocity,omitempty"`
	// Payments are the money movements allowed in the last 30 days (the
	// newest 32) with the outcomes the service reported.
	Payments []paymentView `json:"payments"`
	// The operators' work: open and closed appeals, releases waiting for a
	// second operator, who works the account, notes.
	Appeals   []appealView   `json:"appeals"`
	Approvals []approvalView `json:"approvals"`
	Assignee  *assigneeView  `json:"assignee,omitempty"`
	Notes     []noteView     `json:"notes"`
}

type appealView struct {
	ID        string    `json:"id"`
	Reason    string    `json:"reason"`
	Documents []string  `json:"documents"`
	At        time.Time `json:"at"`
	Status    string    `json:"status"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	Answer    string    `json:"answer,omitempty"`
}

type approvalView struct {
	ID        string    `json:"id"`
	Action    string    `json:"action"`
	Why       string    `json:"why"`
	Probation string    `json:"probation"`
	Requester string    `json:"requester"`
	By        pdp.Actor `json:"by"`
	At        time.Time `json:"at"`
}

type assigneeView struct {
	To string    `json:"to"`
	By string    `json:"by"`
	At time.Time `json:"at"`
}

type noteView struct {
	At   time.Time `json:"at"`
	By   pdp.Actor `json:"by"`
	Text string    `json:"text"`
}

type paymentView struct {
	TxnID      string        `json:"txn_id"`
	Stage      string        `json:"stage"`
	Amount     float64       `json:"amount"`
	Currency   string        `json:"currency"`
	AmountBase float64       `json:"amount_base"`
	Category   string        `json:"category,omitempty"`
	At         time.Time     `json:"at"`
	DecisionID string        `json:"decision_id"`
	Reasons    []string      `json:"reasons"`
	Outcomes   []outcomeView `json:"outcomes"`
	Labels     []string      `json:"labels,omitempty"`
}

type outcomeView struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

type freezeView struct {
	Kind       string     `json:"kind"`
	Functions  []string   `json:"functions,omitempty"`
	Active     bool       `json:"active"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until,omitempty"`
	Rule       string     `json:"rule,omitempty"`
	TxnID      string     `json:"txn_id,omitempty"`
	DecisionID string     `json:"decision_id,omitempty"`
	By         pdp.Actor  `json:"by"`
}

// flagView is a case's follow-up flag.
type flagView struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	// Stage is the stage of the decision that raised it (absent for a
	// flag raised before the sidecar kept it).
	Stage      string    `json:"stage,omitempty"`
	TxnID      string    `json:"txn_id,omitempty"`
	DecisionID string    `json:"decision_id"`
	At         time.Time `json:"at"`
}

func flagViews(fs []pdp.CaseFlag) []flagView {
	out := make([]flagView, len(fs))
	for i, f := range fs {
		out[i] = flagView{Kind: f.Kind, Reason: f.Reason, TxnID: f.TxnID, DecisionID: f.DecisionID, At: f.At}
		if f.Stage.Valid() {
			out[i].Stage = f.Stage.String()
		}
	}
	return out
}

type verificationView struct {
	ChallengeID string `json:"challenge_id"`
	// Subject is the operation's key; the fields after it are what the
	// challenge was issued for (absent for a record of an older version).
	Subject   string            `json:"subject"`
	Stage     string            `json:"stage,omitempty"`
	TxnID     string            `json:"txn_id,omitempty"`
	Amount    *float64          `json:"amount,omitempty"`
	Currency  string            `json:"currency,omitempty"`
	DeviceID  string            `json:"device_id,omitempty"`
	Methods   []string          `json:"methods"`
	Results   map[string]string `json:"results"`
	Status    string            `json:"status"`
	Expires   time.Time         `json:"expires_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

type probationView struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
	Active bool      `json:"active"`
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, _ caller) error {
	return s.writeAccount(w, r.PathValue("uid"))
}

// userStatus answers what the app shows the user of the account (the
// decision API's /v1/accounts/{uid}/status, in ?locale=), so that the
// operator reads the words the user reads.
func (s *Server) userStatus(w http.ResponseWriter, r *http.Request, _ caller) error {
	if s.o.UserStatus == nil {
		return pdp.Errorf(pdp.CodeNotFound, "", "the user status needs the decision service (pdp serve)")
	}
	b, err := s.o.UserStatus(r.Context(), r.PathValue("uid"), r.URL.Query().Get("locale"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// writeAccount answers with the account's view.
func (s *Server) writeAccount(w http.ResponseWriter, uid string) error {
	v, err := s.accountView(uid, s.o.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// accountView reads the account's full state at now.
func (s *Server) accountView(uid string, now time.Time) (*accountView, error) {
	a, err := s.o.Store.Account(uid, now)
	if err != nil {
		return nil, err
	}
	rep, err := s.o.Store.Reputation(pdp.SubjectUID, uid, now)
	if err != nil {
		return nil, err
	}
	v := &accountView{UID: uid, Lists: map[string]bool{"block": rep.Blocked, "allow": rep.Allowed, "vip": rep.VIP},
		Restricted: []string{},
		Limits:     nonNil(a.Limits), Events: nonNil(a.Events), Devices: nonNil(a.Devices), Destinations: nonNil(a.Destinations),
		Flags: flagViews(a.Flags), Habit: a.Habit, Freezes: []freezeView{}}
	for _, f := range a.Freezes {
		fv := freezeView{Kind: f.Kind.String(), Active: f.Active(now), Since: f.Since, Rule: f.Rule, TxnID: f.TxnID,
			DecisionID: f.DecisionID, By: f.Actor}
		if !f.Until.IsZero() {
			until := f.Until
			fv.Until = &until
		}
		for _, st := range f.Functions {
			fv.Functions = append(fv.Functions, st.String())
			if fv.Active && !slices.Contains(v.Restricted, st.String()) {
				v.Restricted = append(v.Restricted, st.String())
			}
		}
		v.Frozen = v.Frozen || (fv.Active && len(f.Functions) == 0)
		v.Freezes = append(v.Freezes, fv)
	}
	if v.Frozen {
		v.Restricted = []string{}
	}
	vs, err := s.o.Store.Verifications(uid)
	if err != nil {
		return nil, err
	}
	v.Verifications = make([]verificationView, 0, len(vs))
	for _, x := range vs {
		vv := verificationView{ChallengeID: x.ChallengeID, Subject: x.Subject, Methods: x.Methods, Status: x.Status(),
			Results: make(map[string]string, len(x.Results)), Expires: x.Expires, UpdatedAt: x.UpdatedAt}
		if b := x.Binding; x.Bound {
			vv.Stage, vv.TxnID, vv.Currency, vv.DeviceID = b.Stage.String(), b.TxnID, b.Currency, b.DeviceID
			if b.Stage != pdp.StageLogin {
				vv.Amount = &b.Amount
			}
		}
		for m, r := range x.Results {
			vv.Results[m] = r.String()
		}
		v.Verifications = append(v.Verifications, vv)
	}
	if p := a.ProbationAt(now); !p.Until.IsZero() {
		v.Probation = &probationView{Since: p.Since, Until: p.Until, Reason: p.Reason, Active: true}
	} else if !a.Probation.Until.IsZero() {
		v.Probation = &probationView{Since: a.Probation.Since, Until: a.Probation.Until, Reason: a.Probation.Reason}
	}
	v.Payments = make([]paymentView, 0, len(a.Payments))
	for _, p := range a.Payments {
		pv := paymentView{TxnID: p.TxnID, Stage: p.Stage.String(), Amount: p.Amount, Currency: p.Currency, AmountBase: p.AmountBase,
			Category: p.Category, At: p.At, DecisionID: p.DecisionID, Reasons: p.Reasons, Outcomes: []outcomeView{}}
		if pv.Reasons == nil {
			pv.Reasons = []string{}
		}
		for _, m := range p.Outcomes {
			pv.Outcomes = append(pv.Outcomes, outcomeView{Status: m.Status.String(), At: m.At})
			if l := m.Status.Label(); l != "" {
				pv.Labels = append(pv.Labels, l)
			}
		}
		v.Payments = append(v.Payments, pv)
	}
	if s.o.Velocity != nil {
		vel := new(pdp.Velocity)
		s.o.Velocity.ReadAccount(now, uid, vel)
		v.Velocity = vel
	}
	v.Appeals = make([]appealView, 0, len(a.Appeals))
	for _, ap := range a.Appeals {
		v.Appeals = append(v.Appeals, appealView{ID: ap.ID, Reason: ap.Reason, Documents: nonNil(ap.Documents), At: ap.At,
			Status: ap.Status.String(), ClosedAt: ap.ClosedAt, Answer: ap.Answer})
	}
	v.Approvals = make([]approvalView, 0, len(a.Approvals))
	for _, ap := range a.Approvals {
		v.Approvals = append(v.Approvals, approvalView{ID: ap.ID, Action: ap.Action, Why: ap.Why, Probation: ap.Probation.String(),
			Requester: ap.Requester, By: ap.By, At: ap.At})
	}
	if as := a.Assignee; as.To != "" {
		v.Assignee = &assigneeView{To: as.To, By: as.By, At: as.At}
	}
	v.Notes = make([]noteView, 0, len(a.Notes))
	for _, n := range a.Notes {
		v.Notes = append(v.Notes, noteView{At: n.At, By: n.By, Text: n.Text})
	}
	return v, nil
}

// change applies fn to the account durably, journaling the action first
// (its detail: what changed, as JSON members, and the token's name), and
// answers with the account's view.
func (s *Server) change(w http.ResponseWriter, r *http.Request, c caller, a action, name string, what map[string]any, fn func(*pdp.AccountState) error) error {
	uid := r.PathValue("uid")
	d := map[string]any{"token": c.token}
	maps.Copy(d, what)
	audit := &pdp.AuditRecord{At: s.o.Now(), Actor: a.actor(), Action: name, UID: uid, Target: "account/" + uid, Detail: detail(d)}
	if _, err := s.o.Store.UpdateAccount(r.Context(), uid, state.Sync, audit, fn); err != nil {
		return err
	}
	return s.writeAccount(w, uid)
}

type freezeRequest struct {
	action
	Kind      string   `json:"kind"`
	Duration  string   `json:"duration"`
	Functions []string `json:"functions"`
}

// freeze freezes an account: temporary (with a duration), review (until an
// operator releases it) or permanent; with functions, a grey freeze that
// denies only those stages.
func (s *Server) freeze(w http.ResponseWriter, r *http.Request, c caller) error {
	var req freezeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	kind, ok := pdp.ParseFreezeKind(req.Kind)
	if !ok {
		return pdp.Errorf(pdp.CodeInvalidValue, "kind", "must be temporary, review or permanent")
	}
	now := s.o.Now()
	f := pdp.Freeze{Kind: kind, Since: now, Actor: req.actor()}
	if kind == pdp.FreezeTemporary {
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return pdp.Errorf(pdp.CodeInvalidValue, "duration", "a temporary freeze needs a positive duration such as \"30m\"")
		}
		f.Until = now.Add(d)
		f.ProbationAfter = s.o.Probation() // the release it lifts itself into starts one
	} else if req.Duration != "" {
		return pdp.Errorf(pdp.CodeInvalidValue, "duration", "only a temporary freeze has a duration")
	}
	for _, name := range req.Functions {
		st, ok := pdp.ParseStage(name)
		if !ok {
			return pdp.Errorf(pdp.CodeInvalidValue, "functions", "unknown function %q (want a stage)", name)
		}
		f.Functions = append(f.Functions, st)
	}
	what := map[string]any{"kind": kind.String()}
	if len(req.Functions) > 0 {
		what["functions"] = req.Functions
	}
	if !f.Until.IsZero() {
		what["until"] = f.Until
	}
	return s.change(w, r, c, req.action, "freeze", what, func(a *pdp.AccountState) error {
		a.Freezes = append(a.Freezes, f)
		return nil
	})
}

type releaseRequest struct {
	action
	// Probation overrides the probation the release starts ("0s": none).
	Probation string `json:"probation"`
}

// release lifts every freeze in force (they stay in the history) and starts
// a probation (002): large transactions need a fresh two-factor step-up.
// A release of a permanent freeze, or without a verification the user
// passed after the freeze, waits for a second operator (four eyes): it is
// recorded as an approval and answered 202 (work.go).
func (s *Server) release(w http.ResponseWriter, r *http.Request, c caller) error {
	var req releaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	prob := s.o.Probation()
	if req.Probation != "" {
		d, err := time.ParseDuration(req.Probation)
		if err != nil || d < 0 {
			return pdp.Errorf(pdp.CodeInvalidValue, "probation", "must be a duration such as \"24h\"")
		}
		prob = d
	}
	now := s.o.Now()
	uid := r.PathValue("uid")
	cur, err := s.o.Store.Account(uid, now)
	if err != nil {
		return err
	}
	passed, err := s.lastPassed(uid)
	if err != nil {
		return err
	}
	if why := fourEyes(cur, now, passed); why != "" {
		return s.requestApproval(w, r, c, req, why, prob)
	}
	return s.change(w, r, c, req.action, "release", map[string]any{"probation": prob.String()}, func(a *pdp.AccountState) error {
		if fourEyes(a, now, passed) != "" {
			// frozen again meanwhile (fn runs on the newest state)
			return pdp.Errorf(pdp.CodeConflict, "", "the account was frozen again meanwhile: release it again")
		}
		return liftFreezes(a, now, prob, req.Reason)
	})
}

type limitRequest struct {
	action
	DailyAmount float64 `json:"daily_amount"`
	MaxAmount   float64 `json:"max_amount"`
	Currency    string  `json:"currency"`
	Duration    string  `json:"duration"`
}

// setLimit sets a short-term limit (000 §3.3: a cap on large payments).
func (s *Server) setLimit(w http.ResponseWriter, r *http.Request, c caller) error {
	var req limitRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	switch {
	case req.DailyAmount < 0 || req.MaxAmount < 0 || req.DailyAmount == 0 && req.MaxAmount == 0:
		return pdp.Errorf(pdp.CodeInvalidValue, "daily_amount", "set daily_amount and/or max_amount, both positive")
	}
	cur, ok := pdp.CanonicalCurrency(req.Currency)
	if !ok {
		return pdp.Errorf(pdp.CodeInvalidValue, "currency", "must be an ISO 4217 code such as \"CNY\"")
	}
	req.Currency = cur
	d := 24 * time.Hour
	if req.Duration != "" {
		var err error
		if d, err = time.ParseDuration(req.Duration); err != nil || d <= 0 {
			return pdp.Errorf(pdp.CodeInvalidValue, "duration", "must be a positive duration such as \"24h\"")
		}
	}
	l := pdp.Limit{DailyAmount: req.DailyAmount, MaxAmount: req.MaxAmount, Currency: req.Currency, Duration: d,
		Until: s.o.Now().Add(d), Operator: true}
	return s.change(w, r, c, req.action, "limit.set", map[string]any{"limit": l}, func(a *pdp.AccountState) error {
		a.Limits = append(a.Limits, l)
		return nil
	})
}

// clearLimit ends every limit in force.
func (s *Server) clearLimit(w http.ResponseWriter, r *http.Request, c caller) error {
	var req action
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	now := s.o.Now()
	return s.change(w, r, c, req, "limit.clear", nil, func(a *pdp.AccountState) error {
		a.Limits = slices.DeleteFunc(a.Limits, func(l pdp.Limit) bool { return l.Until.IsZero() || now.Before(l.Until) })
		return nil
	})
}
