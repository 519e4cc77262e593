package fastpath

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Evaluating a compiled Program (see fast.go for the compiler).

// fastEval is the state of one evaluation.
type fastEval struct {
	p       *Program
	input   *request.Input
	vals    []*ast.Term // resolved paths (nil: undefined; unresolved: not read yet)
	vars    []*ast.Term
	memo    []*ast.Term // results of memoized calls (memoUndefined: none)
	sup     []int8      // support memo: 0 unknown, 1 true, -1 false
	bctx    topdown.BuiltinContext
	berrs   []error
	cand    []uint64
	fired   []*hits.Hit
	scratch []*ast.Term
}

// ErrCancelled is the error of an evaluation whose cancel handle was
// cancelled (the caller's deadline passed).
var ErrCancelled = errors.New("fast path evaluation cancelled")

// noopMetrics is shared by every evaluation: timers and counters cost nothing.
var noopMetrics = metrics.NoOp()

// Eval runs the program on input and returns the decision its hits make,
// read as hits.Collect reads them (Evaluator is hits.EvaluatorFast): the
// Result OPA's evaluator gives on the specialized rules. A built-in error
// makes it fail, as topdown with strict built-in errors does, and so does
// a cancelled cancel (ErrCancelled); cancel may be nil.
func (p *Program) Eval(ctx context.Context, input *request.Input, cancel topdown.Cancel) (hits.Result, error) {
	fired, err := p.eval(ctx, input, cancel)
	if err != nil {
		return hits.Result{}, err
	}
	r, err := hits.Collect(fired, input.Enrich.Verification.Passed)
	r.Evaluator = hits.EvaluatorFast
	return r, err
}

// Hits runs the program on input and returns the hits that fired as the
// set OPA's evaluator binds data.__pdp_optimized.hits to, for comparing
// the two. It fails as Eval does.
func (p *Program) Hits(ctx context.Context, input *request.Input, cancel topdown.Cancel) (*ast.Term, error) {
	fired, err := p.eval(ctx, input, cancel)
	if err != nil {
		return nil, err
	}
	terms := make([]*ast.Term, len(fired))
	for i, h := range fired {
		terms[i] = h.Key
	}
	return ast.SetTerm(terms...), nil
}

// eval runs the program on input and returns the hits that fired, in rule
// order, without duplicates. Built-in errors make it fail, as topdown with
// strict built-in errors does.
func (p *Program) eval(ctx context.Context, input *request.Input, cancel topdown.Cancel) ([]*hits.Hit, error) {
	e := p.newEval(ctx, input, cancel)
	e.selectCandidates()
	// Only the candidates are visited: the cost grows with the rules that
	// can match the request, not with the rules written.
	for w, word := range e.cand {
		for word != 0 {
			ri := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if err := e.fire(ri, cancel); err != nil {
				return nil, err
			}
		}
	}
	if len(e.berrs) > 0 {
		return nil, fmt.Errorf("evaluate: %w", e.berrs[0])
	}
	// In OPA's order (a set's), whatever the order of the rules: the
	// collector keeps the first warning it meets.
	slices.SortFunc(e.fired, func(a, b *hits.Hit) int { return a.Key.Value.Compare(b.Key.Value) })
	return e.fired, nil
}

func (p *Program) newEval(ctx context.Context, input *request.Input, cancel topdown.Cancel) *fastEval {
	terms := make([]*ast.Term, p.maxVars+p.memos)
	e := &fastEval{
		p:     p,
		input: input,
		vals:  make([]*ast.Term, len(p.paths)),
		vars:  terms[:p.maxVars:p.maxVars],
		memo:  terms[p.maxVars:],
		sup:   make([]int8, len(p.support)),
		cand:  make([]uint64, p.words),
	}
	if p.calls {
		e.bctx = topdown.BuiltinContext{Context: ctx, Metrics: noopMetrics, Seed: rand.Reader,
			Time: ast.UIntNumberTerm(uint64(input.Now.UnixNano())), Cancel: cancel, Cache: builtins.Cache{}, Capabilities: p.caps}
	}
	return e
}

