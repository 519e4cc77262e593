package fastpath

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The fast program's rule index: the guards of each rule (equalities,
// memberships, type tests, numeric thresholds) as per-path bitsets, so
// that only the rules that can match a request run (see buildIndex).

type pathIndex struct {
	eq  map[string][]uint64 // guard value key (or type key) → rules that require it
	any []uint64            // rules without a guard on the path
	// touched are the words of the bitsets where some rule has a guard
	// on the path: the only ones a request's value can clear.
	touched []int32
	// typed: some rule requires a type of the path's value (is_string...).
	typed bool
}

// numGuard is an ordering comparison of a numeric path with a constant
// (x op c, the constant on the right) in a rule whose earlier steps cannot
// fail: the rule cannot hold where it does not.
type numGuard struct {
	c  float64
	op uint8
	ri int
}

// maxRangeConsts bounds the distinct constants of one path's range index
// (its bitsets: two per constant).
const maxRangeConsts = 64

// rangeIndex is a path's numeric guards as bitsets: consts are their
// distinct constants, sorted; fail[2k] the rules failing for a value
// below consts[k] (and above consts[k-1]), fail[2k+1] for a value equal
// to consts[k], fail[2n] above them all; undefined the rules failing
// when the path is undefined (every guarded one).
type rangeIndex struct {
	consts    []float64
	fail      [][]uint64
	undefined []uint64
	touched   []int32 // the words where undefined has bits
}

func newRangeIndex(guards []numGuard, words int) *rangeIndex {
	var consts []float64
	for _, g := range guards {
		consts = append(consts, g.c)
	}
	slices.Sort(consts)
	consts = slices.Compact(consts)
	if len(consts) > maxRangeConsts {
		return nil
	}
	x := &rangeIndex{consts: consts, fail: make([][]uint64, 2*len(consts)+1), undefined: make([]uint64, words)}
	for i := range x.fail {
		x.fail[i] = make([]uint64, words)
	}
	for _, g := range guards {
		j, _ := slices.BinarySearch(consts, g.c)
		x.undefined[g.ri/64] |= 1 << (g.ri % 64)
		for i := range x.fail {
			var c int // how a value in interval i compares with g.c
			switch k := i / 2; {
			case i%2 == 1:
				c = cmp.Compare(k, j)
			case k > j:
				c = 1
			default:
				c = -1
			}
			if !ordered(g.op, c) {
				x.fail[i][g.ri/64] |= 1 << (g.ri % 64)
			}
		}
	}
	x.touched = nonZeroWords(x.undefined)
	return x
}

// nonZeroWords returns the indexes of the words of bits that are not 0.
func nonZeroWords(bits []uint64) []int32 {
	var ws []int32
	for w, word := range bits {
		if word != 0 {
			ws = append(ws, int32(w))
		}
	}
	return ws
}

// failing returns the rules whose guards value x fails.
func (x *rangeIndex) failing(v float64) []uint64 {
	k, found := slices.BinarySearch(x.consts, v)
	if found {
		return x.fail[2*k+1]
	}
	return x.fail[2*k]
}

// substringGuard is the guards `contains(x, "needle")` of the rules on
// one value x: an input path, or the result of a memoized call on
// constants and paths (lower(input.context.user_statement)). A rule
// guarded here is a candidate only when x contains its needle: the text
// is scanned once for all the needles (substrings.go), however many rules
// name them.
type substringGuard struct {
	path  int      // x's path; -1 when x is call's result
	call  fastStep // the memoized call, when path < 0
	m     *substrings
	rules []int    // per needle (index in m's set): the rule requiring it
	all   []uint64 // every rule guarded here
	// touched are the words where all has bits.
	touched []int32
}

