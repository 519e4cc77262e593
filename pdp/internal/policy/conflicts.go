package policy

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Partial evaluation loses conflict errors too. OPA fails a query
// (eval_conflict_error) when a complete rule or a function gives two
// different values for the same input (two definitions hold, or one body
// holds with two bindings), and when a partial object gives one key two
// values. Partial evaluation inlines each definition, or each binding, as
// a residual rule of its own, so the specialized rules answer where the
// policy as written fails the decision:
//
//	tier := "a" if input.context.x > 1
//	tier := "b" if input.context.x > 2
//	deny contains "tier_a" if tier == "a"   # x = 3: OPA fails, the residual rule denies
//
// conflict finds the rules a decision rule reads (transitively) that may
// produce a conflict depending on the input, so that hitsModules serves
// the decision rule as written. Like errorOrder it is syntactic and
// conservative: what it accepts cannot conflict. It accepts a group of
// definitions when every definition is single-valued (a value that is a
// constant or a reference without variables, or variables bound once, not
// by iteration) and any two definitions give the same constant value or
// cannot both hold: an equality of the same input path (or of the same
// argument of a function) with two different constants, an expression and
// its negation, or a value that is a number the sidecar computes and the
// negation of its path (spent_24h := input.velocity.spent_24h and
// spent_24h := 0 if not input.velocity.spent_24h). A partial object (a
// rule whose head reference has a variable) is accepted only when every
// definition gives the same constant value. Rules that read nothing of
// the input are accepted: partial evaluation evaluates them at load.
func (o *errorOrder) conflict(r *ast.Rule) string {
	if r.Default || r.Head.RuleKind() == ast.MultiValue {
		return ""
	}
	ref := r.Ref()
	if o.conflicts == nil {
		o.conflicts = map[string]string{}
	}
	key := ref.GroundPrefix().String()
	if why, ok := o.conflicts[key]; ok {
		return why
	}
	why := o.groupConflict(ref)
	o.conflicts[key] = why
	return why
}

// groupConflict is conflict for the definitions at ref (for a partial
// object, at its ground prefix: every rule that may give one of its keys).
func (o *errorOrder) groupConflict(ref ast.Ref) string {
	var rules []*ast.Rule
	if ref.IsGround() {
		rules = o.c.GetRulesExact(ref)
	} else {
		rules = o.c.GetRules(ref.GroundPrefix())
	}
	var defs []*ast.Rule
	partialObject := false
	for _, r := range rules {
		if r.Default || r.Head.RuleKind() == ast.MultiValue {
			continue
		}
		defs = append(defs, r)
		if !r.Ref().IsGround() {
			partialObject = true
		}
	}
	if sameConstant(defs) || !o.readsInput(defs) {
		// Without the input, partial evaluation evaluates the rules at
		// load, conflict included.
		return ""
	}
	at := func(r *ast.Rule) string {
		return fmt.Sprintf("%v: %v", r.Location, r.Ref())
	}
	if partialObject {
		return at(defs[0]) + " may give one key two values (a conflict error in OPA)"
	}
	for _, d := range defs {
		for x := d; x != nil; x = x.Else {
			if !singleValued(x) {
				return at(x) + " may produce several values (a conflict error in OPA)"
			}
		}
	}
	for i, a := range defs {
		for _, b := range defs[i+1:] {
			if !sameConstant([]*ast.Rule{a, b}) && !exclusive(a, b) {
				return fmt.Sprintf("%s and %v may both hold with different values (a conflict error in OPA)", at(a), b.Location)
			}
		}
	}
	return ""
}