// selectCandidates sets e.cand to the rules whose guards hold: the
// equality, membership and type guards of the index, and the numeric
// guards.
func (e *fastEval) selectCandidates() {
	p, input := e.p, e.input
	// Paths are read when a step first needs them: a rule that fails
	// early never pays for the values its later steps would read.
	for i := range e.vals {
		e.vals[i] = unresolved
	}
	for i := range e.cand {
		e.cand[i] = ^uint64(0)
	}
	if n := len(p.rules) % 64; n > 0 {
		e.cand[len(e.cand)-1] = 1<<n - 1 // no rule past the last
	}
	for _, i := range p.guarded {
		idx := &p.index[i]
		var eq, typed []uint64
		if v := e.path(i); v != nil {
			if key, ok := valueKey(v.Value); ok {
				eq = idx.eq[key]
			}
			if idx.typed {
				typed = idx.eq[typeKeys[ast.ValueName(v.Value)]]
			}
		}
		for _, w := range idx.touched {
			m := idx.any[w]
			if eq != nil {
				m |= eq[w]
			}
			if typed != nil {
				m |= typed[w]
			}
			e.cand[w] &= m
		}
	}
	// A rule whose numeric guard fails cannot hold (its steps keep the
	// guard, which decides NaN and infinities as topdown does).
	for _, i := range p.numRanges {
		x, ok := p.nums[i](input)
		if ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			continue
		}
		if ri := p.rangeIdx[i]; ri != nil {
			fail := ri.undefined
			if ok {
				fail = ri.failing(x)
			}
			for _, w := range ri.touched {
				e.cand[w] &^= fail[w]
			}
			continue
		}
		for _, g := range p.ranges[i] {
			if !ok || !ordered(g.op, cmp.Compare(x, g.c)) {
				e.cand[g.ri/64] &^= 1 << (g.ri % 64)
			}
		}
	}
	var matched []uint64
	for _, g := range p.subGuards {
		if !e.intersects(g) {
			continue
		}
		x, known := e.guardValue(g)
		if !known {
			continue // the rules run, and raise the error themselves
		}
		if x == nil { // undefined: no guarded rule holds
			for _, w := range g.touched {
				e.cand[w] &^= g.all[w]
			}
			continue
		}
		text, ok := x.Value.(ast.String)
		if !ok {
			continue // contains raises its type error in the rules
		}
		if matched == nil {
			matched = make([]uint64, p.words)
		} else {
			clear(matched)
		}
		g.m.each(string(text), func(id int32) {
			ri := g.rules[id]
			matched[ri/64] |= 1 << (ri % 64)
		})
		for _, w := range g.touched {
			e.cand[w] &^= g.all[w] &^ matched[w]
		}
	}
}

// guardValue is the value a substring guard scans: its path's, or its
// memoized call's result (nil when undefined). known is false when the call
// raises an error: the error is left to the rules that make the call.
func (e *fastEval) guardValue(g *substringGuard) (x *ast.Term, known bool) {
	if g.path >= 0 {
		return e.path(g.path), true
	}
	n := len(e.berrs)
	e.vars[g.call.out.slot] = nil // a slot of some rule's, free before the rules run
	if !e.call(&g.call) {
		if len(e.berrs) > n {
			e.berrs = e.berrs[:n]
			return nil, false
		}
		return nil, true
	}
	return e.vars[g.call.out.slot], true
}

// intersects reports whether some candidate is guarded by g.
func (e *fastEval) intersects(g *substringGuard) bool {
	for _, w := range g.touched {
		if e.cand[w]&g.all[w] != 0 {
			return true
		}
	}
	return false
}

// fire runs candidate rule ri and adds its hit when it holds.
func (e *fastEval) fire(ri int, cancel topdown.Cancel) error {
	r := e.p.rules[ri]
	if cancel != nil && cancel.Cancelled() {
		return ErrCancelled
	}
	clear(e.vars[:r.nvars])
	if !e.run(r.steps) {
		return nil
	}
	h := r.hit
	if r.dynHead >= 0 {
		var err error
		if h, err = dynamicHit(e.vars[r.dynHead]); err != nil {
			return fmt.Errorf("%w: %v", hits.ErrInvalidDecision, err)
		}
	}
	if !containsHit(e.fired, h) {
		e.fired = append(e.fired, h)
	}
	return nil
}

