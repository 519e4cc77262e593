package policy

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Partial evaluation keeps a rule's answers but not always its errors. The
// policy as written evaluates a body in order: a built-in call on the input
// that fails (to_number("abc")) fails the decision even if a later
// expression would have failed the body anyway. The specialized rules may
// never reach that call: partial evaluation drops the body on a branch
// where a later expression fails on the data (a threshold lookup keyed by
// the input that finds nothing), and copy propagation moves a call whose
// result is used later to where it is used, after expressions that may fail
// first. The sidecar then answers where OPA, and the policy as written,
// fail (with strict built-in errors).
//
// errorOrder finds the rules where that can happen, so that hitsModules
// serves them as written: a body (of the rule, or of a rule or function it
// reads, transitively; else branches, comprehensions and every included)
// where a call that may fail on the input is followed by an expression
// other than the ones that only bind an input value or a constant rule to a
// fresh variable, or consume the call's result. It is syntactic and conservative: a body it
// accepts cannot lose an error, a body it refuses might not.
type errorOrder struct {
	c *ast.Compiler
	// stringValued memoizes whether a rule's value is always a string (1),
	// not known to be (-1), or is being decided (2).
	stringValued map[*ast.Rule]int8
	// inputValued memoizes whether a rule's value may come from the input
	// (1), not (-1), or is being decided (2).
	inputValued map[*ast.Rule]int8
	// failing memoizes whether evaluating a rule may raise an error that
	// depends on the input.
	failing map[*ast.Rule]int8
	// conflicts memoizes, by the ground prefix of a rule's reference, why
	// its definitions may conflict ("" when they cannot: conflicts.go).
	conflicts map[string]string
	// readingInput memoizes whether a rule reads the input (1), not (-1),
	// or is being decided (2).
	readingInput map[*ast.Rule]int8
}

func newErrorOrder(c *ast.Compiler) *errorOrder {
	return &errorOrder{c: c, inputValued: map[*ast.Rule]int8{}, failing: map[*ast.Rule]int8{}, stringValued: map[*ast.Rule]int8{}}
}

// scope is what the check knows at a point of a body: the variables whose
// value may come from the input, and the terms known to be strings (an
// is_string guard passed, or the result of a string built-in on strings).
type scope struct {
	input map[ast.Var]bool
	strs  map[string]bool
	// alias is the term a variable was bound to (`__local1__ = input.x`,
	// as the compiler rewrites a guard's operand): a guard on either
	// holds for both.
	alias map[string]string
}

func newScope() *scope {
	return &scope{input: map[ast.Var]bool{}, strs: map[string]bool{}, alias: map[string]string{}}
}

// stringIn are the built-ins that cannot fail when every operand is a
// string, and stringOut those of them whose result is a string.
// regex.match is among them when its pattern does not come from the input
// (a constant pattern that does not compile is a load error).
var (
	stringIn = map[string]bool{
		ast.Lower.Name: true, ast.Upper.Name: true, ast.Replace.Name: true, ast.TrimSpace.Name: true,
		ast.Trim.Name: true, ast.TrimLeft.Name: true, ast.TrimRight.Name: true, ast.TrimPrefix.Name: true,
		ast.TrimSuffix.Name: true, ast.Contains.Name: true, ast.StartsWith.Name: true, ast.EndsWith.Name: true,
		ast.IndexOf.Name: true, ast.RegexMatch.Name: true,
	}
	stringOut = map[string]bool{
		ast.Lower.Name: true, ast.Upper.Name: true, ast.Replace.Name: true, ast.TrimSpace.Name: true,
		ast.Trim.Name: true, ast.TrimLeft.Name: true, ast.TrimRight.Name: true, ast.TrimPrefix.Name: true,
		ast.TrimSuffix.Name: true,
	}
)

