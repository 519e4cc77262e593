package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Explained is what Explain finds: the decision OPA's evaluator on the
// policy as written makes, and the rules of the decision package that made
// it.
type Explained struct {
	// Result is the decision (Evaluator "opa"), as Evaluate reads it.
	Result Result
	// Rules are the rules that fired and gave a hit of the decision, in
	// hits order (deny, step_up, obligations, then the complete rules)
	// and, within a rule, in file and line order.
	Rules []FiredRule
}

// FiredRule is one definition of a decision rule whose body held.
type FiredRule struct {
	// Rule is the rule's name: deny, step_up, obligations, outcome, ...
	Rule string
	// Value is the definition's value, JSON-compatible: for deny, step_up
	// and obligations the element it added (a reason code or an object).
	Value any
	// Location is file:line of the definition.
	Location string
	// Inputs are the input references of its body, with the values that
	// made it hold, in the order they appear.
	Inputs []RefValue
	// Refs are the data references of its body (helper rules, the
	// package's data), with their values.
	Refs []RefValue
}

// RefValue is a reference and its value (JSON-compatible); Undefined
// when the reference has none (as `not trusted` reads an undefined
// trusted).
type RefValue struct {
	Ref       string
	Value     any
	Undefined bool
}

// explainTimeout is the least time budget of an explanation: tracing
// costs several times an evaluation, and an operator asking is not on a
// payment's path.
const explainTimeout = time.Second

// Explain evaluates the decision rules on in with OPA's evaluator on the
// policy as written (the yardstick the fast path is held to), tracing it,
// and returns the decision with the rules that fired, their inputs and the
// values of the helper rules they read. It changes nothing; it is several
// times the cost of Evaluate and is not meant for the decision path. It
// returns the revision it evaluated.
func (e *Engine) Explain(ctx context.Context, in *request.Input) (_ Explained, _ string, err error) {
	defer recovered(&err)
	ps := e.cur.Load()
	if ps == nil {
		return Explained{}, "", ErrNoPolicy
	}
	input := in.Term()
	t := &ruleTracer{pkg: ps.pkgPath, names: map[string]int{}, input: input}
	for i, n := range append(slices.Clone(hits.ReasonSets), hits.CompleteRules...) {
		t.names[n] = i
	}
	res, err := e.traceQuery(ctx, ps, ps.refQuery, input, in.Now, t)
	if err != nil {
		return Explained{}, ps.revision, err
	}
	r, err := hits.Parse(res, in.Enrich.Verification.Passed)
	r.Evaluator = EvaluatorOPA
	if err != nil {
		return Explained{Result: r}, ps.revision, err
	}
	x := Explained{Result: r}
	hitSet, _ := res.Value.(ast.Set)
	refs := map[string]RefValue{}
	for _, f := range t.fired {
		// Only a definition whose value is a hit of the decision: a rule
		// body evaluated under `with` (another input) is no reason.
		if hitSet == nil || !hitSet.Contains(ast.ArrayTerm(ast.StringTerm(f.name), f.value)) {
			continue
		}
		v, err := ast.JSON(f.value.Value)
		if err != nil {
			continue
		}
		fr := FiredRule{Rule: f.name, Value: v, Location: f.location, Inputs: f.inputs}
		for _, ref := range f.data {
			k := ref.String()
			rv, ok := refs[k]
			if !ok {
				rv = e.refValue(ctx, ps, ref, input, in.Now)
				refs[k] = rv
			}
			fr.Refs = append(fr.Refs, rv)
		}
		x.Rules = append(x.Rules, fr)
	}
	slices.SortStableFunc(x.Rules, func(a, b FiredRule) int {
		if d := t.names[a.Rule] - t.names[b.Rule]; d != 0 {
			return d
		}
		return compareLocations(a.Location, b.Location)
	})
	return x, ps.revision, nil
}

// compareLocations orders "file:line" by file, then line as a number.
func compareLocations(a, b string) int {
	fa, la, _ := strings.Cut(a, ":")
	fb, lb, _ := strings.Cut(b, ":")
	if c := strings.Compare(fa, fb); c != 0 {
		return c
	}
	if c := len(la) - len(lb); c != 0 {
		return c
	}
	return strings.Compare(la, lb)
}

// traceQuery is evalTermWithin with a tracer and the explanation's time
// budget.
func (e *Engine) traceQuery(ctx context.Context, ps *policySet, query ast.Body, input *ast.Term, now time.Time, tr topdown.QueryTracer) (*ast.Term, error) {
	return e.evalTermWithin(ctx, ps, query, input, now, max(e.timeout, explainTimeout), tr)
}

// refValue evaluates a data reference on the input.
func (e *Engine) refValue(ctx context.Context, ps *policySet, ref ast.Ref, input *ast.Term, now time.Time) RefValue {
	rv := RefValue{Ref: ref.String(), Undefined: true}
	body := ast.NewBody(ast.Equality.Expr(ast.NewTerm(resultVar), ast.NewTerm(ref)))
	q, err := ps.compiler.QueryCompiler().Compile(body)
	if err != nil {
		return rv
	}
	t, err := e.traceQuery(ctx, ps, q, input, now, nil)
	if err != nil {
		return rv
	}
	if v, err := ast.JSON(t.Value); err == nil {
		rv.Value, rv.Undefined = v, false
	}
	return rv
}

