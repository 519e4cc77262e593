package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
)

// The sidecar reads a decision package (data.riskpdp by default) through
// one generated rule, hits (package hits names the rules it gathers): the
// reference module reads them as written, the optimized one as partial
// evaluation specialized them.

const (
	// maxResidualQueries bounds what partial evaluation may generate for
	// one rule before the optimizer gives up on it, unless the rule has
	// many definitions: then residualPerDefinition per definition (one
	// threshold per currency and category is eight or so; a blow-up is
	// hundreds).
	maxResidualQueries    = 4096
	residualPerDefinition = 16
)

// optimizeTimeout bounds partial evaluation of one rule, plus
// optimizePerDefinition for each of its definitions. PE computes what
// does not depend on the input at load time, so a policy with an expensive
// constant would otherwise hold up a reload; past the budget the rule is
// served as written.
var optimizeTimeout, optimizePerDefinition = 2 * time.Second, 2 * time.Millisecond

// hitsModules generates the reference and the optimized hits modules for
// the decision package pkg. The optimized module specializes each reason
// set by partial evaluation with the data known and the input unknown:
// data lookups and arithmetic become constants and every residual rule
// starts with equalities on the input that OPA's rule index can use (one
// rule per currency, per category, ...). Rules it cannot specialize are
// read as in the reference module, and so are the rules whose specialized
// version could skip an error the rule raises as written (errorder.go).
//
// The rules are built as AST, not printed and parsed again: the printer
// writes every wildcard as "_", which would turn a join into independent
// matches.
func hitsModules(c *ast.Compiler, store storage.Store, pkg ast.Ref) (ref, opt *ast.Module, support []*ast.Module, notes []string, err error) {
	ref = newHitsModule(hits.ReferencePkg)
	opt = newHitsModule(hits.OptimizedPkg)
	found := 0
	var folded []string // rules whose constants fail to fold
	order := newErrorOrder(c)
	for _, name := range append(append([]string{}, hits.ReasonSets...), hits.CompleteRules...) {
		path := append(pkg.Copy(), ast.StringTerm(name))
		if len(c.GetRulesExact(path)) == 0 {
			continue
		}
		found++
		isSet := slices.Contains(hits.ReasonSets, name)
		read := readRule(name, path, isSet)
		addHit(ref, name, ast.VarTerm("__x"), read)
		queries, sup, why, ferr := specialize(c, store, path, isSet)
		if ferr != nil {
			folded = append(folded, fmt.Sprintf("rule %s: %v", name, ferr))
			continue
		}
		if why == "" {
			// Specialized, but it could skip an error the rule raises as
			// written (errorder.go): served as written.
			why = order.check(path)
		}
		if why != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", name, why))
			addHit(opt, name, ast.VarTerm("__x"), read)
			continue
		}
		for _, q := range queries {
			head, body := hoistBinding(q)
			addHit(opt, name, head, body)
		}
		support = append(support, sup...)
	}
	if found == 0 {
		return nil, nil, nil, nil, fmt.Errorf("package %s defines none of %s", pkg, strings.Join(append(append([]string{}, hits.ReasonSets...), hits.CompleteRules...), ", "))
	}
	if len(folded) > 0 {
		return nil, nil, nil, nil, fmt.Errorf("%w: %s", ErrConstantCall, listed(folded))
	}
	return ref, opt, support, notes, nil
}

// newHitsModule returns a module with a rule that never matches, so that
// hits is defined (as an empty set) whatever the package holds.
func newHitsModule(pkg string) *ast.Module {
	m := ast.MustParseModuleWithOpts(fmt.Sprintf("package %s\n\nhits contains \"__never\" if input.__pdp_never == \"__never\"\n", pkg),
		ast.ParserOptions{RegoVersion: ast.RegoV1})
	return m
}

var hitTemplate = ast.MustParseRuleWithOpts(`hits contains [__name, __x] if { true }`, ast.ParserOptions{RegoVersion: ast.RegoV1})

// addHit appends `hits contains [name, head] if { body }` to m.
func addHit(m *ast.Module, name string, head *ast.Term, body ast.Body) {
	r := hitTemplate.Copy()
	r.Head.Key = ast.ArrayTerm(ast.StringTerm(name), head)
	if len(body) == 0 {
		body = ast.NewBody(ast.NewExpr(ast.BooleanTerm(true)))
	}
	r.Body = body
	r.Module = m
	m.Rules = append(m.Rules, r)
}

