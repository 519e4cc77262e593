// Package decide is the decision path: it decodes a request, enriches it,
// evaluates the policy, turns any internal fault into the fallback outcome
// (never allow), builds the answer, records it and carries it out. The
// HTTP edge (pdp/internal/server) only moves bytes; everything a decision means
// happens here.
//
// A decision is made in three steps, plan → record → apply (Decide):
//
//   - plan: enrich the input with the risk state, evaluate the policy,
//     build the answer (a step-up's challenge is a signed token: issuing it
//     writes nothing) and compute every change of state the decision
//     implies without making it (effects.go): the account update, that is
//     the policy's obligations (freezes, limits, probation, case flags),
//     the device and the destination remembered, the allowed payment kept
//     for its outcomes (which teach the habit), the account's first
//     sighting, and its journal record.
//   - record: hand the decision to the decision log (log.go). With the
//     synchronous log (decision_log.sync) it waits until the record is
//     durable; a decision that cannot be recorded is refused (503) and
//     changes no state at all. Without a log, or with the asynchronous one,
//     recording cannot refuse.
//   - apply: once recorded, make the planned changes, then run the hooks
//     on the record: the shadow evaluation (shadow.go) is offered the
//     recorded decision and its input.
//
// Velocity is the exception, written while planning: a decision's
// observation, and the spend of an allowed money movement, count as soon
// as it is decided, so that decisions in flight count each other (a burst
// of parallel requests meets the thresholds it would meet one after the
// other, also while a synchronous record waits for its fsync). With the
// synchronous log they are taken with a receipt and taken back
// (velocity.Tracker.Undo) when the record fails: a refused decision is
// answered 503, never allowed, so withholding its counts gives an attacker
// nothing. Its fleet-wide count (pdp/internal/fleet) is then added at apply: the
// fleet's counts reach other sidecars a sync interval later anyway.
package decide

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// ReasonPDPError is the reason code of a fallback decision.
const ReasonPDPError = "pdp_error"

// Service makes decisions. It is safe for concurrent use.
type Service struct {
	eng      *policy.Engine
	metrics  *metrics.Metrics
	limits   request.Limits
	fallback pdp.Outcome
	messages config.Messages
	log      *slog.Logger
	now      func() time.Time

	state    State             // nil: no risk state
	velocity *velocity.Tracker // nil: no velocity
	fleet    FleetVelocity     // nil: local velocity only
	plugins  *plugin.Host      // nil: no plugins
	signer   signer

	dlog    *decisionlog.Logger // nil: decisions are not logged
	logSync bool
	labels  map[string]string
	path    string  // the decision package, the log's "path"
	bundle  string  // the log's "bundles" key (default path)
	shadow  *Shadow // nil: no shadow policy
	// dataExpose are the normalized paths the Data API serves besides the
	// decision package's rules.
	dataExpose []string
	// explainLog records explanations in the decision log (explain.go).
	explainLog bool
	// challengeTTL is how long a step-up challenge can be answered;
	// verificationTTL how long a reported result counts for retries.
	challengeTTL, verificationTTL time.Duration
	// answerTime is how long operators have to answer an appeal.
	answerTime time.Duration
}

// Options configure a Service.
type Options struct {
	Engine   *policy.Engine
	Metrics  *metrics.Metrics
	Limits   request.Limits
	Fallback pdp.Outcome
	Messages config.Messages
	Logger   *slog.Logger
	// Now returns the decision time; defaults to time.Now.
	Now func() time.Time
	// State, Velocity and Plugins are optional.
	State    State
	Velocity *velocity.Tracker
	Plugins  *plugin.Host
	// Fleet merges fleet-wide counts into Velocity's (needs Velocity).
	Fleet FleetVelocity
	// ChallengeTTL defaults to 10 minutes, VerificationTTL to 30 minutes.
	ChallengeTTL, VerificationTTL time.Duration
	// AnswerTime is how long operators have to answer an appeal
	// (config admin.answer_time); default 48 hours.
	AnswerTime time.Duration

	// DecisionLog records every decision (optional); DecisionLogSync says
	// it is in sync mode (a record that is not durable fails the request).
	// LogLabels are added to every record; Package is the decision package
	// (the record's "path").
	DecisionLog     *decisionlog.Logger
	DecisionLogSync bool
	LogLabels       map[string]string
	Package         string
	// BundleName is the key of the record's "bundles" field, OPA's
	// {"NAME": {"revision": ...}}: the policy bundle's name when policies
	// come from a bundle service. Default: Package.
	BundleName string
	// Shadow evaluates a candidate policy set on sampled decisions, once
	// recorded (optional).
	Shadow *Shadow
	// DataExpose lists the data paths the Data API serves besides the
	// decision package's rules (config.DataAPI.Expose).
	DataExpose []string
	// ExplainLog records every explanation (Explain) in the decision log
	// (config explain.log).
	ExplainLog bool
}

