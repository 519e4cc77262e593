package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Load-time checks of a policy set, besides compiling it: its data, and the
// built-in calls that can be evaluated before any request arrives. A set
// that fails one is refused like one that does not compile (the serving set
// stays, the failure is logged and counted).
//
// The policy data check: the decision package may define data_errors, a
// set of strings saying what is wrong with the policy's data (the reference
// policy checks data.riskpdp.config against a JSON Schema stored next to
// it). It is evaluated once, without input, with strict built-in errors; a
// message, an evaluation error or a value that is not a set of strings
// refuses the set. The rule is the policy's own, so it travels with the
// policy in a directory, a ConfigMap or a bundle.
//
// The constant check: a built-in call that fails on constant arguments
// fails whenever evaluation reaches it. Topdown (strict built-in errors)
// then fails the decision, but the optimizer's partial evaluation would
// fold the failed call away and drop the rule: the optimized rules would
// answer where the policy as written cannot. Such a policy set is refused
// at load, naming the rule and where the call is (checkConstantCalls for
// every call with constant arguments, specialize for the ones partial
// evaluation meets once it has inlined helpers and data).

// DataErrorsRule is the rule of the decision package the sidecar evaluates
// at load to check the policy's data.
const DataErrorsRule = "data_errors"

var (
	// ErrPolicyData is wrapped by a load error from the data check.
	ErrPolicyData = errors.New("policy data refused")
	// ErrConstantCall is wrapped by a load error from a built-in call
	// that fails on constant arguments.
	ErrConstantCall = errors.New("built-in call fails on constant arguments")
)

// checkTimeout bounds each load-time evaluation of the data check and the
// whole constant check.
var checkTimeout = 5 * time.Second

// maxReported bounds the messages a load error lists.
const maxReported = 20

// checkPolicyData evaluates data.<pkg>.data_errors, if the package defines
// it, and reports whether it did.
func checkPolicyData(c *ast.Compiler, store storage.Store, pkg ast.Ref) (bool, error) {
	ref := append(pkg.Copy(), ast.StringTerm(DataErrorsRule))
	if len(c.GetRulesExact(ref)) == 0 {
		return false, nil
	}
	query, err := c.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(ast.NewTerm(resultVar), ast.NewTerm(ref))))
	if err != nil {
		return true, fmt.Errorf("%w: %v: %v", ErrPolicyData, ref, err)
	}
	t, err := evalOnce(c, store, query, checkTimeout)
	switch {
	case errors.Is(err, ErrUndefined):
		return true, fmt.Errorf("%w: %v is undefined (evaluated without input, it must be a set of strings)", ErrPolicyData, ref)
	case err != nil:
		return true, fmt.Errorf("%w: %v: %v", ErrPolicyData, ref, err)
	}
	var msgs []string
	bad := false
	collect := func(x *ast.Term) {
		if s, ok := x.Value.(ast.String); ok {
			msgs = append(msgs, string(s))
		} else {
			bad = true
		}
	}
	switch v := t.Value.(type) {
	case ast.Set:
		v.Foreach(collect)
	case *ast.Array:
		v.Foreach(collect)
	default:
		bad = true
	}
	if bad {
		return true, fmt.Errorf("%w: %v must be a set of strings, got %v", ErrPolicyData, ref, truncate(t.String(), 200))
	}
	if len(msgs) > 0 {
		sort.Strings(msgs)
		return true, fmt.Errorf("%w: %v: %s", ErrPolicyData, ref, listed(msgs))
	}
	return true, nil
}