// fired is a definition seen to hold, as the tracer recorded it.
type fired struct {
	name, location string
	value          *ast.Term
	inputs         []RefValue
	data           []ast.Ref
}

// ruleTracer records the decision rules whose body held (their Exit
// events), with what the body read, while the bindings of the body are
// live.
type ruleTracer struct {
	pkg   string         // "riskpdp"
	names map[string]int // the decision rules, in hits order
	input *ast.Term
	fired []fired
	seen  map[string]bool
}

func (t *ruleTracer) Enabled() bool                { return true }
func (t *ruleTracer) Config() topdown.TraceConfig  { return topdown.TraceConfig{} }
func (t *ruleTracer) TraceEvent(evt topdown.Event) { t.event(&evt) }

func (t *ruleTracer) event(evt *topdown.Event) {
	if evt.Op != topdown.ExitOp {
		return
	}
	rule, ok := evt.Node.(*ast.Rule)
	if !ok || rule.Module == nil || len(rule.Head.Args) > 0 {
		return
	}
	name := ruleName(rule)
	if _, ok := t.names[name]; !ok || !pathIs(rule.Module.Package.Path, t.pkg) {
		return
	}
	head := rule.Head.Key
	if head == nil {
		head = rule.Head.Value
	}
	if head == nil {
		return
	}
	value := evt.Plug(head)
	if !value.IsGround() {
		return
	}
	loc := ""
	if rule.Location != nil {
		loc = fmt.Sprintf("%s:%d", rule.Location.File, rule.Location.Row)
	}
	key := name + "\x00" + loc + "\x00" + value.String()
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	if t.seen[key] {
		return
	}
	t.seen[key] = true
	f := fired{name: name, location: loc, value: value}
	seenRef := map[string]bool{}
	for _, ref := range bodyRefs(rule.Body) {
		r := t.ground(evt, ref)
		if len(r) == 0 {
			continue
		}
		k := r.String()
		if seenRef[k] {
			continue
		}
		seenRef[k] = true
		switch r[0].Value.Compare(ast.InputRootDocument.Value) {
		case 0:
			rv := RefValue{Ref: k, Undefined: true}
			if v := lookup(t.input, r); v != nil {
				if j, err := ast.JSON(v.Value); err == nil {
					rv.Value, rv.Undefined = j, false
				}
			}
			f.inputs = append(f.inputs, rv)
		default:
			if len(r) > 1 { // not data itself
				f.data = append(f.data, r)
			}
		}
	}
	t.fired = append(t.fired, f)
}

// ruleName is the first segment of a rule's head reference.
func ruleName(r *ast.Rule) string {
	ref := r.Head.Ref()
	if len(ref) == 0 {
		return ""
	}
	switch v := ref[0].Value.(type) {
	case ast.Var:
		return string(v)
	case ast.String:
		return string(v)
	}
	return ""
}

// pathIs reports whether the package path (data.a.b) is pkg ("a/b").
func pathIs(p ast.Ref, pkg string) bool {
	segs := strings.Split(pkg, "/")
	if len(p) != len(segs)+1 {
		return false
	}
	for i, s := range segs {
		if v, ok := p[i+1].Value.(ast.String); !ok || string(v) != s {
			return false
		}
	}
	return true
}

// bodyRefs lists the input and data references of a body (comprehensions
// included), not the names of the functions it calls.
func bodyRefs(body ast.Body) []ast.Ref {
	ops := map[*ast.Term]bool{}
	ast.WalkExprs(body, func(x *ast.Expr) bool {
		if terms, ok := x.Terms.([]*ast.Term); ok && x.IsCall() {
			ops[terms[0]] = true
		}
		return false
	})
	var out []ast.Ref
	ast.WalkTerms(body, func(t *ast.Term) bool {
		if ops[t] {
			return true
		}
		if r, ok := t.Value.(ast.Ref); ok && len(r) > 0 {
			if h := r[0].Value; h.Compare(ast.InputRootDocument.Value) == 0 || h.Compare(ast.DefaultRootDocument.Value) == 0 {
				out = append(out, r)
			}
		}
		return false
	})
	return out
}

// ground plugs the body's bindings into ref and any input reference
// inside it (data.x.categories[input.txn.category]) with its value, and
// returns its ground prefix.
func (t *ruleTracer) ground(evt *topdown.Event, ref ast.Ref) ast.Ref {
	r, ok := evt.Plug(ast.NewTerm(ref)).Value.(ast.Ref)
	if !ok {
		return nil
	}
	r = r.Copy()
	for i := 1; i < len(r); i++ {
		if inner, ok := r[i].Value.(ast.Ref); ok && len(inner) > 0 && inner[0].Value.Compare(ast.InputRootDocument.Value) == 0 {
			if v := lookup(t.input, inner.GroundPrefix()); v != nil && len(inner.GroundPrefix()) == len(inner) {
				r[i] = v
			}
		}
	}
	return r.GroundPrefix()
}

// lookup resolves an input reference in the input document.
func lookup(input *ast.Term, r ast.Ref) *ast.Term {
	if len(r) == 1 {
		return input
	}
	v, err := input.Value.Find(r[1:])
	if err != nil {
		return nil
	}
	return ast.NewTerm(v)
}
