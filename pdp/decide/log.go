package decide

import (
	"bytes"
	"strings"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/engine"
)

// Recording decisions. The decision path builds a small record (the
// caller's body copied, the flat fields the log is searched by) and hands
// it to the decision log; everything else, the policy's additions to the
// input as JSON and the result with its obligations, is rendered by
// Record.Finish in the log's writer goroutine, off the caller's path. The
// decision and its input are not changed after Decide returns, so the
// writer may read them.

// logDecision records d. It returns an error only in sync mode, when the
// record is not durable: the caller then gets 503 instead of a decision
// that would take effect unrecorded.
func (s *Service) logDecision(in *engine.Input, d *pdp.Decision, satisfied []string, cause, traceparent string, closed bool) error {
	r := &decisionlog.Record{
		DecisionID: d.ID, Timestamp: in.Now, Path: s.path,
		Input:     bytes.Clone(in.Body), // in.Body is the server's buffer, reused after the answer
		Labels:    s.labels,
		RequestID: d.RequestID, Stage: in.Req.Stage.String(), UID: in.Req.UID,
		Outcome: d.Outcome.String(), Fallback: d.Fallback,
	}
	if in.Req.HasTxn {
		r.TxnID, r.Amount, r.Currency = in.Req.Txn.ID, in.Req.Txn.Amount, in.Req.Txn.Currency
	}
	r.Finish = func(r *decisionlog.Record) {
		r.Result = liveResult(d, satisfied, cause)
		if e, err := in.AppendEnrichment(nil); err == nil {
			r.Enrichment = e
		}
		if d.PolicyRevision != "" {
			r.Bundles = map[string]decisionlog.Bundle{s.bundle: {Revision: d.PolicyRevision}}
		}
		r.Metrics = map[string]int64{"timer_pdp_decide_ns": d.Took.Nanoseconds()}
		r.TraceID, r.SpanID = parseTraceparent(traceparent)
	}
	if !s.logSync && s.offerShadow(in, d, closed, r) {
		return nil // the shadow worker logs it once it has compared
	}
	if err := s.dlog.Log(r); err != nil && s.logSync {
		s.log.Error("decision not recorded durably: refusing to answer", "decision_id", d.ID, "error", err)
		return pdp.Errorf(pdp.CodeUnavailable, "", "the decision could not be recorded; it did not take effect as allowed, retry later")
	}
	if s.logSync {
		s.offerShadow(in, d, closed, nil) // differences go to the service log
	}
	return nil
}

// offerShadow queues the decision for the shadow, if there is one; rec,
// when not nil, is then the shadow's to log.
func (s *Service) offerShadow(in *engine.Input, d *pdp.Decision, closed bool, rec *decisionlog.Record) bool {
	return s.shadow != nil && !d.Fallback && s.shadow.offer(shadowItem{rec: rec, in: in, live: d.Outcome, closed: closed})
}

// liveResult is the logged form of the decision's answer.
func liveResult(d *pdp.Decision, satisfied []string, cause string) decisionlog.Result {
	r := decisionlog.Result{Outcome: d.Outcome.String(), Reasons: d.Reasons, Satisfied: satisfied,
		Revision: d.PolicyRevision, PolicyErrors: cause, Limit: limitOf(d.Limit), Obligations: obligationsOf(d.Obligations),
		Evaluator: d.Evaluator, Reevaluated: d.Reevaluated}
	if d.StepUp != nil {
		r.Methods, r.ChallengeID = d.StepUp.Methods, d.StepUp.ChallengeID
	}
	if d.Warning != nil {
		r.Warning = d.Warning.Code
	}
	return r
}

// policyResult is the logged form of a policy result (the shadow's).
func policyResult(res *engine.Result, revision string) decisionlog.Result {
	r := decisionlog.Result{Outcome: res.Outcome.String(), Reasons: res.Reasons, Satisfied: res.Satisfied,
		Methods: res.Methods, Warning: res.Warning, Revision: revision,
		Limit: limitOf(res.Limit), Obligations: obligationsOf(res.Obligations)}
	if r.Reasons == nil {
		r.Reasons = []string{}
	}
	return r
}

func limitOf(l *pdp.Limit) *decisionlog.Limit {
	if l == nil {
		return nil
	}
	return &decisionlog.Limit{MaxAmount: l.MaxAmount, DailyAmount: l.DailyAmount, Currency: l.Currency, Until: l.Until}
}

func obligationsOf(obs []pdp.Obligation) []decisionlog.Obligation {
	if len(obs) == 0 {
		return nil
	}
	out := make([]decisionlog.Obligation, len(obs))
	for i, o := range obs {
		out[i] = decisionlog.Obligation{Type: string(o.Type), Kind: o.Kind, Reason: o.Reason}
		if o.Duration > 0 {
			out[i].Duration = o.Duration.String()
		}
		for _, f := range o.Functions {
			out[i].Functions = append(out[i].Functions, f.String())
		}
	}
	return out
}

// parseTraceparent returns the trace and parent span ids of a W3C
// traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"), or "" for a header
// of another shape or an all-zero id.
func parseTraceparent(h string) (traceID, spanID string) {
	parts := strings.Split(strings.TrimSpace(h), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		return "", ""
	}
	if !lowerHex(parts[0]) || !lowerHex(parts[1]) || !lowerHex(parts[2]) ||
		strings.Trim(parts[1], "0") == "" || strings.Trim(parts[2], "0") == "" {
		return "", ""
	}
	return parts[1], parts[2]
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
