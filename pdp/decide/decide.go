// Package decide is the decision path: it decodes a request, enriches it,
// evaluates the policy, turns any internal fault into the fallback outcome
// (never allow), builds the answer and records it. The HTTP edge
// (pdp/server) only moves bytes; everything a decision means happens here.
package decide

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/config"
	"github.com/riskpdp/riskpdp/pdp/engine"
	"github.com/riskpdp/riskpdp/pdp/metrics"
)

// ReasonPDPError is the reason code of a fallback decision.
const ReasonPDPError = "pdp_error"

// Service makes decisions. It is safe for concurrent use.
type Service struct {
	eng      *engine.Engine
	metrics  *metrics.Metrics
	limits   engine.Limits
	fallback pdp.Outcome
	messages config.Messages
	log      *slog.Logger
	now      func() time.Time
}

// Options configure a Service.
type Options struct {
	Engine   *engine.Engine
	Metrics  *metrics.Metrics
	Limits   engine.Limits
	Fallback pdp.Outcome
	Messages config.Messages
	Logger   *slog.Logger
	// Now returns the decision time; defaults to time.Now.
	Now func() time.Time
}

// New returns a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if !o.Fallback.Valid() || o.Fallback == pdp.Allow {
		o.Fallback = pdp.StepUp
	}
	uuid.EnableRandPool()
	return &Service{eng: o.Engine, metrics: o.Metrics, limits: o.Limits, fallback: o.Fallback,
		messages: o.Messages, log: o.Logger, now: o.Now}
}

// Decide answers one decide request. It returns a *pdp.Error for input the
// caller must fix; an internal fault never returns an error but the
// fallback decision.
func (s *Service) Decide(ctx context.Context, body []byte, traceparent string) (*pdp.Decision, error) {
	start := s.now()
	in, err := engine.DecodeRequest(body, start, s.limits)
	if err != nil {
		return nil, err
	}
	in.Req.Traceparent = traceparent
	d := &pdp.Decision{ID: newID(), RequestID: in.Req.RequestID}

	res, rev, err := s.eng.Evaluate(ctx, in)
	d.PolicyRevision = rev
	if err != nil {
		cause := fallbackCause(err)
		s.metrics.Fallback(cause)
		s.log.Warn("decision fell back", "cause", cause, "error", err,
			"decision_id", d.ID, "stage", in.Req.Stage.String(), "revision", rev)
		res = engine.Result{Outcome: s.fallback, Reasons: []string{ReasonPDPError}}
		if s.fallback == pdp.StepUp {
			res.Methods = engine.DefaultStepUpMethods
		}
		d.Fallback = true
	}
	s.answer(d, &res)
	d.Took = s.now().Sub(start)
	s.metrics.Decision(in.Req.Stage, d.Outcome, d.Took)
	return d, nil
}

// answer fills the decision from the policy result.
func (s *Service) answer(d *pdp.Decision, r *engine.Result) {
	d.Outcome = r.Outcome
	d.Reasons = r.Reasons
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	d.Obligations = r.Obligations
	d.Limit = r.Limit
	switch r.Outcome {
	case pdp.StepUp:
		d.StepUp = &pdp.StepUpChallenge{Methods: r.Methods}
		d.Message = s.messages.StepUp
	case pdp.Deny:
		d.Message = s.messages.Deny
	default:
		d.Message = s.messages.Allow
	}
	if r.Warning != "" {
		if text, ok := s.messages.Warnings[r.Warning]; ok {
			d.Warning = &pdp.Warning{Code: r.Warning, Message: text}
		} else {
			s.log.Warn("policy returned a warning code with no configured text", "warning", r.Warning)
		}
	}
}

// fallbackCause names the kind of internal fault for metrics and logs.
func fallbackCause(err error) string {
	switch {
	case errors.Is(err, engine.ErrTimeout):
		return "timeout"
	case errors.Is(err, engine.ErrUndefined):
		return "undefined"
	case errors.Is(err, engine.ErrInvalidDecision):
		return "invalid_decision"
	case errors.Is(err, engine.ErrNoPolicy):
		return "no_policy"
	}
	return "eval_error"
}

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

// Data evaluates an OPA Data API request.
func (s *Service) Data(ctx context.Context, path string, body []byte) ([]byte, bool, error) {
	return s.eng.EvalData(ctx, path, body, s.now())
}