// buildIndex extracts from each rule its equalities between a ground input
// path and a string or boolean constant, and its memberships of such a path
// in a constant set or array of strings and booleans (the guards), wherever
// they stand in the body, into per-path bitsets, as OPA's rule index uses
// every `ref = constant` of a body. A rule whose guard fails is never run,
// even where an earlier step of it would have raised a built-in error: so
// is it in OPA, whose index skips the rule as written (the policy
// package's errorder.go serves as written every rule whose specialized
// form holds a guard OPA could not index ahead of such a call), and any
// error the fast program does raise is decided again by OPA (the policy
// package's Engine.Evaluate). A guard is taken out of the steps: a rule
// the index selects satisfies it.
func (p *Program) buildIndex() {
	p.guarded, p.numRanges, p.subGuards = nil, nil, nil
	p.words = (len(p.rules) + 63) / 64
	p.index = make([]pathIndex, len(p.paths))
	for i := range p.index {
		p.index[i] = pathIndex{eq: map[string][]uint64{}, any: make([]uint64, p.words)}
	}
	p.ranges = make([][]numGuard, len(p.paths))
	subs := map[string]*substringGuard{}
	var subOrder []*substringGuard
	needles := map[*substringGuard][]string{}
	for ri, r := range p.rules {
		guarded := map[int]bool{}
		steps := r.steps[:0:0]
		safe := true            // no step so far can fail
		alias := map[int]int{}  // var slot → the input path it was bound to
		bound := map[int]bool{} // var slots bound so far
		// mayFail are the steps so far that may fail: the slot a memoized
		// call on constants and paths binds, -1 for any other step.
		var mayFail []int
		producers := map[int]fastStep{} // var slot → the memoized call binding it
		subGuarded := map[string]bool{}
		var sig []string // the rule's guards, for clusterRules
		for _, s := range r.steps {
			if key, g, needle, ok := p.substringGuardOf(s, alias, producers, mayFail); ok && !subGuarded[key] {
				subGuarded[key] = true
				sig = append(sig, "s"+key)
				if subs[key] == nil {
					subs[key] = g
					subOrder = append(subOrder, g)
				}
				g = subs[key]
				g.rules = append(g.rules, ri)
				needles[g] = append(needles[g], needle)
			}
			if !neverFails(s) {
				slot := -1
				if call, ok := beforeRules(s, alias); ok {
					slot = s.out.slot
					producers[slot] = call
				}
				mayFail = append(mayFail, slot)
			}
			if s.kind == stepEq && !s.negated && s.args[0].kind == opVar && !bound[s.args[0].slot] && s.args[1].kind == opPath {
				alias[s.args[0].slot] = s.args[1].path // `x = input.a`, as partial evaluation writes a guard's operand
			}
			if s.kind == stepEq && s.args[0].kind == opVar {
				bound[s.args[0].slot] = true
			}
			if s.out != nil && s.out.kind == opVar {
				bound[s.out.slot] = true
			}
			if safe && s.kind == stepCompareNum && !s.negated {
				op := s.cmp
				if s.constLeft { // c op x is x op' c
					op = map[uint8]uint8{cmpGT: cmpLT, cmpGTE: cmpLTE, cmpLT: cmpGT, cmpLTE: cmpGTE}[op]
				}
				p.ranges[s.npath] = append(p.ranges[s.npath], numGuard{c: s.nconst, op: op, ri: ri})
				sig = append(sig, "n"+strconv.Itoa(s.npath))
			}
			safe = safe && neverFails(s)
			path, keys, ok := guardOf(s, alias)
			if !ok || guarded[path] {
				steps = append(steps, s)
				continue
			}
			if s.typeTest != "" {
				p.index[path].typed = true
			}
			for _, key := range keys {
				bits := p.index[path].eq[key]
				if bits == nil {
					bits = make([]uint64, p.words)
					p.index[path].eq[key] = bits
				}
				bits[ri/64] |= 1 << (ri % 64)
			}
			guarded[path] = true
			sig = append(sig, "e"+strconv.Itoa(path)+"="+strings.Join(keys, "\x01"))
		}
		r.steps = steps
		slices.Sort(sig)
		r.sig = strings.Join(sig, "\x00")
		for path := range p.index {
			if !guarded[path] {
				p.index[path].any[ri/64] |= 1 << (ri % 64)
			}
		}
	}
	for path := range p.index {
		if len(p.index[path].eq) > 0 {
			p.guarded = append(p.guarded, path)
		}
		for w, word := range p.index[path].any {
			if word != ^uint64(0) {
				p.index[path].touched = append(p.index[path].touched, int32(w))
			}
		}
		if len(p.ranges[path]) > 0 {
			p.numRanges = append(p.numRanges, path)
		}
	}
	p.rangeIdx = make([]*rangeIndex, len(p.paths))
	for _, path := range p.numRanges {
		p.rangeIdx[path] = newRangeIndex(p.ranges[path], p.words)
	}
	for _, g := range subOrder {
		g.m = newSubstrings(needles[g])
		g.all = make([]uint64, p.words)
		for _, ri := range g.rules {
			g.all[ri/64] |= 1 << (ri % 64)
		}
		g.touched = nonZeroWords(g.all)
		p.subGuards = append(p.subGuards, g)
	}
}

// substringGuardOf recognizes `contains(x, "needle")` on a value x the
// index can compute before any rule runs (an input path, or a memoized
// call on constants and paths that binds it: producers; or a variable
// bound to a path: alias), in a rule whose
// earlier steps cannot fail but for that call (mayFail): a rule skipped
// because x lacks the needle would have failed at the call or at the
// contains, without an error OPA's evaluator would raise. It returns the
// key of x, its guard (new), and the needle.
func (p *Program) substringGuardOf(s fastStep, alias map[int]int, producers map[int]fastStep, mayFail []int) (string, *substringGuard, string, bool) {
	if s.kind != stepCall || !s.contains || s.negated || s.out != nil || len(s.args) != 2 || s.args[1].kind != opConst {
		return "", nil, "", false
	}
	needle, ok := s.args[1].term.Value.(ast.String)
	if !ok {
		return "", nil, "", false
	}
	x := aliased(s.args[0], alias)
	g := &substringGuard{path: -1}
	var key string
	var producer int
	switch x.kind {
	case opPath:
		g.path, key, producer = x.path, "p"+strconv.Itoa(x.path), -2
	case opVar:
		call, ok := producers[x.slot]
		if !ok {
			return "", nil, "", false
		}
		g.call, key, producer = call, "m"+strconv.Itoa(call.memo), x.slot
	default:
		return "", nil, "", false
	}
	for _, slot := range mayFail {
		if slot != producer {
			return "", nil, "", false
		}
	}
	return key, g, string(needle), true
}