// readRule is the body that reads a package rule as it is.
func readRule(name string, path ast.Ref, isSet bool) ast.Body {
	x := ast.VarTerm("__x")
	if isSet {
		// data.pkg.deny[__x] iterates over the set's elements.
		return ast.NewBody(ast.NewExpr(ast.NewTerm(append(path.Copy(), x))))
	}
	return ast.NewBody(ast.Equality.Expr(x, ast.NewTerm(path)))
}

// hoistBinding moves a ground `__x = value` into the rule head (where the
// compiler binds its references in the body again) and drops the
// `_ = value` partial evaluation leaves for partial-set keys when value is
// a constant: `_ = input.x` holds only when input.x is defined (a
// reference is ground, but not a constant).
func hoistBinding(q ast.Body) (*ast.Term, ast.Body) {
	head := ast.VarTerm("__x")
	var exprs []*ast.Expr
	for _, e := range q {
		if e.IsEquality() && len(e.With) == 0 && !e.Negated {
			l, r := e.Operand(0), e.Operand(1)
			if v, ok := l.Value.(ast.Var); ok && v == "__x" && r.IsGround() && head.Equal(ast.VarTerm("__x")) {
				head = r
				continue
			}
			if v, ok := l.Value.(ast.Var); ok && v.IsWildcard() && ast.IsConstant(r.Value) {
				continue
			}
		}
		exprs = append(exprs, e.Copy())
	}
	return head, ast.NewBody(exprs...)
}

// specialize partially evaluates one rule of the package. A non-empty
// reason says why it could not; an error is a built-in call that failed on
// the constants partial evaluation folded (a built-in or type error, see
// check.go), which refuses the policy set: without strict built-in errors
// partial evaluation would read the failed call as undefined and drop or,
// under a `not`, keep the rule, where the policy as written fails the
// decision.
func specialize(c *ast.Compiler, store storage.Store, path ast.Ref, isSet bool) ([]ast.Body, []*ast.Module, string, error) {
	target := ast.NewTerm(path)
	if isSet {
		target = ast.NewTerm(append(path.Copy(), ast.VarTerm("$_")))
	}
	defs := len(c.GetRulesExact(path))
	ctx, cancel := context.WithTimeout(context.Background(), optimizeTimeout+time.Duration(defs)*optimizePerDefinition)
	defer cancel()
	pq, err := rego.New(
		rego.Compiler(c),
		rego.Store(store),
		rego.ParsedQuery(ast.NewBody(ast.Equality.Expr(ast.VarTerm("__x"), target))),
		rego.Unknowns([]string{"input"}),
		rego.PartialNamespace(hits.PartialNS),
		rego.StrictBuiltinErrors(true),
		rego.StackTraces(true),
	).Partial(ctx)
	if te, ok := errors.AsType[*topdown.Error](err); ok && (te.Code == topdown.BuiltinErr || te.Code == topdown.TypeErr) {
		return nil, nil, "", builtinError(te)
	}
	if err != nil {
		return nil, nil, fmt.Sprintf("partial evaluation failed: %v", err), nil
	}
	if limit := max(maxResidualQueries, residualPerDefinition*defs); len(pq.Queries) > limit {
		return nil, nil, fmt.Sprintf("partial evaluation produced %d rules (limit %d)", len(pq.Queries), limit), nil
	}
	if !isSet && len(pq.Queries) != 1 {
		// A complete rule may only be read as a whole: several residual
		// queries could produce several values where the rule would have
		// produced a conflict error.
		return nil, nil, "depends on the input in more than one way", nil
	}
	return pq.Queries, pq.Support, "", nil
}

// builtinError renders an error of partial evaluation with the
// expressions it went through, the failed call first.
func builtinError(te *topdown.Error) error {
	var via []string
	for _, f := range te.StackTrace {
		if f.Location != nil && f.Location.File != "" {
			via = append(via, f.String())
		}
	}
	if len(via) > 0 {
		return fmt.Errorf("%v (at %s)", te, strings.Join(via, " <- "))
	}
	return te
}
