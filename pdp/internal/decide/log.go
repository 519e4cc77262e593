package decide

import (
	"bytes"
	"encoding/hex"
	"strings"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Recording decisions, the middle step of plan → record → apply. The
// decision path builds a small record (the caller's body copied, the flat
// fields the log is searched by) and hands it to the decision log;
// everything else, the policy's additions to the input as JSON and the
// result with its obligations, is rendered by Record.Finish in the log's
// writer goroutine, off the caller's path (in sync mode, in the caller's,
// before the write). The decision and its input are not changed once
// recorded, so the writer may read them while the decision is applied.

// record records the planned decision. It returns an error only in sync
// mode, when the record is not durable: the caller then gets 503 instead
// of a decision that would take effect unrecorded, and the decision is not
// applied.
func (s *Service) record(p *plan, traceparent string) error {
	if s.dlog == nil {
		return nil
	}
	in, d, satisfied, cause := p.in, p.d, p.satisfied, p.cause
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
	// Traced, the record names the decision's own span (its trace is the
	// caller's when one was sent); otherwise the caller's span.
	traceID, spanID, traced := p.span.IDs()
	r.Finish = func(r *decisionlog.Record) {
		r.Result = liveResult(d, satisfied, cause)
		s.finishRecord(r, in, d.PolicyRevision)
		r.Metrics = map[string]int64{"timer_pdp_decide_ns": d.Took.Nanoseconds()}
		if traced {
			r.TraceID, r.SpanID = hex.EncodeToString(traceID[:]), hex.EncodeToString(spanID[:])
		} else {
			r.TraceID, r.SpanID = parseTraceparent(traceparent)
		}
	}
	if err := s.dlog.Log(r); err != nil && s.logSync {
		s.log.Error("decision not recorded durably: refusing to answer", "decision_id", d.ID, "error", err)
		return pdp.Errorf(pdp.CodeUnavailable, "", "the decision could not be recorded; it did not take effect, retry later")
	}
	return nil
}

// finishRecord is what every record's Finish adds besides its result:
// in's enrichment, rendered into the writer's scratch as compact JSON
// (which the writer copies as it is), and the policy revision as OPA
// reports bundles.
func (s *Service) finishRecord(r *decisionlog.Record, in *request.Input, revision string) {
	if e, err := in.AppendEnrichment(r.Scratch); err == nil {
		r.Enrichment, r.EnrichmentCompact = e, true
	}
	if revision != "" {
		r.Bundles = map[string]decisionlog.Bundle{s.bundle: {Revision: revision}}
	}
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