// beforeRules returns memoized call s as it can be made before any rule
// runs: its operands constants and input paths (a variable bound to a path
// replaced by the path).
func beforeRules(s fastStep, alias map[int]int) (fastStep, bool) {
	if s.memo == 0 {
		return s, false
	}
	args := make([]operand, len(s.args))
	for i, a := range s.args {
		if args[i] = aliased(a, alias); args[i].kind != opConst && args[i].kind != opPath {
			return s, false
		}
	}
	s.args = args
	return s, true
}

// clusterRules orders the rules by their guards (indexing them first to
// learn those) and indexes them again in that order: rules guarded alike
// sit side by side in the bitsets, so that a request's value for a path
// clears the few words of the rules guarded on it (pathIndex.touched), not
// every word. The order of the rules changes no answer: the hits are
// collected in OPA's order (Program.eval).
func (p *Program) clusterRules() {
	steps := make(map[*fastRule][]fastStep, len(p.rules))
	for _, r := range p.rules {
		steps[r] = r.steps
	}
	p.buildIndex()
	slices.SortStableFunc(p.rules, func(a, b *fastRule) int { return strings.Compare(a.sig, b.sig) })
	for _, r := range p.rules {
		r.steps = steps[r]
	}
	p.buildIndex()
}

// aliased is o, or the input path o's variable was bound to.
func aliased(o operand, alias map[int]int) operand {
	if path, ok := alias[o.slot]; ok && o.kind == opVar {
		return operand{kind: opPath, path: path}
	}
	return o
}

// neverFails reports whether a step raises no error whatever the input:
// equalities, comparisons and presence checks (lookups and comparisons of
// values never fail; calls and support rules may).
func neverFails(s fastStep) bool {
	switch s.kind {
	case stepEq, stepCompare, stepCompareNum, stepNumDefined, stepTruthy:
		return true
	case stepCall:
		return s.member || s.typeTest != ""
	}
	return false
}

// typeTests are the type-test built-ins and the type each holds for
// (ast.TypeName of the value).
var typeTests = map[string]string{
	ast.IsString.Name: "string", ast.IsNumber.Name: "number", ast.IsBoolean.Name: "boolean",
	ast.IsArray.Name: "array", ast.IsSet.Name: "set", ast.IsObject.Name: "object", ast.IsNull.Name: "null",
}

// typeKey is the index key of a type test's type.
func typeKey(typ string) string { return "T" + typ }

// guardOf recognizes `input.path = "const"` (or a boolean constant, either
// side, unification or equal), `input.path in {"a", "b"}` (a set or an
// array of such constants) and a type test `is_string(input.path)`: the
// path and the index keys it may take. A variable bound to an input path
// (alias) stands for it, but in a unification, which may be its binding.
func guardOf(s fastStep, alias map[int]int) (int, []string, bool) {
	if s.negated || len(s.args) == 0 || len(s.args) > 2 {
		return 0, nil, false
	}
	a, b := s.args[0], s.args[len(s.args)-1]
	if s.kind != stepEq { // an equality's var on the left may be the binding itself
		a, b = aliased(a, alias), aliased(b, alias)
	}
	switch {
	case len(s.args) == 2 && (s.kind == stepEq || s.kind == stepCompare && s.cmp == cmpEqual):
		if a.kind == opConst {
			a, b = b, a
		}
		if a.kind != opPath || b.kind != opConst {
			return 0, nil, false
		}
		key, ok := valueKey(b.term.Value)
		return a.path, []string{key}, ok
	case s.kind == stepCall && s.out == nil && s.typeTest != "" && len(s.args) == 1:
		if a.kind != opPath {
			return 0, nil, false
		}
		return a.path, []string{typeKey(s.typeTest)}, true
	case len(s.args) == 2 && s.kind == stepCall && s.out == nil && s.member:
		if a.kind != opPath || b.kind != opConst {
			return 0, nil, false
		}
		var keys []string
		ok := true
		each := func(t *ast.Term) {
			key, isKey := valueKey(t.Value)
			ok = ok && isKey
			keys = append(keys, key)
		}
		switch c := b.term.Value.(type) {
		case ast.Set:
			c.Foreach(each)
		case *ast.Array:
			c.Foreach(each)
		default:
			return 0, nil, false
		}
		return a.path, keys, ok && len(keys) > 0
	}
	return 0, nil, false
}

// valueKey is the index key of strings and booleans: exact equality on
// these is exact equality of the key.
func valueKey(v ast.Value) (string, bool) {
	switch x := v.(type) {
	case ast.String:
		return "s" + string(x), true
	case ast.Boolean:
		if x {
			return "t", true
		}
		return "f", true
	}
	return "", false
}
