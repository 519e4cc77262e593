package decide

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// What the app may show of an account (GET /v1/accounts/{uid}/status):
// its standing (the most severe of frozen, restricted, limited and
// probation), the functions it cannot use, until when, the user-facing
// message of its situation, whether it may appeal, and its appeals' state.
// Nothing internal: no rule, reason code, operator, ticket, decision id or
// score; an appeal's answer is the operator's words to the user.

// Standings, most severe first.
const (
	StandingFrozen     = "frozen"     // a freeze of every function
	StandingRestricted = "restricted" // a grey freeze: some functions
	StandingLimited    = "limited"    // a cap on amounts
	StandingProbation  = "probation"  // large amounts need two factors
	StandingOK         = "ok"
)

// Standing is an account's standing at a time.
type Standing struct {
	Status string
	// Functions are the stages it cannot use (every stage when frozen;
	// none when limited or on probation).
	Functions []pdp.Stage
	// Until is when it ends; zero when no end is set (a review or
	// permanent freeze, a limit without an end) or when ok.
	Until time.Time

	situation string
	vars      pdp.MessageVars
}

// standingOf reads a's standing at now; rates compare limits set in
// different currencies (nil: as written).
func standingOf(a *pdp.AccountState, rates *pdp.Rates, now time.Time) Standing {
	var full, grey []pdp.Freeze
	for _, f := range a.Freezes {
		switch {
		case !f.Active(now):
		case len(f.Functions) == 0:
			full = append(full, f)
		default:
			grey = append(grey, f)
		}
	}
	switch {
	case len(full) > 0:
		st := Standing{Status: StandingFrozen, Functions: slices.Clone(pdp.Stages), Until: freezeEnd(full)}
		st.freezeSituation()
		return st
	case len(grey) > 0:
		st := Standing{Status: StandingRestricted, Until: freezeEnd(grey)}
		for _, stage := range pdp.Stages {
			if slices.ContainsFunc(grey, func(f pdp.Freeze) bool { return f.Covers(stage) }) {
				st.Functions = append(st.Functions, stage)
			}
		}
		st.freezeSituation()
		return st
	}
	var limits []pdp.Limit
	for _, l := range a.Limits {
		if l.Until.IsZero() || now.Before(l.Until) {
			limits = append(limits, l)
		}
	}
	if len(limits) > 0 {
		st := Standing{Status: StandingLimited, Until: end(limits, func(l pdp.Limit) time.Time { return l.Until }),
			situation: pdp.SituationAllowed}
		daily := 0.0 // the strictest daily cap, in base units
		for _, l := range limits {
			if base := rates.CapToBase(l.DailyAmount, l.Currency); l.DailyAmount > 0 && (daily == 0 || base < daily) {
				daily = base
				st.situation, st.vars.DailyAmount, st.vars.Currency = pdp.SituationLimited, l.DailyAmount, l.Currency
			}
		}
		return st
	}
	if p := a.ProbationAt(now); !p.Until.IsZero() {
		return Standing{Status: StandingProbation, Until: p.Until, situation: pdp.SituationProbation}
	}
	return Standing{Status: StandingOK, situation: pdp.SituationAllowed}
}

// end is when all of xs have ended: the latest until, zero when one has
// no end (a zero until).
func end[T any](xs []T, until func(T) time.Time) time.Time {
	var last time.Time
	for _, x := range xs {
		u := until(x)
		if u.IsZero() {
			return time.Time{}
		}
		if u.After(last) {
			last = u
		}
	}
	return last
}

func freezeEnd(fs []pdp.Freeze) time.Time {
	return end(fs, func(f pdp.Freeze) time.Time { return f.Until })
}

// freezeSituation is the message of a freeze: frozen until a time, or
// until a review.
func (st *Standing) freezeSituation() {
	if st.Until.IsZero() {
		st.situation = pdp.SituationFrozenReview
		return
	}
	st.situation, st.vars.Until = pdp.SituationFrozen, st.Until
}

// AccountStatus is the answer of GET /v1/accounts/{uid}/status.
type AccountStatus struct {
	UID string
	Standing
	// Message is the user-facing text of the standing, in the locale
	// asked for (else messages.locale).
	Message string
	// CanAppeal: the account has something to appeal and fewer than
	// pdp.MaxOpenAppeals appeals open.
	CanAppeal bool
	// Appeals are the account's appeals, oldest first, with their due
	// time (lodged + the answer time).
	Appeals []AppealState
}

// AppealState is what the app may show of an appeal.
type AppealState struct {
	ID       string
	Status   pdp.AppealStatus
	LodgedAt time.Time
	DueAt    time.Time
	// AnsweredAt and Answer are set once it is closed.
	AnsweredAt time.Time
	Answer     string
}

// AccountStatus reads what the app may show of uid's account. locale
// chooses the message's language ("" for messages.locale).
func (s *Service) AccountStatus(ctx context.Context, uid, locale string) (AccountStatus, error) {
	if err := checkUID(uid); err != nil {
		return AccountStatus{}, err
	}
	if locale != "" && !request.IsLocale(locale) {
		return AccountStatus{}, pdp.Errorf(pdp.CodeInvalidValue, "locale", "must be a language tag such as \"zh\" or \"en-SG\"")
	}
	if s.state == nil {
		return AccountStatus{}, ErrNoState
	}
	now := s.now()
	a, err := s.state.Account(uid, now)
	if err != nil {
		return AccountStatus{}, errors.Join(errState, err)
	}
	out := AccountStatus{UID: uid, Standing: standingOf(a, s.eng.Rates(), now), Appeals: make([]AppealState, 0, len(a.Appeals))}
	open := 0
	for _, ap := range a.Appeals {
		v := AppealState{ID: ap.ID, Status: ap.Status, LodgedAt: ap.At, DueAt: ap.At.Add(s.answerTime)}
		if ap.Status == pdp.AppealOpen {
			open++
		} else {
			v.AnsweredAt, v.Answer = ap.ClosedAt, ap.Answer
		}
		out.Appeals = append(out.Appeals, v)
	}
	out.CanAppeal = out.Status != StandingOK && open < pdp.MaxOpenAppeals
	out.Message = s.standingMessage(out.Standing, locale)
	return out, nil
}

// standingMessage is the text of the standing's situation in locale, from
// the policy's templates, else the configured text of the outcome the
// situation belongs to (deny, step_up, allow).
func (s *Service) standingMessage(st Standing, locale string) string {
	for _, sit := range [...]string{st.situation, decisionSituation[st.situation]} {
		if text, ok := s.eng.Messages().Text(locale, s.messages.Locale, sit, st.vars); ok && sit != "" {
			return text
		}
	}
	switch st.situation {
	case pdp.SituationFrozen, pdp.SituationFrozenReview:
		return s.messages.Deny
	case pdp.SituationProbation:
		return s.messages.StepUp
	}
	return s.messages.Allow
}

// decisionSituation is the decision's situation a status's own falls back
// to when the policy's messages lack it.
var decisionSituation = map[string]string{pdp.SituationLimited: pdp.SituationLimit, pdp.SituationProbation: pdp.SituationVerify}