// neverFail are the built-ins that raise no error whatever their
// arguments: comparisons, type tests, membership.
var neverFail = map[string]bool{
	ast.Equality.Name: true, ast.Assign.Name: true, ast.Equal.Name: true, ast.NotEqual.Name: true,
	ast.GreaterThan.Name: true, ast.GreaterThanEq.Name: true, ast.LessThan.Name: true, ast.LessThanEq.Name: true,
	ast.IsString.Name: true, ast.IsNumber.Name: true, ast.IsBoolean.Name: true, ast.IsArray.Name: true,
	ast.IsSet.Name: true, ast.IsObject.Name: true, ast.IsNull.Name: true, ast.TypeNameBuiltin.Name: true,
	ast.Member.Name: true, ast.MemberWithKey.Name: true,
}

// check reports, for the rules at path, the first place where an error may
// be lost (a built-in error, or a conflict: conflicts.go), or "" when there
// is none.
func (o *errorOrder) check(path ast.Ref) string {
	seen := map[*ast.Rule]bool{}
	queue := append([]*ast.Rule{}, o.c.GetRulesExact(path)...)
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		if seen[r] {
			continue
		}
		seen[r] = true
		if why := o.conflict(r); why != "" {
			return why
		}
		why := ""
		ast.WalkBodies(r, func(b ast.Body) bool {
			if why == "" {
				why = o.body(b, indexedBody(r, b))
			}
			return why != ""
		})
		if why != "" {
			return why
		}
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if ref.HasPrefix(ast.DefaultRootRef) {
				queue = append(queue, o.c.GetRules(ref)...)
			}
			return false
		})
	}
	return ""
}

// body checks one body: after an expression that may fail on the input,
// only bindings of input values and consumers of its result may follow,
// and, in the body OPA's rule index reads (indexed), equalities of an
// input path with a constant: where one fails, OPA skips the rule before
// the call, as the fast program does (buildIndex).
func (o *errorOrder) body(b ast.Body, indexed bool) string {
	sc := newScope()
	for i, e := range b {
		if !o.mayFail(e, sc) {
			o.bind(e, sc)
			continue
		}
		results := map[ast.Var]bool{}
		for _, v := range o.outputs(e) {
			results[v] = true
		}
		o.bind(e, sc)
		for _, next := range b[i+1:] {
			switch {
			case o.inputBinding(next), o.constantBinding(next), indexed && indexedEquality(next):
			case consumes(next, results) && !o.mayFail(next, sc) && o.readsNoData(next):
			default:
				return fmt.Sprintf("%v: %v may fail on the input before %v (at %v) is evaluated", e.Location, e, next, next.Location)
			}
			o.bind(next, sc)
			if next.IsEquality() && consumes(next, results) {
				markVars(next.Operand(0), results) // an alias of the result
				markVars(next.Operand(1), results)
			}
			for _, v := range o.outputs(next) {
				results[v] = true
			}
		}
		return ""
	}
	return ""
}

// indexedBody reports whether b is the body OPA's rule index reads for r:
// the body of a rule without arguments, else branches or print calls
// (which turn indexing off), not one nested in it.
func indexedBody(r *ast.Rule, b ast.Body) bool {
	if len(r.Head.Args) > 0 || r.Else != nil || r.Default || len(b) == 0 || len(r.Body) == 0 || &b[0] != &r.Body[0] {
		return false
	}
	printing := false
	ast.WalkExprs(r, func(e *ast.Expr) bool {
		if op := e.OperatorTerm(); op != nil && (op.String() == ast.Print.Name || op.String() == ast.InternalPrint.Name) {
			printing = true
		}
		return printing
	})
	return !printing
}

// indexedEquality reports whether e is an equality OPA's rule index uses:
// a ground input path (unification or ==) against a scalar constant.
func indexedEquality(e *ast.Expr) bool {
	if e.Negated || len(e.With) > 0 {
		return false
	}
	if !e.IsEquality() && !(e.IsCall() && e.Operator().Equal(ast.Equal.Ref()) && len(e.Operands()) == 2) {
		return false
	}
	a, b := e.Operand(0), e.Operand(1)
	if _, ok := b.Value.(ast.Ref); ok {
		a, b = b, a
	}
	ref, ok := a.Value.(ast.Ref)
	return ok && ref.HasPrefix(ast.InputRootRef) && ref.IsGround() && ast.IsScalar(b.Value)
}

