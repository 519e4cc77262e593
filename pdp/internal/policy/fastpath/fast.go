package fastpath

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// A Program evaluates the optimized hits rules without topdown.
//
// After partial evaluation (the policy package's specialize.go) the rules
// of a typical risk policy are in a small fragment of Rego: equalities
// between input paths and constants, locals bound from input paths,
// built-in calls on them, and negations of those or of support rules. Topdown spends a few thousand
// instructions on each such expression (unification, bindings, plugging);
// this program resolves every input path once, preselects the rules whose
// string/boolean equalities hold with bitsets (as OPA's rule index would),
// and runs the few remaining steps directly. Built-ins are OPA's own
// implementations (topdown.GetBuiltin), called as topdown calls them, so
// comparisons, regexes and the rest keep their exact semantics; a
// deterministic call on the same values is made once per evaluation
// (memoize), and a few calls are prepared from their constant operands
// (specializeCall: a pattern of literals, a replacement of fixed strings),
// held to OPA's answers by their tests.
//
// A policy set gets a fast program only when every hits rule and support
// rule is in the fragment; otherwise topdown serves it. Every load checks
// that the fast program and topdown agree on the smoke requests and on
// the proof's inputs (the policy package's prove.go), and differential
// tests and fuzz targets there hold the two to the same answers.
type Program struct {
	paths   []ast.Ref // ground input paths, resolved at most once per evaluation
	resolve []request.Resolver
	nums    []request.NumResolver // per path: its native numeric reader, nil when none
	guarded []int                 // the paths some rule's index guard reads
	pathIdx map[string]int
	rules   []*fastRule
	index   []pathIndex // per path: the equality guards of the rules
	// ranges are the numeric guards per path (numRanges lists the paths
	// that have some).
	ranges    [][]numGuard
	numRanges []int
	// rangeIdx, per path with numeric guards on few distinct constants,
	// holds the rules failing them for each interval between the
	// constants (nil: the guards are checked one by one).
	rangeIdx []*rangeIndex
	// subGuards are the rules' contains(x, "needle") guards, per x.
	subGuards []*substringGuard
	words     int // length of the rule bitsets
	support   []*fastSupport
	supIdx    map[string]int
	maxVars   int
	calls     bool // some step calls a built-in
	// caps are the compiler's capabilities, which built-ins read (the
	// network hosts json.match_schema may fetch a $ref from: none).
	caps *ast.Capabilities
	// memos is the number of distinct memoized calls (see memoKey);
	// memoIdx numbers them at compile time, and origin says, for the body
	// being compiled, what each variable holds when it is a value every
	// evaluation computes the same way (an input path, a memoized call).
	memos   int
	memoIdx map[string]int
	origin  map[int]string
}

type fastRule struct {
	hit   *hits.Hit // constant head, parsed at load
	steps []fastStep
	nvars int
	// dynHead is the slot of the variable the head key is bound to when
	// the head depends on the input (parsed when the rule fires); -1 when
	// the head is constant.
	dynHead int
	sig     string // its guards, as buildIndex found them
}

type fastSupport struct {
	bodies [][]fastStep
	nvars  int
}

type stepKind uint8

const (
	stepTruthy  stepKind = iota + 1 // operand is defined and not false
	stepEq                          // operand = operand (binds an unbound var)
	stepCall                        // built-in call, optional output operand
	stepSupport                     // a support rule holds
	stepCompare                     // gt/gte/lt/lte/equal/neq without an output
	// stepCompareNum is a stepCompare (gt/gte/lt/lte) between a numeric
	// path the sidecar computes and a number constant, made on float64s
	// without building the path's term. Exact: the constant has at most 15
	// significant digits (see numConst), so ordering it against the
	// path's value as float64s orders the two decimals the same way.
	stepCompareNum
	// stepNumDefined holds when a numeric path is defined (a binding whose
	// variable only native comparisons read).
	stepNumDefined
	// stepSubstrings is `regex.match(p, x)` for a constant p that is an
	// alternation of literals (substrings.go): x contains one of them.
	// args and fn are the call's, made for a non-string x so that the
	// built-in reports its own error.
	stepSubstrings
)

// Comparison operators of stepCompare, mirroring topdown's comparison
// built-ins (Value.Compare, Term.Equal) exactly.
const (
	cmpGT uint8 = iota + 1
	cmpGTE
	cmpLT
	cmpLTE
	cmpEqual
	cmpNotEqual
)

