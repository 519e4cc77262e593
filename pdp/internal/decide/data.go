package decide

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Data answers OPA's Data API (POST /v1/data/{path}) so that a service
// moving from an OPA sidecar by changing the port keeps every defence: the
// rules of the decision package are evaluated on the same input as
// /v1/decide — the body's "input" decoded as a decide request (reserved
// fields and secrets refused), enriched with the risk state, velocity (as
// if this request were counted, without counting it) and plugin scores —
// and the query is recorded in the decision log. It is read-only: no
// velocity count, no obligation, no challenge, no state change. The
// package's data (its thresholds), its rules that do not read the input
// (data under another name: th, rates, methods) and anything outside the
// package are served only under a path configured in data_api.expose; a
// rule needs an input. A closed-mode plugin that fails makes the query fail (503), as it
// makes a decision at least a step-up: the raw rule values would not show
// it.
func (s *Service) Data(ctx context.Context, path string, body []byte) ([]byte, bool, error) {
	path = config.DataPath(path)
	rule := s.eng.DecisionRule(path)
	if !rule && !s.exposed(path) {
		return nil, false, pdp.Errorf(pdp.CodeForbidden, "path",
			"data.%s is not served: the Data API serves the decision package's rules that read the input (data_api.expose adds paths)", strings.ReplaceAll(path, "/", "."))
	}
	now := s.now()
	in, err := request.DecodeDataRequest(body, now, s.limits)
	if err != nil {
		return nil, false, err
	}
	if in == nil {
		if rule {
			return nil, false, pdp.Errorf(pdp.CodeMissingField, "input", "a decide request is required: the decision rules evaluate it as /v1/decide does")
		}
		return s.eng.EvalDataInput(ctx, path, nil, now)
	}
	if err := s.peekInput(in); err != nil {
		return nil, false, err
	}
	res, defined, err := s.eng.EvalDataInput(ctx, path, in, now)
	if err != nil {
		return nil, false, err
	}
	if s.dlog != nil {
		if err := s.logData(in, path, res, defined); err != nil {
			return nil, false, err
		}
	}
	return res, defined, nil
}

// PolicyInput is the policy input the sidecar builds for a decide request
// (body as POST /v1/decide takes it), read-only as the Data API reads it:
// enriched with the risk state, velocity (as if this request were
// counted, without counting it) and plugin scores, changing nothing.
// `pdp eval` prints it, for `opa eval` and `opa test` fixtures.
func (s *Service) PolicyInput(body []byte) (*request.Input, error) {
	in, err := request.DecodeRequest(body, s.now(), s.limits)
	if err != nil {
		return nil, err
	}
	return in, s.peekInput(in)
}

// peekInput enriches in as a decision would, counting nothing. A closed-
// mode plugin that does not answer is an error (503): the input would not
// show it.
func (s *Service) peekInput(in *request.Input) error {
	in.SetRates(s.eng.Rates())
	acct, err := s.enrich(in, peek, nil)
	if err != nil {
		if e := (*pdp.Error)(nil); errors.As(err, &e) {
			return e
		}
		return err
	}
	if closed := s.score(in, acct); closed != "" {
		return pdp.Errorf(pdp.CodeUnavailable, "", "scoring plugin %s did not answer", closed)
	}
	return nil
}

// exposed reports whether path is under a path of data_api.expose.
func (s *Service) exposed(path string) bool {
	for _, p := range s.dataExpose {
		if p == "" || path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// logData records a Data API query: its path, the input as sent, what the
// sidecar added, and the result (result.data; no outcome: it is not a
// decision, and pdp replay counts it apart). In sync mode a query that
// cannot be recorded fails (503).
func (s *Service) logData(in *request.Input, path string, res []byte, defined bool) error {
	r := &decisionlog.Record{
		DecisionID: newID(), Timestamp: in.Now, Path: path,
		Input:  bytes.Clone(in.Body),
		Labels: s.labels, RequestID: in.Req.RequestID, Stage: in.Req.Stage.String(), UID: in.Req.UID,
	}
	if in.Req.HasTxn {
		r.TxnID, r.Amount, r.Currency = in.Req.Txn.ID, in.Req.Txn.Amount, in.Req.Txn.Currency
	}
	data := bytes.Clone(res)
	revision := s.eng.Revision()
	r.Finish = func(r *decisionlog.Record) {
		r.Result = decisionlog.Result{Reasons: []string{}, Revision: revision, Data: data, Undefined: !defined}
		s.finishRecord(r, in, revision)
	}
	if err := s.dlog.Log(r); err != nil && s.logSync {
		s.log.Error("data query not recorded durably: refusing to answer", "path", path, "error", err)
		return pdp.Errorf(pdp.CodeUnavailable, "", "the query could not be recorded; retry later")
	}
	return nil
}
