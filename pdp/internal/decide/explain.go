package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// Explanation tells why the sidecar would decide a request as it does:
// the policy input it builds, the rules that fire with the input values
// that make them fire, each plugin's score with the features it was sent,
// and the decision.
type Explanation struct {
	// Input is the policy input as the sidecar builds it (JSON), as
	// `pdp eval` prints it.
	Input json.RawMessage
	// Decision is what /v1/decide would answer, without an id or a
	// challenge: nothing was decided.
	Decision *pdp.Decision
	// Error is why the policy could not decide ("" when it did): the
	// decision is then the fallback.
	Error string
	// Rules are the rules that fired (policy.Engine.Explain).
	Rules []policy.FiredRule
	// Plugins are the scoring plugins' answers, in name order.
	Plugins []PluginScore
}

// PluginScore is one plugin's answer and the features it read.
type PluginScore struct {
	Plugin  string
	Score   float64
	Reasons []string
	// Unavailable: the plugin did not answer (no score); FailClosed: it
	// is a closed-mode plugin, so the decision is at least a step-up.
	Unavailable, FailClosed bool
	// Features are those its manifest reads, with the values sent, in
	// the manifest's order (the ABI has no way for a plugin to rank
	// them): booleans as true/false, codes by name.
	Features []Feature
}

// Feature is a feature's name and the value a plugin was sent.
type Feature struct {
	Name  string
	Value any
}

// Explain explains the decision of a decide request (body as POST
// /v1/decide takes it) without making it: the input is built and the
// policy evaluated exactly as a decision would (velocity as if this
// request were counted, without counting it), by OPA's evaluator on the
// policy as written under a tracer (the answer the fast path is held to);
// no velocity count, obligation, challenge, state change or decision
// metric. With explainLog (config explain.log) the explanation is written
// to the decision log as a query (not as a decision).
func (s *Service) Explain(ctx context.Context, body []byte) (*Explanation, error) {
	in, err := request.DecodeRequest(body, s.now(), s.limits)
	if err != nil {
		return nil, err
	}
	in.SetRates(s.eng.Rates())
	acct, err := s.enrich(in, peek, nil)
	if err != nil {
		if e := (*pdp.Error)(nil); errors.As(err, &e) {
			return nil, e
		}
	}
	x := &Explanation{}
	d := &pdp.Decision{RequestID: in.Req.RequestID}
	var res policy.Result
	closed := ""
	if err == nil {
		closed = s.score(in, acct)
		x.Plugins = s.explainPlugins(in, acct)
		var ex policy.Explained
		ex, d.PolicyRevision, err = s.eng.Explain(ctx, in)
		res, x.Rules = ex.Result, ex.Rules
	}
	if err != nil {
		x.Error = err.Error()
		res = s.fallbackOutcome(d)
	}
	failClosed(&res, closed, d.Fallback)
	if res.Outcome == pdp.Allow {
		coverRelease(&res, in)
	}
	s.answer(d, &res, in.Now)
	heldToCap(d, in)
	s.speak(d, in)
	x.Decision = d
	v, err := ast.JSON(in.Term().Value)
	if err != nil {
		return nil, err
	}
	if x.Input, err = json.Marshal(v); err != nil {
		return nil, err
	}
	if s.explainLog && s.dlog != nil {
		if err := s.logExplain(in, x); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// explainPlugins lists the plugins' answers in input.scores and
// input.scores_unavailable with the features their manifests read, as
// score sent them.
func (s *Service) explainPlugins(in *request.Input, acct *pdp.AccountState) []PluginScore {
	if s.plugins == nil {
		return nil
	}
	set := s.plugins.Acquire()
	if set == nil {
		return nil
	}
	defer set.Release()
	f := plugin.NewFeatures()
	var h *pdp.Habit
	if acct != nil {
		h = &acct.Habit
	}
	fillFeatures(&f, in, h)
	var out []PluginScore
	for _, info := range set.Plugins() {
		p := PluginScore{Plugin: info.Name, Unavailable: true, FailClosed: info.FailureMode == plugin.FailClosed}
		for _, sc := range in.Enrich.Scores {
			if sc.Plugin == info.Name {
				p.Score, p.Reasons, p.Unavailable = sc.Score, sc.Reasons, false
			}
		}
		if !p.Unavailable {
			p.FailClosed = false
		}
		for _, name := range info.Features {
			if ft, ok := abi.LookupFeature(name); ok {
				p.Features = append(p.Features, Feature{Name: name, Value: featureValue(ft, f[ft])})
			}
		}
		out = append(out, p)
	}
	return out
}

// featureValue is a feature's value as people read it.
func featureValue(f abi.Feature, v float64) any {
	switch abi.KindOf(f) {
	case abi.KindBool:
		return v == 1
	case abi.KindCode:
		if name := abi.CodeName(f, int(v)); name != "" {
			return name
		}
	}
	return v
}

// logExplain records an explanation in the decision log as a query on
// <package>/explain: the input as sent, what the sidecar added, and in
// result.data the decision and the rules that fired (no outcome: it is
// not a decision, and pdp replay counts it apart).
func (s *Service) logExplain(in *request.Input, x *Explanation) error {
	type rule struct {
		Rule     string `json:"rule"`
		Value    any    `json:"value"`
		Location string `json:"location"`
	}
	summary := struct {
		Outcome string   `json:"outcome"`
		Reasons []string `json:"reasons"`
		Rules   []rule   `json:"rules"`
	}{Outcome: x.Decision.Outcome.String(), Reasons: x.Decision.Reasons, Rules: []rule{}}
	for _, r := range x.Rules {
		summary.Rules = append(summary.Rules, rule{r.Rule, r.Value, r.Location})
	}
	data, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	r := &decisionlog.Record{
		DecisionID: newID(), Timestamp: in.Now, Path: s.path + "/explain",
		Input:  bytes.Clone(in.Body),
		Labels: s.labels, RequestID: in.Req.RequestID, Stage: in.Req.Stage.String(), UID: in.Req.UID,
	}
	if in.Req.HasTxn {
		r.TxnID, r.Amount, r.Currency = in.Req.Txn.ID, in.Req.Txn.Amount, in.Req.Txn.Currency
	}
	revision := x.Decision.PolicyRevision
	r.Finish = func(r *decisionlog.Record) {
		r.Result = decisionlog.Result{Reasons: []string{}, Revision: revision, Data: data}
		s.finishRecord(r, in, revision)
	}
	if err := s.dlog.Log(r); err != nil && s.logSync {
		s.log.Error("explanation not recorded durably: refusing to answer", "error", err)
		return pdp.Errorf(pdp.CodeUnavailable, "", "the explanation could not be recorded; retry later")
	}
	return nil
}