// typeKeys maps ast.ValueName to the index key of its type (typeKey),
// built once so that the lookup allocates nothing.
var typeKeys = func() map[string]string {
	m := map[string]string{}
	for _, typ := range typeTests {
		m[typ] = typeKey(typ)
	}
	return m
}()

// unresolved marks a path not read yet in fastEval.vals; memoUndefined a
// memoized call that was made and is undefined.
var unresolved, memoUndefined = &ast.Term{}, &ast.Term{}

// path returns the value of path i, reading it on first use.
func (e *fastEval) path(i int) *ast.Term {
	v := e.vals[i]
	if v == unresolved {
		v = e.p.resolve[i](e.input)
		e.vals[i] = v
	}
	return v
}

func containsHit(hs []*hits.Hit, h *hits.Hit) bool {
	for _, x := range hs {
		if x == h || x.Key.Equal(h.Key) {
			return true
		}
	}
	return false
}

// dynamicHit parses a head key computed at run time.
func dynamicHit(key *ast.Term) (*hits.Hit, error) {
	a, ok := key.Value.(*ast.Array)
	if !ok || a.Len() != 2 {
		return nil, fmt.Errorf("malformed hit %v", key)
	}
	name, _ := a.Elem(0).Value.(ast.String)
	h, err := hits.ParseHit(string(name), a.Elem(1))
	h.Key = key
	return &h, err
}

// run evaluates steps in order and reports whether all hold.
func (e *fastEval) run(steps []fastStep) bool {
	for i := range steps {
		if e.step(&steps[i]) == steps[i].negated {
			return false
		}
	}
	return true
}

// step reports whether the (un-negated) expression holds. Bindings made by
// a negated expression are not kept, as in Rego.
func (e *fastEval) step(s *fastStep) bool {
	switch s.kind {
	case stepTruthy:
		v := e.value(s.args[0])
		return v != nil && !v.Equal(ast.InternedTerm(false))
	case stepEq:
		a, b := s.args[0], s.args[1]
		if a.kind == opVar && e.vars[a.slot] == nil {
			v := e.value(b)
			if v == nil {
				return false
			}
			if !s.negated {
				e.vars[a.slot] = v
			}
			return true
		}
		av, bv := e.value(a), e.value(b)
		return av != nil && bv != nil && av.Equal(bv)
	case stepSupport:
		return e.support(s.sup)
	case stepCall:
		return e.call(s)
	case stepCompareNum:
		x, ok := e.p.nums[s.npath](e.input)
		if !ok {
			return false
		}
		if math.IsNaN(x) || math.IsInf(x, 0) { // outside numConst's argument: compare the terms
			if s.constLeft {
				return compareTerms(s.cmp, s.args[0].term, e.path(s.npath))
			}
			return compareTerms(s.cmp, e.path(s.npath), s.args[1].term)
		}
		c := cmp.Compare(x, s.nconst)
		if s.constLeft {
			c = -c
		}
		return ordered(s.cmp, c)
	case stepCompare:
		return compareTerms(s.cmp, e.value(s.args[0]), e.value(s.args[1]))
	case stepNumDefined:
		_, ok := e.p.nums[s.npath](e.input)
		return ok
	case stepSubstrings:
		v := e.value(s.args[1])
		if v == nil {
			return false
		}
		if str, ok := v.Value.(ast.String); ok {
			return s.subs.in(string(str))
		}
		return e.call(s) // not a string: the built-in's error
	}
	return false
}

// compareTerms is a comparison built-in on defined operands (false when
// either is undefined).
func compareTerms(op uint8, a, b *ast.Term) bool {
	if a == nil || b == nil {
		return false
	}
	switch op {
	case cmpEqual:
		return a.Equal(b)
	case cmpNotEqual:
		return !a.Equal(b)
	}
	return ordered(op, a.Value.Compare(b.Value))
}

