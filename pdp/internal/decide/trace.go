package decide

import (
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
)

// Tracing a decision (pdp/internal/tracing): the edge's server span gets
// a child per step, and the decision's attributes once it is planned.
// What they hold is the tracing package's rule: the decision's shape and
// its id, never who or how much (no uid, device, IP, card BIN, amount,
// transaction or request id): the decision id joins a trace to the
// decision log, which keeps the rest under its own rules.

// The child spans of a decision, in the order they run.
const (
	spanDecode   = "decode"
	spanState    = "state" // enrichment: risk state, verification, velocity
	spanPlugins  = "plugins"
	spanEvaluate = "evaluate"
	spanLog      = "log"
	spanApply    = "apply"
)

// The attributes of a decision's spans.
const (
	AttrDecisionID   = "riskpdp.decision_id"
	AttrStage        = "riskpdp.stage"
	AttrOutcome      = "riskpdp.outcome"
	AttrReasons      = "riskpdp.reasons" // how many
	AttrFallback     = "riskpdp.fallback"
	AttrCause        = "riskpdp.fallback_cause"
	AttrRevision     = "riskpdp.policy_revision"
	AttrEvaluator    = "riskpdp.evaluator" // fast, opa_optimized or opa
	AttrReevaluated  = "riskpdp.reevaluated"
	AttrStateUnknown = "riskpdp.state_unknown" // how many parts of the state could not be read
	AttrPlugins      = "riskpdp.plugins"       // scores received
	AttrPluginsFail  = "riskpdp.plugins_failed"
	AttrClosedPlugin = "riskpdp.plugin_closed" // the closed-mode plugin that failed
)

// traceDecision sets the planned decision's attributes on its span.
func traceDecision(span tracing.Span, p *plan) {
	if !span.Recording() {
		return
	}
	d, in := p.d, p.in
	span.String(AttrDecisionID, d.ID)
	span.String(AttrStage, in.Req.Stage.String())
	span.String(AttrOutcome, d.Outcome.String())
	span.Int(AttrReasons, len(d.Reasons))
	span.Bool(AttrFallback, d.Fallback)
	if p.cause != "" {
		span.String(AttrCause, p.cause)
	}
	if d.PolicyRevision != "" {
		span.String(AttrRevision, d.PolicyRevision)
	}
	if d.Evaluator != "" {
		span.String(AttrEvaluator, d.Evaluator)
	}
	if n := len(in.Enrich.Unknown); n > 0 {
		span.Int(AttrStateUnknown, n)
	}
}

// traceEvaluation sets the policy evaluation's attributes on its span.
func traceEvaluation(span tracing.Span, res *policy.Result, err error) {
	if !span.Recording() {
		return
	}
	if err != nil {
		span.Fail(fallbackCause(err))
		return
	}
	span.String(AttrEvaluator, res.Evaluator)
	span.Bool(AttrReevaluated, res.Reevaluated != "")
	span.String(AttrOutcome, res.Outcome.String())
}

// tracePlugins sets the scoring's attributes on its span: the scores
// received, the plugins that failed, the closed-mode one among them.
func tracePlugins(span tracing.Span, in *request.Input, closed string) {
	if !span.Recording() {
		return
	}
	span.Int(AttrPlugins, len(in.Enrich.Scores))
	span.Int(AttrPluginsFail, len(in.Enrich.Unavailable))
	if closed != "" {
		span.String(AttrClosedPlugin, closed)
		span.Fail("plugin_unavailable")
	}
}
