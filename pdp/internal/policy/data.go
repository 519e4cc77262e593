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

// inputRules are the names of the rules of package pkg (compiled by c)
// whose value depends on the input: a rule that reads input, or a rule
// that does, in its head or body, at any depth. The others (the
// reference policy's th, rates, methods, messages, data_errors) are the
// package's data under another name: the Data API serves them only where
// data_api.expose names them, as it serves the data itself.
func inputRules(c *ast.Compiler, pkg ast.Ref) map[string]bool {
	memo := map[*ast.Rule]bool{}
	var reads func(r *ast.Rule) bool
	reads = func(r *ast.Rule) bool {
		if v, ok := memo[r]; ok {
			return v
		}
		memo[r] = false // a cycle is a compile error; this ends a walk that meets one
		found := false
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			found = found || ref.HasPrefix(ast.InputRootRef)
			return found
		})
		for dep := range c.Graph.Dependencies(r) {
			if found {
				break
			}
			if d, ok := dep.(*ast.Rule); ok {
				found = reads(d)
			}
		}
		memo[r] = found
		return found
	}
	names := map[string]bool{}
	for _, m := range c.Modules {
		if !m.Package.Path.Equal(pkg) {
			continue
		}
		for _, r := range m.Rules {
			ref := r.Head.Ref()
			if len(ref) == 0 || !reads(r) {
				continue
			}
			switch v := ref[0].Value.(type) {
			case ast.Var:
				names[string(v)] = true
			case ast.String:
				names[string(v)] = true
			}
		}
	}
	return names
}

// DecisionRule reports whether path (slash-separated, below data) is a
// rule of the decision package of the serving set whose value depends on
// the input, or a part of one: "riskpdp/deny", "riskpdp/step_up/0". The
// package itself, its data documents (its thresholds) and the rules that
// only name data ("riskpdp/th", "riskpdp/methods") are not (inputRules).
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