// New returns a Service. With state, step-up challenges are signed with a
// key the state keeps, so they stay valid across restarts.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if !o.Fallback.Valid() || o.Fallback == pdp.Allow {
		o.Fallback = pdp.StepUp
	}
	if o.ChallengeTTL <= 0 {
		o.ChallengeTTL = config.DefaultChallengeTTL
	}
	if o.VerificationTTL <= 0 {
		o.VerificationTTL = config.DefaultVerificationTTL
	}
	if o.AnswerTime <= 0 {
		o.AnswerTime = config.DefaultAnswerTime
	}
	enableRandPool()
	s := &Service{eng: o.Engine, metrics: o.Metrics, limits: o.Limits, fallback: o.Fallback,
		messages: o.Messages, log: o.Logger, now: o.Now,
		state: o.State, velocity: o.Velocity, fleet: o.Fleet, plugins: o.Plugins,
		challengeTTL: o.ChallengeTTL, verificationTTL: o.VerificationTTL, answerTime: o.AnswerTime,
		dlog: o.DecisionLog, logSync: o.DecisionLogSync, labels: o.LogLabels, path: o.Package, shadow: o.Shadow,
		bundle: o.BundleName, explainLog: o.ExplainLog}
	if s.path == "" {
		s.path = "riskpdp"
	}
	if s.bundle == "" {
		s.bundle = s.path
	}
	for _, p := range o.DataExpose {
		s.dataExpose = append(s.dataExpose, config.DataPath(p))
	}
	if o.State != nil {
		key, err := o.State.Secret(context.Background(), "challenge")
		if err != nil {
			return nil, fmt.Errorf("challenge key: %w", err)
		}
		s.signer = newSigner(key)
	} else {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		s.signer = newSigner(key)
	}
	return s, nil
}

// Decide answers one decide request: plan → record → apply (see the
// package doc). It returns a *pdp.Error for input the caller must fix, or
// when the synchronous decision log could not record the decision (which
// then changed nothing); an internal fault never returns an error but the
// fallback decision.
func (s *Service) Decide(ctx context.Context, body []byte, traceparent string) (*pdp.Decision, error) {
	return s.DecideTraced(ctx, body, traceparent, tracing.Span{})
}

// DecideTraced is Decide recording its steps as children of span (the
// request's server span, see trace.go): decode, state, plugins, evaluate,
// log and apply. The zero span traces nothing and costs nothing.
func (s *Service) DecideTraced(ctx context.Context, body []byte, traceparent string, span tracing.Span) (*pdp.Decision, error) {
	start := s.now()
	if s.shadow != nil {
		s.shadow.enter()
		defer s.shadow.exit()
	}
	step := span.Child(spanDecode)
	in, err := request.DecodeRequest(body, start, s.limits)
	step.End()
	if err != nil {
		return nil, err
	}
	in.Req.Traceparent = traceparent
	in.SetRates(s.eng.Rates())
	p := plan{span: span}
	if err := s.plan(ctx, in, start, &p); err != nil {
		return nil, err
	}
	traceDecision(span, &p)
	step = span.Child(spanLog)
	err = s.record(&p, traceparent)
	step.End()
	if err != nil {
		s.withdraw(&p)
		return nil, err
	}
	step = span.Child(spanApply)
	s.apply(ctx, &p)
	step.End()
	s.recorded(&p)
	return p.d, nil
}