// mayFail reports whether evaluating e may raise an error that depends on
// the input: a call of a built-in that can fail, or of a function, with an
// argument that may come from the input; a reference to a rule whose
// evaluation may; a comprehension or every whose body may.
func (o *errorOrder) mayFail(e *ast.Expr, sc *scope) bool {
	if e.IsCall() {
		op := e.Operator()
		if op != nil {
			name := op.String()
			arity := o.c.GetArity(op)
			ops := e.Operands()
			if arity >= 0 && arity <= len(ops) {
				ops = ops[:arity]
			}
			if _, builtin := ast.BuiltinMap[name]; (!builtin || !neverFail[name]) && !o.stringSafe(name, ops, sc) {
				for _, t := range ops {
					if o.fromInput(t, sc.input) {
						return true
					}
				}
				if !builtin {
					for _, r := range o.c.GetRulesExact(op) {
						if o.ruleMayFail(r) {
							return true
						}
					}
				}
			}
		}
	}
	failing := false
	if e.IsEvery() {
		ast.WalkBodies(e.Terms, func(b ast.Body) bool {
			for _, x := range b {
				if o.mayFail(x, sc) {
					failing = true
				}
			}
			return failing
		})
	}
	ast.WalkTerms(e, func(t *ast.Term) bool {
		if failing {
			return true
		}
		switch v := t.Value.(type) {
		case ast.Ref:
			if v.HasPrefix(ast.DefaultRootRef) {
				for _, r := range o.c.GetRules(v) {
					if o.ruleMayFail(r) {
						failing = true
					}
				}
			}
		case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
			ast.WalkBodies(v, func(b ast.Body) bool {
				for _, x := range b {
					if o.mayFail(x, sc) {
						failing = true
					}
				}
				return failing
			})
			return true
		}
		return failing
	})
	return failing
}

// ruleMayFail reports whether evaluating r may raise an error that depends
// on the input.
func (o *errorOrder) ruleMayFail(r *ast.Rule) bool {
	switch o.failing[r] {
	case 1:
		return true
	case -1, 2:
		return false
	}
	o.failing[r] = 2
	failing := false
	ast.WalkBodies(r, func(b ast.Body) bool {
		sc := newScope()
		for v := range r.Head.Args.Vars() {
			sc.input[v] = true // a function's arguments may come from the input
		}
		for _, e := range b {
			if o.mayFail(e, sc) {
				failing = true
				return true
			}
			o.bind(e, sc)
		}
		return false
	})
	o.failing[r] = -1
	if failing {
		o.failing[r] = 1
	}
	return failing
}

// fromInput reports whether t's value may come from the input: it reads
// the input, a variable bound from it, or a rule whose value may.
func (o *errorOrder) fromInput(t *ast.Term, input map[ast.Var]bool) bool {
	found := false
	ast.WalkTerms(t, func(x *ast.Term) bool {
		if found {
			return true
		}
		switch v := x.Value.(type) {
		case ast.Var:
			found = input[v]
		case ast.Ref:
			switch {
			case v.HasPrefix(ast.InputRootRef):
				found = true
			case v.HasPrefix(ast.DefaultRootRef):
				for _, r := range o.c.GetRules(v) {
					if o.ruleInputValued(r) {
						found = true
					}
				}
			default:
				if head, ok := v[0].Value.(ast.Var); ok {
					found = input[head]
				}
			}
			if !found {
				// The keys of a lookup select a value; they do not give it.
				return true
			}
		}
		return found
	})
	return found
}