// readsInput reports whether any of rules reads the input, directly or
// through the rules it reads, or is a function (whose arguments may come
// from it).
func (o *errorOrder) readsInput(rules []*ast.Rule) bool {
	if o.readingInput == nil {
		o.readingInput = map[*ast.Rule]int8{}
	}
	for _, r := range rules {
		switch o.readingInput[r] {
		case 1:
			return true
		case -1, 2:
			continue
		}
		o.readingInput[r] = 2
		reads := len(r.Head.Args) > 0
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			switch {
			case reads:
			case ref.HasPrefix(ast.InputRootRef):
				reads = true
			case ref.HasPrefix(ast.DefaultRootRef):
				reads = o.readsInput(o.c.GetRules(ref))
			}
			return reads
		})
		o.readingInput[r] = -1
		if reads {
			o.readingInput[r] = 1
			return true
		}
	}
	return false
}

// sameConstant reports whether every definition (and else branch) of defs
// gives one constant value.
func sameConstant(defs []*ast.Rule) bool {
	var v *ast.Term
	for _, d := range defs {
		for x := d; x != nil; x = x.Else {
			h := x.Head.Value
			if h == nil || !ast.IsConstant(h.Value) {
				return false
			}
			if v == nil {
				v = h
			} else if !v.Equal(h) {
				return false
			}
		}
	}
	return true
}

// singleValued reports whether a body gives its head at most one value:
// no variable the head's value reads is bound by iteration. Conservatively,
// the body iterates when a reference reads a variable no earlier
// expression bound (input.arr[i], data.m[_]) or a membership binds one
// (some x in xs).
func singleValued(r *ast.Rule) bool {
	if r.Head.Value == nil || r.Head.Value.IsGround() {
		return true
	}
	bound := r.Head.Args.Vars()
	iterates := false
	unbound := func(x any) {
		ast.WalkRefs(x, func(ref ast.Ref) bool {
			for _, t := range ref[1:] {
				ast.WalkVars(t, func(v ast.Var) bool {
					if !bound.Contains(v) {
						iterates = true
					}
					return iterates
				})
			}
			return iterates
		})
	}
	for _, e := range r.Body {
		if e.IsEvery() || e.IsSome() {
			continue // binds nothing outside; some x in xs is a membership call by now
		}
		unbound(e)
		if e.IsCall() {
			switch e.Operator().String() {
			case ast.Member.Name, ast.MemberWithKey.Name:
				// internal.member_2(x, xs) enumerates xs for a fresh x.
				for _, t := range e.Operands()[:len(e.Operands())-1] {
					ast.WalkVars(t, func(v ast.Var) bool {
						if !bound.Contains(v) {
							iterates = true
						}
						return iterates
					})
				}
			}
		}
		if iterates {
			return false
		}
		for v := range e.Vars(ast.VarVisitorParams{SkipRefHead: true, SkipClosures: true}) {
			bound.Add(v)
		}
	}
	unbound(r.Head.Value)
	return !iterates
}

// exclusive reports whether definitions a and b cannot both hold for one
// input: an equality of one input path (or of one argument of a function)
// with two different scalar constants, or an expression in one and its
// negation in the other. A definition with else branches is never
// exclusive here.
func exclusive(a, b *ast.Rule) bool {
	if a.Else != nil || b.Else != nil {
		return false
	}
	ga, gb := guards(a), guards(b)
	for k, va := range ga {
		if vb, ok := gb[k]; ok && !va.Equal(vb) {
			return true
		}
	}
	if notOf(a, b) || notOf(b, a) {
		return true
	}
	for _, x := range a.Body {
		for _, y := range b.Body {
			if x.Negated != y.Negated && len(x.With) == 0 && len(y.With) == 0 && len(x.Vars(ast.VarVisitorParams{SkipRefHead: true})) == 0 &&
				termsEqual(x.Terms, y.Terms) {
				return true
			}
		}
	}
	return false
}

// notOf reports whether a's value is an input path the sidecar computes
// as a number (a holds exactly when the path is present) and b's body says
// `not` of that path (b holds only when it is absent or false).
func notOf(a, b *ast.Rule) bool {
	p, ok := valuePath(a)
	if !ok || !request.NumericPath(p[1:]) {
		return false
	}
	for _, e := range b.Body {
		if t, isTerm := e.Terms.(*ast.Term); isTerm && e.Negated && len(e.With) == 0 && t.Equal(ast.NewTerm(p)) {
			return true
		}
	}
	return false
}