// plan makes the decision and computes what it changes (p), changing
// nothing but the velocity counts (see the package doc). It returns an
// error only for the caller's mistake (e.g. a foreign challenge_id).
func (s *Service) plan(ctx context.Context, in *request.Input, start time.Time, p *plan) error {
	d := &pdp.Decision{ID: newID(), RequestID: in.Req.RequestID}
	p.in, p.d = in, d
	how := countingFor(s.logSync)
	step := p.span.Child(spanState)
	acct, err := s.enrich(in, how, &p.counted)
	step.End()
	if err != nil {
		if e := (*pdp.Error)(nil); errors.As(err, &e) {
			return e // the caller's mistake, before anything was counted
		}
	}
	if err == nil && s.velocity != nil && s.fleet != nil && how == countUndoable {
		p.fleet, p.fleetMoney = true, in.Req.Stage.NeedsTxn() && p.counted.Counted
	}
	var res policy.Result
	var closed string
	if err == nil {
		if s.plugins != nil {
			step = p.span.Child(spanPlugins)
			closed = s.score(in, acct)
			tracePlugins(step, in, closed)
			step.End()
		}
		step = p.span.Child(spanEvaluate)
		res, d.PolicyRevision, err = s.eng.Evaluate(ctx, in)
		traceEvaluation(step, &res, err)
		step.End()
	}
	if err != nil {
		res = s.fallbackResult(d, in, err)
		p.cause = fallbackCause(err)
	}
	failClosed(&res, closed, d.Fallback) // never less strict than a step-up
	if res.Outcome == pdp.Allow {
		coverRelease(&res, in)
	}
	s.answer(d, &res, in.Now)
	s.holdToCap(d, in)
	s.speak(d, in)
	p.satisfied, p.closed = res.Satisfied, closed != ""
	s.planEffects(p, acct)
	d.Took = s.now().Sub(start)
	return nil
}

// recorded runs the hooks on the record, once the decision is recorded:
// the shadow's evaluation.
func (s *Service) recorded(p *plan) {
	if s.shadow != nil && !p.d.Fallback {
		s.shadow.offer(shadowItem{id: p.d.ID, in: p.in, live: p.d.Outcome, closed: p.closed})
	}
}

// ReasonStateUnavailable is the reference policy's reason when part of a
// shared risk state (Redis) could not be read within its budget
// (input.state_unknown, see enrich.go's unknown).
const ReasonStateUnavailable = "state_unavailable"

// ReasonPluginUnavailable is added when a closed-mode plugin failed.
const ReasonPluginUnavailable = "plugin_unavailable"

// fallbackResult is the answer when the decision could not be made: the
// configured fallback (never allow), counted and logged with its cause.
func (s *Service) fallbackResult(d *pdp.Decision, in *request.Input, err error) policy.Result {
	cause := fallbackCause(err)
	s.metrics.Fallback(cause)
	s.log.Warn("decision fell back", "cause", cause, "error", err,
		"decision_id", d.ID, "stage", in.Req.Stage.String(), "revision", d.PolicyRevision)
	return s.fallbackOutcome(d)
}

// fallbackOutcome is the configured fallback (policies.fallback) as a
// policy result, d marked as one.
func (s *Service) fallbackOutcome(d *pdp.Decision) policy.Result {
	res := policy.Result{Outcome: s.fallback, Reasons: []string{ReasonPDPError}}
	if s.fallback == pdp.StepUp {
		res.Methods = policy.DefaultStepUpMethods
	}
	d.Fallback = true
	return res
}

// failClosed makes a result at least a step-up when a closed-mode plugin
// (closed names it) could not answer and the decision is no fallback
// already.
func failClosed(res *policy.Result, closed string, fallback bool) {
	if closed == "" || fallback {
		return
	}
	res.Outcome = pdp.Stricter(res.Outcome, pdp.StepUp)
	res.Reasons = append(res.Reasons, ReasonPluginUnavailable)
	if res.Outcome == pdp.StepUp && len(res.Methods) == 0 {
		res.Methods = policy.DefaultStepUpMethods
	}
}