var comparisons = map[string]uint8{
	"gt": cmpGT, "gte": cmpGTE, "lt": cmpLT, "lte": cmpLTE, "equal": cmpEqual, "neq": cmpNotEqual,
}

type fastStep struct {
	kind    stepKind
	negated bool
	args    []operand
	out     *operand // stepCall with an output
	fn      topdown.BuiltinFunc
	subs    *substrings
	loc     *ast.Location
	sup     int   // stepSupport
	cmp     uint8 // stepCompare, stepCompareNum
	// stepCompareNum: the path, the constant, and whether the constant is
	// the left operand.
	npath     int
	nconst    float64
	constLeft bool
	// memo is 1 + the slot of a stepCall computed at most once per
	// evaluation, 0 when the step is not memoized.
	memo int
	// member: the call is internal.member_2 (`x in xs`); contains: the
	// call is contains(x, s); typeTest the type a type test (is_string,
	// ...) holds for, "" for other calls.
	member, contains bool
	typeTest         string
}

type operandKind uint8

const (
	opConst operandKind = iota + 1
	opVar
	opPath     // ground input path, resolved once
	opDynRef   // input path with variable keys
	opTemplate // composite constant with bound variables inside
)

type operand struct {
	kind operandKind
	term *ast.Term       // opConst
	slot int             // opVar
	path int             // opPath
	ref  ast.Ref         // opDynRef: input.a[x]
	refs []operand       // opDynRef: the keys
	vars map[ast.Var]int // opTemplate: the slots of the variables in term
}

// errNotFast reports a construct outside the fragment.
type errNotFast struct{ why string }

func (e errNotFast) Error() string { return e.why }

func notFast(format string, args ...any) error {
	return errNotFast{fmt.Sprintf(format, args...)}
}

// Compile builds the fast program for the optimized hits rules c holds
// (data.__pdp_optimized.hits and the support rules partial evaluation
// wrote under data.__pdp_partial), or says why it cannot: the error names
// the first construct outside the fragment.
func Compile(c *ast.Compiler) (*Program, error) {
	p := &Program{pathIdx: map[string]int{}, supIdx: map[string]int{}, caps: c.Capabilities(), memoIdx: map[string]int{}}
	hitsRef := ast.MustParseRef("data." + hits.OptimizedPkg + ".hits")
	interned := map[string]*hits.Hit{}
	for _, r := range c.GetRulesExact(hitsRef) {
		if r.Else != nil || len(r.Head.Args) > 0 {
			return nil, notFast("rule %v has else or arguments", r.Head.Key)
		}
		if r.Head.Key.Value.Compare(ast.String("__never")) == 0 {
			continue
		}
		if v, ok := r.Head.Key.Value.(ast.Var); ok {
			// The head depends on the input: the body binds it.
			vars := map[ast.Var]int{}
			steps, err := p.compileBody(c, r.Body, vars)
			if err != nil {
				return nil, err
			}
			slot, bound := vars[v]
			if !bound {
				return nil, notFast("rule head %v is not bound by its body", v)
			}
			p.nativeNumbers(steps, slot)
			p.rules = append(p.rules, &fastRule{steps: steps, nvars: len(vars), dynHead: slot})
			p.maxVars = max(p.maxVars, len(vars))
			continue
		}
		key, ok := r.Head.Key.Value.(*ast.Array)
		if !ok || key.Len() != 2 || !r.Head.Key.IsGround() {
			return nil, notFast("rule head %v is not a constant", r.Head.Key)
		}
		name, _ := key.Elem(0).Value.(ast.String)
		h, ok := interned[r.Head.Key.String()]
		if !ok {
			parsed, err := hits.ParseHit(string(name), key.Elem(1))
			if err != nil {
				return nil, fmt.Errorf("hit %v: %w", r.Head.Key, err)
			}
			parsed.Key = r.Head.Key
			h = &parsed
			interned[r.Head.Key.String()] = h
		}
		fr := &fastRule{hit: h, dynHead: -1}
		vars := map[ast.Var]int{}
		steps, err := p.compileBody(c, r.Body, vars)
		if err != nil {
			return nil, err
		}
		p.nativeNumbers(steps, -1)
		fr.steps, fr.nvars = steps, len(vars)
		p.maxVars = max(p.maxVars, fr.nvars)
		p.rules = append(p.rules, fr)
	}
	p.clusterRules()
	p.resolveMethods(interned)
	return p, nil
}

