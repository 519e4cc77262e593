package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// The Data API of the decision listener (POST /v1/data/{path}) decides on
// the same input as /v1/decide: DecodeDataRequest decodes the body's
// "input" as a decide request, the decision service enriches it, and
// EvalDataInput evaluates the path against the whole policy input. What it
// may read is the decision service's to say (DecisionRule).

// ruleNames are the names of the rules the modules of package pkg define.
func ruleNames(modules map[string]*ast.Module, pkg ast.Ref) map[string]bool {
	names := map[string]bool{}
	for _, m := range modules {
		if !m.Package.Path.Equal(pkg) {
			continue
		}
		for _, r := range m.Rules {
			if ref := r.Head.Ref(); len(ref) > 0 {
				switch v := ref[0].Value.(type) {
				case ast.Var:
					names[string(v)] = true
				case ast.String:
					names[string(v)] = true
				}
			}
		}
	}
	return names
}

// DecisionRule reports whether path (slash-separated, below data) is a
// rule of the decision package of the serving set, or a part of one:
// "riskpdp/deny", "riskpdp/methods/large_amount". The package itself and
// its data documents (its thresholds) are not rules.
func (e *Engine) DecisionRule(path string) bool {
	ps := e.cur.Load()
	if ps == nil {
		return false
	}
	rest, ok := strings.CutPrefix(path, ps.pkgPath+"/")
	if !ok {
		return false
	}
	name, _, _ := strings.Cut(rest, "/")
	return ps.rules[name]
}

// EvalDataInput evaluates data.<path> (slash-separated) with in as the
// whole policy input (in.Term(): the request and what the sidecar added;
// nil: no input) on the serving set, as topdown evaluates it: the answer
// opa eval gives on the same input. It returns the result's JSON and
// whether it is defined.
func (e *Engine) EvalDataInput(ctx context.Context, path string, in *request.Input, now time.Time) (_ []byte, _ bool, err error) {
	defer recovered(&err)
	var input *ast.Term
	if in != nil {
		input = in.Term()
	}
	return e.evalData(ctx, path, input, now)
}

// evalData evaluates data.<path> with input on the serving set and returns
// the result's JSON and whether it is defined.
func (e *Engine) evalData(ctx context.Context, path string, input *ast.Term, now time.Time) ([]byte, bool, error) {
	ps := e.cur.Load()
	if ps == nil {
		return nil, false, ErrNoPolicy
	}
	query, err := ps.dataQuery(path)
	if err != nil {
		return nil, false, pdp.Errorf(pdp.CodeNotFound, "path", "%v", err)
	}
	t, err := e.evalTerm(ctx, ps, query, input, now)
	if errors.Is(err, ErrUndefined) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := ast.JSON(t.Value)
	if err != nil {
		return nil, false, fmt.Errorf("result to JSON: %w", err)
	}
	b, err := json.Marshal(v)
	return b, true, err
}