// answer fills the decision from the policy result. A limit is the cap
// of a release: only an allow carries one. A verified operation that is
// denied (or stepped up again) for another reason releases nothing, so
// its limit obligations are dropped (the payment of a verified 98 000
// order, denied, had put the conditional release's 15 000 cap over the
// order's 98 000, and every further attempt extended it).
func (s *Service) answer(d *pdp.Decision, r *policy.Result, now time.Time) {
	d.Outcome = r.Outcome
	d.Evaluator, d.Reevaluated = r.Evaluator, r.Reevaluated
	d.Reasons = r.Reasons
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	d.Obligations = r.Obligations
	d.Limit = r.Limit
	if r.Outcome != pdp.Allow {
		d.Limit = nil
		if slices.ContainsFunc(d.Obligations, isLimit) {
			// A copy: a policy's constant results are shared.
			d.Obligations = slices.DeleteFunc(slices.Clone(d.Obligations), isLimit)
		}
	}
	for _, o := range d.Obligations {
		if o.Type == pdp.ObligationLimit && d.Limit == nil {
			// A conditional release answers with the cap it sets.
			l := *o.Limit
			if l.Duration <= 0 {
				l.Duration = defaultLimitDuration
			}
			l.Until = now.Add(l.Duration)
			d.Limit = &l
		}
	}
	if r.Outcome == pdp.StepUp {
		d.StepUp = &pdp.StepUpChallenge{Methods: r.Methods}
	}
	if r.Warning != "" {
		d.Warning = &pdp.Warning{Code: r.Warning}
	}
}

// speak writes the user-facing texts of d: the message of its situation
// (verify; frozen, with the time the freeze ends, or until a review;
// denied; a limit applied; allowed) and the warning's, in the request's
// locale, from the policy's templates (pdp.Messages) or else the
// configured texts. The situation says what the user can do, never which
// rule fired.
func (s *Service) speak(d *pdp.Decision, in *request.Input) {
	vars := pdp.MessageVars{}
	situation := pdp.SituationAllowed
	fallback := s.messages.Allow
	switch d.Outcome {
	case pdp.StepUp:
		situation, fallback = pdp.SituationVerify, s.messages.StepUp
	case pdp.Deny:
		situation, fallback = pdp.SituationDenied, s.messages.Deny
		if a := in.Enrich.Account; a != nil && a.Frozen {
			situation, vars.Until = pdp.SituationFrozenReview, a.FrozenUntil
			if a.FreezeKind == pdp.FreezeTemporary.String() {
				situation = pdp.SituationFrozen
			}
		}
	default:
		if l := d.Limit; l != nil && l.DailyAmount > 0 {
			situation, vars.DailyAmount, vars.Currency = pdp.SituationLimit, l.DailyAmount, l.Currency
		}
	}
	msgs := s.eng.Messages()
	d.Message = fallback
	if text, ok := msgs.Text(in.Req.Locale, s.messages.Locale, situation, vars); ok {
		d.Message = text
	}
	if d.Warning == nil {
		return
	}
	text, ok := msgs.Text(in.Req.Locale, s.messages.Locale, d.Warning.Code, vars)
	if !ok {
		text, ok = s.messages.Warnings[d.Warning.Code]
	}
	if !ok {
		s.log.Warn("policy returned a warning code with no text", "warning", d.Warning.Code)
		d.Warning = nil
		return
	}
	d.Warning.Message = text
}

// fallbackCause names the kind of internal fault for metrics and logs.
func fallbackCause(err error) string {
	switch {
	case errors.Is(err, policy.ErrTimeout):
		return metrics.FallbackTimeout
	case errors.Is(err, policy.ErrUndefined):
		return metrics.FallbackUndefined
	case errors.Is(err, policy.ErrInvalidDecision):
		return metrics.FallbackInvalidDecision
	case errors.Is(err, policy.ErrNoPolicy):
		return metrics.FallbackNoPolicy
	case errors.Is(err, errState):
		return metrics.FallbackState
	}
	return metrics.FallbackEvalError
}

// enableRandPool buffers the randomness of decision ids, once per process:
// uuid.EnableRandPool writes a global that id generation reads, so calling
// it for every Service raced with the decisions of another one.
var enableRandPool = sync.OnceFunc(uuid.EnableRandPool)

// newID returns a time-ordered unique decision id (UUIDv7).
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Ready reports whether the service can decide (a policy is loaded).
func (s *Service) Ready() bool { return s.eng.Ready() }