// resolveMethods gives every step_up hit without methods of its own the
// methods a constant methods rule names for it, once at load, so that no
// request looks them up. It applies only when methods is a constant (one
// rule with no steps left after indexing).
func (p *Program) resolveMethods(interned map[string]*hits.Hit) {
	var methods *hits.Hit
	for _, r := range p.rules {
		if r.hit == nil {
			continue // a dynamic head: cannot be a constant methods rule
		}
		if r.hit.Name != "methods" {
			continue
		}
		if methods != nil || len(r.steps) > 0 || !p.always(r) {
			return
		}
		methods = r.hit
	}
	if methods == nil {
		return
	}
	for _, h := range interned {
		h.TakeMethods(methods)
	}
}

// always reports whether rule r has no guard on any path.
func (p *Program) always(r *fastRule) bool {
	for ri, x := range p.rules {
		if x != r {
			continue
		}
		for _, idx := range p.index {
			if idx.any[ri/64]&(1<<(ri%64)) == 0 {
				return false
			}
		}
	}
	return true
}

// compileBody compiles a rule body; vars maps locals to slots.
func (p *Program) compileBody(c *ast.Compiler, body ast.Body, vars map[ast.Var]int) ([]fastStep, error) {
	saved := p.origin // a support rule is compiled in the middle of a body
	p.origin = map[int]string{}
	defer func() { p.origin = saved }()
	steps := make([]fastStep, 0, len(body))
	for _, e := range body {
		if len(e.With) > 0 {
			return nil, notFast("with modifier in %v", e)
		}
		s, err := p.compileExpr(c, e, vars)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}

func (p *Program) compileExpr(c *ast.Compiler, e *ast.Expr, vars map[ast.Var]int) (fastStep, error) {
	s := fastStep{negated: e.Negated, loc: e.Location}
	switch t := e.Terms.(type) {
	case *ast.Term:
		if ref, ok := t.Value.(ast.Ref); ok && ref.HasPrefix(ast.Ref{ast.DefaultRootDocument, ast.StringTerm(hits.PartialNS)}) {
			idx, err := p.compileSupport(c, ref)
			if err != nil {
				return s, err
			}
			s.kind, s.sup = stepSupport, idx
			return s, nil
		}
		op, err := p.operand(t, vars, false)
		if err != nil {
			return s, err
		}
		s.kind, s.args = stepTruthy, []operand{op}
		return s, nil
	case []*ast.Term:
		if e.IsEquality() {
			l, r := t[1], t[2]
			_, lv := l.Value.(ast.Var)
			_, rv := r.Value.(ast.Var)
			if rv && !lv { // keep an unbound var on the left
				l, r = r, l
			}
			fresh := isFreshVar(l, vars)
			lo, err := p.operand(l, vars, !e.Negated)
			if err != nil {
				return s, err
			}
			ro, err := p.operand(r, vars, false)
			if err != nil {
				return s, err
			}
			s.kind, s.args = stepEq, []operand{lo, ro}
			if fresh && !e.Negated && ro.kind == opPath {
				p.origin[lo.slot] = "p" + strconv.Itoa(ro.path)
			}
			return s, nil
		}
		name := e.Operator().String()
		bi, ok := ast.BuiltinMap[name]
		fn := topdown.GetBuiltin(name)
		if !ok || fn == nil {
			return s, notFast("call to %s", name)
		}
		if name == "print" || name == "trace" || name == "internal.print" {
			return s, notFast("call to %s", name)
		}
		arity := bi.Decl.Arity()
		ops := t[1:]
		if bi.Decl.Result() == nil && len(ops) != arity || len(ops) < arity || len(ops) > arity+1 {
			return s, notFast("call to %s with %d operands", name, len(ops))
		}
		s.kind, s.fn, s.typeTest = stepCall, fn, typeTests[name]
		s.member, s.contains = name == ast.Member.Name, name == ast.Contains.Name
		if op, ok := comparisons[name]; ok && len(ops) == arity {
			s.kind, s.cmp = stepCompare, op
		} else {
			p.calls = true
		}
		for _, o := range ops[:arity] {
			op, err := p.operand(o, vars, false)
			if err != nil {
				return s, err
			}
			s.args = append(s.args, op)
		}
		if len(ops) == arity+1 {
			fresh := isFreshVar(ops[arity], vars)
			out, err := p.operand(ops[arity], vars, !e.Negated)
			if err != nil {
				return s, err
			}
			s.out = &out
			if fresh && !e.Negated && !bi.Relation && !bi.Nondeterministic {
				p.memoize(&s, name)
			}
		}
		if s.kind == stepCall {
			specializeCall(&s, name)
		}
		return s, nil
	}
	return s, notFast("expression %v", e)
}

// isFreshVar reports whether t is a variable not bound yet in the body.
func isFreshVar(t *ast.Term, vars map[ast.Var]int) bool {
	v, ok := t.Value.(ast.Var)
	if !ok {
		return false
	}
	_, bound := vars[v]
	return !bound
}

// memoize makes a call that binds a fresh variable from constants, input
// paths and other memoized calls a memoized one: every rule body that makes
// the same call (partial evaluation copies a helper such as
// `text := lower(input.context.user_statement)` into each rule that uses
// it) shares one result per evaluation. Relations and nondeterministic
// built-ins are never memoized; a call that fails is not either (it is
// made again, and fails again, as topdown would).
func (p *Program) memoize(s *fastStep, name string) {
	var key strings.Builder
	key.WriteString(name)
	for _, a := range s.args {
		key.WriteByte('\x00')
		switch a.kind {
		case opConst:
			key.WriteByte('c')
			key.WriteString(a.term.String())
		case opPath:
			key.WriteByte('p')
			key.WriteString(strconv.Itoa(a.path))
		case opVar:
			o, ok := p.origin[a.slot]
			if !ok {
				return
			}
			key.WriteString(o)
		default:
			return
		}
	}
	k := key.String()
	idx, ok := p.memoIdx[k]
	if !ok {
		idx = p.memos
		p.memos++
		p.memoIdx[k] = idx
	}
	s.memo = idx + 1
	p.origin[s.out.slot] = "m" + strconv.Itoa(idx)
}

// numericCompare turns an ordering comparison between a numeric path (or a
// variable bound to one: alias maps var slots to paths) and a number
// constant into a stepCompareNum. It reports whether it did.
func (p *Program) numericCompare(s *fastStep, alias map[int]int) bool {
	if s.kind != stepCompare || s.cmp == cmpEqual || s.cmp == cmpNotEqual {
		return false
	}
	a, b := s.args[0], s.args[1]
	constLeft := a.kind == opConst
	if constLeft {
		a, b = b, a
	}
	path, ok := a.path, a.kind == opPath
	if a.kind == opVar {
		path, ok = alias[a.slot]
	}
	if !ok || b.kind != opConst || p.nums[path] == nil {
		return false
	}
	c, ok := numConst(b.term.Value)
	if !ok {
		return false
	}
	s.kind, s.npath, s.nconst, s.constLeft = stepCompareNum, path, c, constLeft
	return true
}

// nativeNumbers rewrites, in one body, the ordering comparisons of a
// numeric path, or of a variable bound from one (`x = input.velocity.uid.
// count_1m; x > 5`, the shape partial evaluation leaves), with a constant
// into stepCompareNum, and a binding used by nothing else into a presence
// check (stepNumDefined), so that the path's term is never built. keep is a var slot something outside the steps
// reads (a rule's head), -1 when none. If the variable was bound before
// that equality (by another step), the equality is a check: a comparison
// reading the path then reads a value equal to the variable's, and the
// check stays, since the earlier step counts as a use.
func (p *Program) nativeNumbers(steps []fastStep, keep int) {
	alias := map[int]int{} // var slot → path
	binding := map[int]int{}
	for i, s := range steps {
		if s.kind == stepEq && !s.negated && s.args[0].kind == opVar && s.args[1].kind == opPath && p.nums[s.args[1].path] != nil {
			if _, seen := alias[s.args[0].slot]; !seen {
				alias[s.args[0].slot], binding[s.args[0].slot] = s.args[1].path, i
			}
		}
	}
	uses := map[int]int{} // var slot → uses outside its binding and native comparisons
	for i := range steps {
		if p.numericCompare(&steps[i], alias) {
			continue
		}
		for _, o := range steps[i].args {
			countVarUses(o, uses)
		}
		if steps[i].out != nil {
			countVarUses(*steps[i].out, uses)
		}
	}
	for slot, i := range binding {
		uses[slot]-- // the binding itself
		if uses[slot] == 0 && slot != keep {
			steps[i] = fastStep{kind: stepNumDefined, npath: alias[slot], loc: steps[i].loc}
		}
	}
}

// countVarUses counts the var slots an operand reads.
func countVarUses(o operand, uses map[int]int) {
	switch o.kind {
	case opVar:
		uses[o.slot]++
	case opTemplate:
		for _, slot := range o.vars {
			uses[slot]++
		}
	case opDynRef:
		for _, k := range o.refs {
			countVarUses(k, uses)
		}
	}
}

// numConst is the float64 of a number constant whose ordering against any
// float64 x is the ordering of the decimals: at most 15 significant digits
// (DBL_DIG: distinct such decimals read as distinct float64s, and reading
// is monotonic) in the normal range. x is written by floatTerm as the
// shortest decimal that reads back as x, so x == c exactly when the two
// decimals are equal, and otherwise they order as x and c do.
func numConst(v ast.Value) (float64, bool) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, false
	}
	s := string(n)
	c, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(c, 0) || math.IsNaN(c) || c != 0 && (math.Abs(c) < 1e-300 || math.Abs(c) > 1e300) {
		return 0, false
	}
	mant := strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		mant = mant[:i]
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.Trim(whole+frac, "0") // leading and trailing zeros only scale
	return c, len(digits) <= 15
}