// valuePath is the ground input path a definition's value is, written as
// the value or bound to it in the body (`h := input.x` compiles to
// `h := __local1__ if __local1__ = input.x`), when its body does nothing
// else.
func valuePath(r *ast.Rule) (ast.Ref, bool) {
	if r.Else != nil || r.Head.Value == nil {
		return nil, false
	}
	path := func(t *ast.Term) (ast.Ref, bool) {
		ref, ok := t.Value.(ast.Ref)
		return ref, ok && ref.IsGround() && ref.HasPrefix(ast.InputRootRef)
	}
	if p, ok := path(r.Head.Value); ok {
		if len(r.Body) != 1 {
			return nil, false
		}
		t, isTerm := r.Body[0].Terms.(*ast.Term)
		return p, isTerm && !r.Body[0].Negated && t.Value.Compare(ast.Boolean(true)) == 0
	}
	v, ok := r.Head.Value.Value.(ast.Var)
	if !ok || len(r.Body) != 1 || !r.Body[0].IsEquality() || r.Body[0].Negated || len(r.Body[0].With) > 0 {
		return nil, false
	}
	l, rt := r.Body[0].Operand(0), r.Body[0].Operand(1)
	if !l.Equal(ast.VarTerm(string(v))) {
		l, rt = rt, l
	}
	if !l.Equal(ast.VarTerm(string(v))) {
		return nil, false
	}
	return path(rt)
}

// guards are the constant scalars a definition's body (its top level, not
// negated) equates an input path or an argument with, keyed by the path or
// the argument's position; a constant argument counts.
func guards(r *ast.Rule) map[string]*ast.Term {
	out := map[string]*ast.Term{}
	args := map[ast.Var]int{}
	for i, t := range r.Head.Args {
		switch v := t.Value.(type) {
		case ast.Var:
			args[v] = i
		default:
			if ast.IsScalar(v) {
				out[fmt.Sprintf("arg%d", i)] = t
			}
		}
	}
	alias := map[ast.Var]ast.Ref{}
	for _, e := range r.Body {
		if e.Negated || len(e.With) > 0 || !e.IsCall() {
			continue
		}
		if !e.IsEquality() && !(e.Operator().Equal(ast.Equal.Ref()) && len(e.Operands()) == 2) {
			continue
		}
		l, rt := e.Operand(0), e.Operand(1)
		if ast.IsScalar(l.Value) {
			l, rt = rt, l
		}
		switch v := l.Value.(type) {
		case ast.Var:
			if ref, ok := rt.Value.(ast.Ref); ok && e.IsEquality() && ref.IsGround() && ref.HasPrefix(ast.InputRootRef) {
				alias[v] = ref // __local1__ = input.x, as the compiler binds an operand
				continue
			}
			if !ast.IsScalar(rt.Value) {
				continue
			}
			if i, ok := args[v]; ok {
				out[fmt.Sprintf("arg%d", i)] = rt
			} else if ref, ok := alias[v]; ok {
				out[ref.String()] = rt
			}
		case ast.Ref:
			if ast.IsScalar(rt.Value) && v.IsGround() && v.HasPrefix(ast.InputRootRef) {
				out[v.String()] = rt
			}
		}
	}
	return out
}

// termsEqual compares two expressions' terms.
func termsEqual(a, b any) bool {
	switch x := a.(type) {
	case *ast.Term:
		y, ok := b.(*ast.Term)
		return ok && x.Equal(y)
	case []*ast.Term:
		y, ok := b.([]*ast.Term)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !x[i].Equal(y[i]) {
				return false
			}
		}
		return true
	}
	return false
}