// checkConstantCalls evaluates every call of the policy set's modules (in
// any rule, else branch, function or comprehension) whose arguments are
// constants: literals, base documents of data, and local variables bound
// to those or to the results of such calls (the compiler binds every
// reference and nested call to a local first). Each is evaluated as
// evaluation would if it reached the call, and a failure refuses the set.
// Calls of non-deterministic built-ins, which mean something else at load
// than per request, are left alone; so are calls still running when the
// time budget is spent, which per request would time out anyway.
func checkConstantCalls(c *ast.Compiler, store storage.Store) error {
	deadline := time.Now().Add(checkTimeout)
	names := make([]string, 0, len(c.Modules))
	for name := range c.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	var failed []string
	for _, name := range names {
		for _, r := range c.Modules[name].Rules {
			f := newFolder(c, r)
			for i, e := range f.exprs {
				if !f.foldable(e) {
					continue
				}
				budget := time.Until(deadline)
				if budget <= 0 {
					break
				}
				query, ok := f.query(i)
				if !ok {
					continue
				}
				compiled, err := c.QueryCompiler().Compile(query)
				if err != nil {
					continue // not a query on its own: evaluation will say
				}
				_, err = evalOnce(c, store, compiled, budget)
				if err != nil && !errors.Is(err, ErrUndefined) && !errors.Is(err, ErrTimeout) {
					f.failed[i] = true
					failed = append(failed, fmt.Sprintf("%v: rule %v: %s: %v", e.Location, r.Head.Ref(), source(e, query[len(query)-1]), unwrapEval(err)))
				}
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", ErrConstantCall, listed(failed))
	}
	return nil
}

// folder finds the calls of one rule (its else branches, comprehensions
// and every bodies included) that can be evaluated without input.
type folder struct {
	c      *ast.Compiler
	exprs  []*ast.Expr // in evaluation order
	binder map[ast.Var]int
	konst  map[ast.Var]int8 // memo: 1 constant, -1 not, 2 being decided
	failed map[int]bool     // calls that failed: what depends on them is not evaluated again
}

func newFolder(c *ast.Compiler, r *ast.Rule) *folder {
	f := &folder{c: c, binder: map[ast.Var]int{}, konst: map[ast.Var]int8{}, failed: map[int]bool{}}
	twice := map[ast.Var]bool{}
	bind := func(v ast.Var, i int) {
		if _, ok := f.binder[v]; ok {
			twice[v] = true
		}
		f.binder[v] = i
	}
	ast.WalkExprs(r, func(e *ast.Expr) bool {
		i := len(f.exprs)
		f.exprs = append(f.exprs, e)
		if e.Negated || len(e.With) > 0 || !e.IsCall() {
			return false
		}
		ops := e.Operands()
		if e.IsEquality() {
			for _, t := range ops {
				if v, ok := t.Value.(ast.Var); ok {
					bind(v, i)
				}
			}
			return false
		}
		if op := e.Operator(); op != nil {
			if n := c.GetArity(op); n >= 0 && len(ops) == n+1 {
				if v, ok := ops[n].Value.(ast.Var); ok {
					bind(v, i)
				}
			}
		}
		return false
	})
	for v := range twice {
		delete(f.binder, v) // bound in two places: not one constant
	}
	return f
}

// foldable reports whether e calls a built-in or a function of the policy
// with constant arguments (any output operand aside).
func (f *folder) foldable(e *ast.Expr) bool {
	if !e.IsCall() || e.IsEquality() || len(e.With) > 0 {
		return false
	}
	op := e.Operator()
	if op == nil {
		return false
	}
	switch name := op.String(); name {
	case ast.Assign.Name, ast.Member.Name, ast.MemberWithKey.Name, ast.Print.Name, ast.InternalPrint.Name, ast.Trace.Name:
		return false
	default:
		if bi, ok := ast.BuiltinMap[name]; ok && bi.Nondeterministic {
			return false
		}
	}
	arity := f.c.GetArity(op)
	ops := e.Operands()
	if arity < 0 || len(ops) < arity {
		return false
	}
	for _, t := range ops[:arity] {
		if !f.constant(t) {
			return false
		}
	}
	return true
}

// constant reports whether t has a value before any input: no
// comprehension, every reference a base document of data (no rule defines
// anything at, above or below it), every variable bound to a constant.
func (f *folder) constant(t *ast.Term) bool {
	ok := true
	ast.WalkTerms(t, func(x *ast.Term) bool {
		switch v := x.Value.(type) {
		case ast.Var:
			ok = f.constVar(v)
		case ast.Ref:
			ok = v.HasPrefix(ast.DefaultRootRef) && v.IsGround() && len(f.c.GetRules(v)) == 0
			return true
		case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
			ok = false
		}
		return !ok
	})
	return ok
}

func (f *folder) constVar(v ast.Var) bool {
	switch f.konst[v] {
	case 1:
		return true
	case -1, 2:
		return false
	}
	f.konst[v] = 2
	ok := false
	if i, bound := f.binder[v]; bound {
		e := f.exprs[i]
		if e.IsEquality() {
			l, r := e.Operand(0), e.Operand(1)
			if lv, isVar := l.Value.(ast.Var); isVar && lv == v {
				ok = f.constant(r)
			} else {
				ok = f.constant(l)
			}
		} else {
			ok = f.foldable(e)
		}
	}
	f.konst[v] = -1
	if ok {
		f.konst[v] = 1
	}
	return ok
}

// query is the body that evaluates call i: the expressions binding the
// constant variables it reads, in evaluation order, then the call without
// its output. ok is false when a call it depends on failed already.
func (f *folder) query(i int) (ast.Body, bool) {
	need := map[int]bool{}
	var visit func(t *ast.Term)
	visit = func(t *ast.Term) {
		ast.WalkVars(t, func(v ast.Var) bool {
			if j, ok := f.binder[v]; ok && !need[j] {
				need[j] = true
				for _, o := range f.exprs[j].Operands() {
					visit(o)
				}
			}
			return false
		})
	}
	e := f.exprs[i]
	call := e.Terms.([]*ast.Term)[:1+f.c.GetArity(e.Operator())]
	for _, o := range call[1:] {
		visit(o)
	}
	body := ast.Body{}
	for j := range f.exprs {
		if need[j] {
			if f.failed[j] {
				return nil, false
			}
			body.Append(f.exprs[j].Copy())
		}
	}
	body.Append(ast.NewExpr(call))
	return body, true
}

// evalOnce evaluates a compiled query without input under a time budget,
// with strict built-in errors, and returns the term bound to __result__
// (nil when the query binds none), or ErrUndefined, ErrTimeout or the
// evaluation error.
func evalOnce(c *ast.Compiler, store storage.Store, query ast.Body, budget time.Duration) (*ast.Term, error) {
	ctx := context.Background()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	cancel := topdown.NewCancel()
	stop := time.AfterFunc(budget, cancel.Cancel)
	defer stop.Stop()
	q := topdown.NewQuery(query).
		WithCompiler(c).
		WithStore(store).
		WithTransaction(txn).
		WithMetrics(noopMetrics).
		WithStrictBuiltinErrors(true).
		WithCancel(cancel)
	var result *ast.Term
	defined := false
	err = q.Iter(ctx, func(qr topdown.QueryResult) error {
		result, defined = qr[resultVar], true
		return nil
	})
	switch {
	case err != nil && topdown.IsCancel(err):
		return nil, ErrTimeout
	case err != nil:
		return nil, fmt.Errorf("evaluate: %w", err)
	case !defined:
		return nil, ErrUndefined
	}
	return result, nil
}

// source is the policy's text of e, or the call as compiled.
func source(e *ast.Expr, call *ast.Expr) string {
	if e.Location != nil && len(e.Location.Text) > 0 {
		return string(e.Location.Text)
	}
	return call.String()
}

// unwrapEval drops evalOnce's "evaluate: " prefix.
func unwrapEval(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// listed joins messages with "; ", at most maxReported of them.
func listed(msgs []string) string {
	if len(msgs) <= maxReported {
		return strings.Join(msgs, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(msgs[:maxReported], "; "), len(msgs)-maxReported)
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