// operand compiles a term. mayBind lets a new var be bound here (the left
// side of an equality or a call's output); otherwise vars must be bound.
func (p *Program) operand(t *ast.Term, vars map[ast.Var]int, mayBind bool) (operand, error) {
	switch v := t.Value.(type) {
	case ast.Var:
		if slot, ok := vars[v]; ok {
			return operand{kind: opVar, slot: slot}, nil
		}
		if !mayBind {
			return operand{}, notFast("unbound variable %v", v)
		}
		slot := len(vars)
		vars[v] = slot
		return operand{kind: opVar, slot: slot}, nil
	case ast.Ref:
		if !v[0].Equal(ast.InputRootDocument) {
			return operand{}, notFast("reference %v", v)
		}
		if v.IsGround() {
			key := v.String()
			idx, ok := p.pathIdx[key]
			if !ok {
				idx = len(p.paths)
				p.paths = append(p.paths, v)
				p.resolve = append(p.resolve, request.CompilePath(v[1:]))
				p.nums = append(p.nums, request.CompileNum(v[1:]))
				p.pathIdx[key] = idx
			}
			return operand{kind: opPath, path: idx}, nil
		}
		op := operand{kind: opDynRef, ref: v}
		for _, k := range v[1:] {
			ko, err := p.operand(k, vars, false)
			if err != nil {
				return operand{}, err
			}
			op.refs = append(op.refs, ko)
		}
		return op, nil
	}
	if ast.IsComprehension(t.Value) {
		return operand{}, notFast("term %v", t)
	}
	if t.IsGround() {
		return operand{kind: opConst, term: t}, nil
	}
	// A composite with variables inside: every one must be bound already.
	op := operand{kind: opTemplate, term: t, vars: map[ast.Var]int{}}
	var err error
	ast.WalkTerms(t, func(x *ast.Term) bool {
		switch v := x.Value.(type) {
		case ast.Var:
			slot, ok := vars[v]
			if !ok {
				err = notFast("unbound variable %v in %v", v, t)
			}
			op.vars[v] = slot
		case ast.Ref, ast.Call:
			err = notFast("term %v", t)
		}
		return err != nil
	})
	return op, err
}

// compileSupport compiles a support rule (data.__pdp_partial.x), a complete
// boolean rule whose bodies are alternatives.
func (p *Program) compileSupport(c *ast.Compiler, ref ast.Ref) (int, error) {
	key := ref.String()
	if idx, ok := p.supIdx[key]; ok {
		return idx, nil
	}
	rules := c.GetRulesExact(ref)
	if len(rules) == 0 {
		return 0, notFast("support rule %v not found", ref)
	}
	sup := &fastSupport{}
	idx := len(p.support)
	p.support = append(p.support, sup)
	p.supIdx[key] = idx
	for _, r := range rules {
		if r.Else != nil || len(r.Head.Args) > 0 || r.Head.Value == nil || !r.Head.Value.Equal(ast.InternedTerm(true)) {
			return 0, notFast("support rule %v is not a plain boolean rule", ref)
		}
		vars := map[ast.Var]int{}
		steps, err := p.compileBody(c, r.Body, vars)
		if err != nil {
			return 0, err
		}
		p.nativeNumbers(steps, -1)
		sup.bodies = append(sup.bodies, steps)
		sup.nvars = max(sup.nvars, len(vars))
	}
	p.maxVars = max(p.maxVars, sup.nvars)
	return idx, nil
}