// ordered applies an ordering comparison to the result of a Compare.
func ordered(op uint8, c int) bool {
	switch op {
	case cmpGT:
		return c > 0
	case cmpGTE:
		return c >= 0
	case cmpLT:
		return c < 0
	case cmpLTE:
		return c <= 0
	}
	return false
}

func (e *fastEval) call(s *fastStep) bool {
	if s.memo > 0 {
		switch v := e.memo[s.memo-1]; v {
		case nil:
		case memoUndefined:
			return false
		default:
			e.vars[s.out.slot] = v // a memoized call binds a fresh variable
			return true
		}
	}
	args := e.scratch[:0]
	for _, a := range s.args {
		v := e.value(a)
		if v == nil {
			return false // an undefined operand makes the call undefined
		}
		args = append(args, v)
	}
	e.scratch = args
	ok := false
	err := s.fn(e.bctx, args, func(out *ast.Term) error {
		if s.out == nil {
			ok = !out.Equal(ast.InternedTerm(false))
			return nil
		}
		if s.out.kind == opVar && e.vars[s.out.slot] == nil {
			if !s.negated {
				e.vars[s.out.slot] = out
			}
			if s.memo > 0 {
				e.memo[s.memo-1] = out
			}
			ok = true
			return nil
		}
		want := e.value(*s.out)
		ok = want != nil && want.Equal(out)
		return nil
	})
	if err != nil {
		if t, isHalt := err.(topdown.Halt); isHalt {
			err = t.Err
		}
		e.berrs = append(e.berrs, err)
		return false
	}
	if !ok && s.memo > 0 {
		e.memo[s.memo-1] = memoUndefined
	}
	return ok
}

func (e *fastEval) support(idx int) bool {
	if m := e.sup[idx]; m != 0 {
		return m > 0
	}
	sup := e.p.support[idx]
	saved := append([]*ast.Term(nil), e.vars[:sup.nvars]...)
	holds := false
	for _, body := range sup.bodies {
		clear(e.vars[:sup.nvars])
		if e.run(body) {
			holds = true
			break
		}
	}
	copy(e.vars, saved)
	if holds {
		e.sup[idx] = 1
	} else {
		e.sup[idx] = -1
	}
	return holds
}

// value resolves an operand, nil when undefined.
func (e *fastEval) value(o operand) *ast.Term {
	switch o.kind {
	case opConst:
		return o.term
	case opVar:
		return e.vars[o.slot]
	case opPath:
		return e.path(o.path)
	case opTemplate:
		return plug(o.term, func(v ast.Var) *ast.Term { return e.vars[o.vars[v]] })
	case opDynRef:
		keys := make(ast.Ref, len(o.refs))
		for i, k := range o.refs {
			if keys[i] = e.value(k); keys[i] == nil {
				return nil
			}
		}
		return e.input.Lookup(keys)
	}
	return nil
}

// plug copies t with its variables replaced by their values; nil when one
// is unbound.
func plug(t *ast.Term, value func(ast.Var) *ast.Term) *ast.Term {
	switch v := t.Value.(type) {
	case ast.Var:
		return value(v)
	case *ast.Array:
		elems := make([]*ast.Term, v.Len())
		for i := range elems {
			if elems[i] = plug(v.Elem(i), value); elems[i] == nil {
				return nil
			}
		}
		return ast.ArrayTerm(elems...)
	case ast.Object:
		pairs := make([][2]*ast.Term, 0, v.Len())
		ok := true
		v.Foreach(func(k, x *ast.Term) {
			pk, px := plug(k, value), plug(x, value)
			ok = ok && pk != nil && px != nil
			pairs = append(pairs, [2]*ast.Term{pk, px})
		})
		if !ok {
			return nil
		}
		return ast.ObjectTerm(pairs...)
	case ast.Set:
		elems := make([]*ast.Term, 0, v.Len())
		ok := true
		v.Foreach(func(x *ast.Term) {
			px := plug(x, value)
			ok = ok && px != nil
			elems = append(elems, px)
		})
		if !ok {
			return nil
		}
		return ast.SetTerm(elems...)
	}
	return t
}