// ruleInputValued reports whether r's value (or a key of a partial rule)
// may come from the input.
func (o *errorOrder) ruleInputValued(r *ast.Rule) bool {
	switch o.inputValued[r] {
	case 1:
		return true
	case -1, 2:
		return false
	}
	o.inputValued[r] = 2
	valued := false
	for x := r; x != nil && !valued; x = x.Else {
		input := map[ast.Var]bool{}
		for v := range x.Head.Args.Vars() {
			input[v] = true
		}
		for _, e := range x.Body {
			o.bindInput(e, input)
		}
		for _, t := range []*ast.Term{x.Head.Key, x.Head.Value} {
			if t != nil && o.fromInput(t, input) {
				valued = true
			}
		}
	}
	o.inputValued[r] = -1
	if valued {
		o.inputValued[r] = 1
	}
	return valued
}

// bind records what e establishes: the variables it binds from an input
// value, the terms it proves to be strings.
func (o *errorOrder) bind(e *ast.Expr, sc *scope) {
	o.bindInput(e, sc.input)
	if !e.IsCall() || e.Negated || len(e.With) > 0 {
		return
	}
	ops := e.Operands()
	switch name := e.Operator().String(); {
	case name == ast.IsString.Name && len(ops) == 1:
		sc.strs[ops[0].String()] = true
		if a, ok := sc.alias[ops[0].String()]; ok {
			sc.strs[a] = true
		}
	case e.IsEquality():
		for i, t := range ops {
			v, ok := t.Value.(ast.Var)
			if !ok {
				continue
			}
			switch other := ops[1-i]; other.Value.(type) {
			case ast.Ref, ast.Var:
				sc.alias[v.String()] = other.String()
			}
			if o.isString(ops[1-i], sc) {
				sc.strs[v.String()] = true
			}
		}
	case stringOut[name]: // failing or not: what follows a call runs only when it succeeded
		for _, v := range o.outputs(e) {
			sc.strs[v.String()] = true
		}
	}
}

// stringSafe reports whether the built-in call name(ops...) cannot fail:
// a string built-in whose operands are all known strings (regex.match's
// pattern need not be one when it does not come from the input).
func (o *errorOrder) stringSafe(name string, ops []*ast.Term, sc *scope) bool {
	if !stringIn[name] {
		return false
	}
	for i, t := range ops {
		if i == 0 && name == ast.RegexMatch.Name && !o.fromInput(t, sc.input) {
			continue
		}
		if !o.isString(t, sc) {
			return false
		}
	}
	return true
}

// isString reports whether t's value is known to be a string: a constant
// string, a term an is_string guard passed or a string built-in produced,
// or a rule whose every value is one.
func (o *errorOrder) isString(t *ast.Term, sc *scope) bool {
	switch v := t.Value.(type) {
	case ast.String:
		return true
	case ast.Var:
		return sc.strs[v.String()]
	case ast.Ref:
		if sc.strs[v.String()] {
			return true
		}
		if !v.HasPrefix(ast.DefaultRootRef) || !v.IsGround() {
			return false
		}
		rules := o.c.GetRulesExact(v)
		if len(rules) == 0 {
			return false
		}
		for _, r := range rules {
			if !o.ruleStringValued(r) {
				return false
			}
		}
		return true
	}
	return false
}

// ruleStringValued reports whether every value r (and its else branches)
// can take is a string.
func (o *errorOrder) ruleStringValued(r *ast.Rule) bool {
	switch o.stringValued[r] {
	case 1:
		return true
	case -1, 2:
		return false
	}
	o.stringValued[r] = 2
	valued := len(r.Head.Args) == 0
	for x := r; x != nil && valued; x = x.Else {
		sc := newScope()
		for _, e := range x.Body {
			o.bind(e, sc)
		}
		valued = x.Head.Value != nil && o.isString(x.Head.Value, sc)
	}
	o.stringValued[r] = -1
	if valued {
		o.stringValued[r] = 1
	}
	return valued
}

// bindInput marks the variables e binds from an input value.
func (o *errorOrder) bindInput(e *ast.Expr, input map[ast.Var]bool) {
	if !e.IsCall() {
		return
	}
	ops := e.Operands()
	if e.IsEquality() {
		l, r := ops[0], ops[1]
		if o.fromInput(r, input) {
			markVars(l, input)
		}
		if o.fromInput(l, input) {
			markVars(r, input)
		}
		return
	}
	for _, t := range ops {
		if o.fromInput(t, input) {
			for _, v := range o.outputs(e) {
				input[v] = true
			}
			return
		}
	}
}

func markVars(t *ast.Term, set map[ast.Var]bool) {
	ast.WalkVars(t, func(v ast.Var) bool {
		set[v] = true
		return false
	})
}

// inputBinding recognizes `__local = input.path` and `__local = "const"`: a
// fresh variable bound to an input value or a constant, which copy
// propagation moves to where it is read, and which cannot fail before.
func (o *errorOrder) inputBinding(e *ast.Expr) bool {
	if !e.IsEquality() || e.Negated || len(e.With) > 0 {
		return false
	}
	l, r := e.Operand(0), e.Operand(1)
	if _, ok := r.Value.(ast.Var); ok {
		l, r = r, l
	}
	v, ok := l.Value.(ast.Var)
	if !ok || !v.IsGenerated() || !r.IsGround() {
		return false
	}
	if ref, isRef := r.Value.(ast.Ref); isRef {
		return ref.HasPrefix(ast.InputRootRef)
	}
	return !ast.ContainsRefs(r) && !ast.ContainsComprehensions(r)
}

// constantBinding recognizes `__local = data.pkg.rule` where the rule is a
// constant (`scam := {...}`, one unconditional body): it cannot fail, the
// compiler puts such a binding after the body when a head names the rule.
func (o *errorOrder) constantBinding(e *ast.Expr) bool {
	if !e.IsEquality() || e.Negated || len(e.With) > 0 {
		return false
	}
	l, r := e.Operand(0), e.Operand(1)
	if _, ok := r.Value.(ast.Var); ok {
		l, r = r, l
	}
	v, ok := l.Value.(ast.Var)
	ref, isRef := r.Value.(ast.Ref)
	if !ok || !v.IsGenerated() || !isRef || !ref.HasPrefix(ast.DefaultRootRef) || !ref.IsGround() {
		return false
	}
	rules := o.c.GetRulesExact(ref)
	if len(rules) != 1 {
		return false
	}
	x := rules[0]
	if x.Else != nil || len(x.Head.Args) > 0 || x.Head.Value == nil || !x.Head.Value.IsGround() || len(x.Body) != 1 {
		return false
	}
	t, isTerm := x.Body[0].Terms.(*ast.Term)
	return isTerm && !x.Body[0].Negated && len(x.Body[0].With) == 0 && t.Value.Compare(ast.Boolean(true)) == 0
}

// consumes reports whether e reads one of vars.
func consumes(e *ast.Expr, vars map[ast.Var]bool) bool {
	found := false
	ast.WalkVars(e, func(v ast.Var) bool {
		found = found || vars[v]
		return found
	})
	return found
}

// readsNoData reports whether e reads nothing but constants, the input and
// variables (no data, no rule): partial evaluation cannot decide it at
// load.
func (o *errorOrder) readsNoData(e *ast.Expr) bool {
	if e.Negated || len(e.With) > 0 {
		return false
	}
	ok := true
	ast.WalkRefs(e, func(ref ast.Ref) bool {
		if ref.HasPrefix(ast.DefaultRootRef) && !ref.Equal(e.Operator()) {
			ok = false
		}
		return !ok
	})
	return ok
}

// outputs are the variables a call binds: those of its output operand.
func (o *errorOrder) outputs(e *ast.Expr) []ast.Var {
	if !e.IsCall() || e.IsEquality() {
		return nil
	}
	op := e.Operator()
	if op == nil {
		return nil
	}
	ops := e.Operands()
	if n := o.c.GetArity(op); n < 0 || len(ops) != n+1 {
		return nil
	}
	return ops[len(ops)-1].Vars().Sorted()
}
