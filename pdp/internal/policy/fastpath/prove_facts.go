package fastpath

import (
	"encoding/json"
	"maps"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// What a fast program compares the input with, read from its steps (the
// first half of the proof at load: prove_inputs.go builds the inputs).

// bodyFacts is what one rule body (or support rule body) compares the
// input with.
type bodyFacts struct {
	want    map[int]*ast.Term   // a value of each path that makes the body's step on it hold
	values  map[int][]*ast.Term // values worth trying per path
	paths   []int               // the paths the body reads, in order
	sups    []int               // support rules it reads
	posSups []int               // support rules it needs to hold
	rels    []relation          // comparisons between two paths
}

// relation is `path a <cmp> path b`.
type relation struct {
	a, b int
	cmp  uint8
}

func newBodyFacts() *bodyFacts {
	return &bodyFacts{want: map[int]*ast.Term{}, values: map[int][]*ast.Term{}}
}

func (f *bodyFacts) touch(path int) {
	if !slices.Contains(f.paths, path) {
		f.paths = append(f.paths, path)
	}
}

func (f *bodyFacts) add(path int, vs ...*ast.Term) {
	f.touch(path)
	for _, v := range vs {
		if v == nil || len(f.values[path]) >= maxValuesPerPath {
			continue
		}
		if !slices.ContainsFunc(f.values[path], func(x *ast.Term) bool { return x == v || x != absent && v != absent && x.Equal(v) }) {
			f.values[path] = append(f.values[path], v)
		}
	}
}

func (f *bodyFacts) wants(path int, v *ast.Term) {
	if _, ok := f.want[path]; !ok && v != nil {
		f.want[path] = v
	}
}

// bodyScan follows the variables of one body: which path a variable is
// (alias) and which paths it was computed from (src).
type bodyScan struct {
	f     *bodyFacts
	alias map[int]int
	src   map[int][]int
	bound map[int]bool
}

// sources returns the path an operand is (-1 if none) and the paths its
// value depends on.
func (b *bodyScan) sources(o operand) (int, []int) {
	switch o.kind {
	case opPath:
		return o.path, []int{o.path}
	case opVar:
		if p, ok := b.alias[o.slot]; ok {
			return p, []int{p}
		}
		return -1, b.src[o.slot]
	case opTemplate:
		var ps []int
		for _, slot := range slices.Sorted(maps.Values(o.vars)) {
			if p, ok := b.alias[slot]; ok {
				ps = append(ps, p)
			}
			ps = append(ps, b.src[slot]...)
		}
		return -1, ps
	case opDynRef:
		var ps []int
		for _, k := range o.refs {
			_, kp := b.sources(k)
			ps = append(ps, kp...)
		}
		return -1, ps
	}
	return -1, nil
}

// facts scans a body. guards are the values the rule's index guards (the
// equalities and memberships buildIndex took out of its steps) allow, by
// path; nil for a support body.
func (p *Program) facts(steps []fastStep, guards map[int][]*ast.Term) *bodyFacts {
	b := &bodyScan{f: newBodyFacts(), alias: map[int]int{}, src: map[int][]int{}, bound: map[int]bool{}}
	f := b.f
	for _, path := range slices.Sorted(maps.Keys(guards)) {
		vals := guards[path]
		f.wants(path, vals[0])
		f.add(path, vals...)
		f.add(path, otherThan(vals[0]), absent)
	}
	for i := range steps {
		b.step(&steps[i])
	}
	return f
}

// ruleGuards inverts the program's index: per rule, the values each
// guarded path may take.
func (p *Program) ruleGuards() []map[int][]*ast.Term {
	guards := make([]map[int][]*ast.Term, len(p.rules))
	for path := range p.index {
		for _, key := range slices.Sorted(maps.Keys(p.index[path].eq)) {
			for w, word := range p.index[path].eq[key] {
				for word != 0 {
					ri := w*64 + bits.TrailingZeros64(word)
					word &= word - 1
					if guards[ri] == nil {
						guards[ri] = map[int][]*ast.Term{}
					}
					guards[ri][path] = append(guards[ri][path], keyTerm(key))
				}
			}
		}
	}
	return guards
}

func (b *bodyScan) step(s *fastStep) {
	f := b.f
	switch s.kind {
	case stepEq:
		a, c := s.args[0], s.args[1]
		if a.kind == opVar && !b.bound[a.slot] {
			b.bound[a.slot] = true
			if s.negated {
				return
			}
			d, ps := b.sources(c)
			if d >= 0 {
				b.alias[a.slot] = d
				f.touch(d)
			}
			b.src[a.slot] = ps
			return
		}
		b.compare(cmpEqual, s.negated, a, c)
	case stepCompare:
		b.compare(s.cmp, s.negated, s.args[0], s.args[1])
	case stepCompareNum:
		c, op := s.args[1].term, s.cmp
		if s.constLeft {
			c, op = s.args[0].term, flipCmp(op)
		}
		b.pathConst(s.npath, op, s.negated, c)
	case stepNumDefined:
		f.add(s.npath, absent)
	case stepTruthy:
		if d, ps := b.sources(s.args[0]); d >= 0 {
			f.add(d, ast.InternedTerm(true), ast.InternedTerm(false), absent)
			if !s.negated {
				f.wants(d, ast.InternedTerm(true))
			}
		} else {
			b.derived(ps, ast.InternedTerm(true))
		}
	case stepSupport:
		f.sups = append(f.sups, s.sup)
		if !s.negated {
			f.posSups = append(f.posSups, s.sup)
		}
	case stepSubstrings:
		_, ps := b.sources(s.args[1])
		if pattern, ok := s.args[0].term.Value.(ast.String); ok {
			if lits, ok := literalAlternation(string(pattern)); ok && len(lits) > 0 {
				picked := []string{lits[0], lits[len(lits)/2], lits[len(lits)-1]}
				for _, l := range picked {
					b.derived(ps, ast.StringTerm(l), ast.StringTerm("x "+strings.ToUpper(l)+" y"))
				}
			}
		}
	case stepCall:
		b.call(s)
	}
}

// call notes a built-in call's constants as values of the paths its
// operands come from, and makes its output depend on them.
func (b *bodyScan) call(s *fastStep) {
	f := b.f
	if s.member && s.out == nil && len(s.args) == 2 && s.args[1].kind == opConst {
		if d, ps := b.sources(s.args[0]); d >= 0 || len(ps) > 0 {
			var elems []*ast.Term
			switch c := s.args[1].term.Value.(type) {
			case ast.Set:
				c.Foreach(func(t *ast.Term) { elems = append(elems, t) })
			case *ast.Array:
				c.Foreach(func(t *ast.Term) { elems = append(elems, t) })
			case ast.Object:
				c.Foreach(func(_, t *ast.Term) { elems = append(elems, t) })
			}
			if d >= 0 {
				f.add(d, elems...)
				f.add(d, absent)
				if len(elems) > 0 {
					f.add(d, otherThan(elems[0]))
					if !s.negated {
						f.wants(d, elems[0])
					}
				}
			} else {
				b.derived(ps, elems...)
			}
			return
		}
	}
	if s.fn != nil && reflect.ValueOf(s.fn).Pointer() == objectGet && len(s.args) == 3 && s.args[1].kind == opConst {
		// object.get(input.x, "k", default): input.x with k set to the
		// default, to another value, and without k.
		if d, _ := b.sources(s.args[0]); d >= 0 && s.args[2].kind == opConst {
			k, dflt := s.args[1].term, s.args[2].term
			f.add(d, ast.ObjectTerm([2]*ast.Term{k, dflt}), ast.ObjectTerm(), absent)
			if o := otherThan(dflt); o != nil {
				f.add(d, ast.ObjectTerm([2]*ast.Term{k, o}))
			}
			if s.out != nil && s.out.kind == opVar && !b.bound[s.out.slot] {
				b.bound[s.out.slot] = true
				b.src[s.out.slot] = []int{d}
			}
			return
		}
	}
	var consts []*ast.Term
	var ps []int
	for _, a := range s.args {
		if a.kind == opConst {
			consts = append(consts, a.term)
			continue
		}
		d, aps := b.sources(a)
		if d >= 0 {
			f.add(d, absent)
		}
		ps = append(ps, aps...)
	}
	if s.out != nil {
		if s.out.kind == opVar && !b.bound[s.out.slot] {
			b.bound[s.out.slot] = true
			if !s.negated {
				b.src[s.out.slot] = ps
			}
		} else if s.out.kind == opConst {
			consts = append(consts, s.out.term)
		}
	}
	b.derived(ps, consts...)
}

// objectGet identifies OPA's object.get in a call step.
var objectGet = reflect.ValueOf(topdown.GetBuiltin("object.get")).Pointer()

// derived notes constants a computed value is compared with, and what
// makes them read by the calls in between (a number as a string for
// to_number, the string of a number), as values of the paths it comes
// from.
func (b *bodyScan) derived(ps []int, consts ...*ast.Term) {
	for _, p := range ps {
		for _, c := range consts {
			b.f.add(p, c)
			b.f.add(p, crossType(c)...)
		}
	}
}

// compare notes a comparison between two operands.
func (b *bodyScan) compare(op uint8, negated bool, x, y operand) {
	if x.kind == opConst {
		x, y, op = y, x, flipCmp(op)
	}
	dx, px := b.sources(x)
	if y.kind == opConst {
		if dx >= 0 {
			b.pathConst(dx, op, negated, y.term)
		} else {
			b.derived(px, y.term)
			if n, ok := y.term.Value.(ast.Number); ok {
				for _, v := range neighbours(n) {
					b.derived(px, v)
				}
			}
		}
		return
	}
	dy, _ := b.sources(y)
	if dx >= 0 && dy >= 0 {
		b.f.touch(dx)
		b.f.touch(dy)
		b.f.rels = append(b.f.rels, relation{a: dx, b: dy, cmp: op})
	}
}

// pathConst notes `path <op> c`.
func (b *bodyScan) pathConst(path int, op uint8, negated bool, c *ast.Term) {
	f := b.f
	f.add(path, c)
	if n, ok := c.Value.(ast.Number); ok {
		f.add(path, neighbours(n)...)
	}
	f.add(path, otherThan(c), absent)
	f.add(path, crossType(c)...)
	if !negated {
		f.wants(path, satisfying(op, c))
	}
}

// flipCmp is the comparison with its operands swapped.
func flipCmp(op uint8) uint8 {
	switch op {
	case cmpGT:
		return cmpLT
	case cmpGTE:
		return cmpLTE
	case cmpLT:
		return cmpGT
	case cmpLTE:
		return cmpGTE
	}
	return op
}

// keyTerm is the constant of an index key (valueKey).
func keyTerm(key string) *ast.Term {
	switch key {
	case "t":
		return ast.InternedTerm(true)
	case "f":
		return ast.InternedTerm(false)
	}
	return ast.StringTerm(strings.TrimPrefix(key, "s"))
}

// addNumber is n + d, written as the shortest decimal.
func addNumber(n ast.Number, d float64) *ast.Term {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f+d, 0) {
		return nil
	}
	return ast.NumberTerm(json.Number(strconv.FormatFloat(f+d, 'g', -1, 64)))
}

// neighbours are the values next to a threshold.
func neighbours(n ast.Number) []*ast.Term {
	return []*ast.Term{addNumber(n, -1), addNumber(n, 1), addNumber(n, -0.01), addNumber(n, 0.01)}
}

// otherThan is a value of the same type unequal to c; a string keeps its
// length and the class of its last character (a currency code stays a
// currency code the decoder accepts).
func otherThan(c *ast.Term) *ast.Term {
	switch v := c.Value.(type) {
	case ast.Number:
		return addNumber(v, 1)
	case ast.String:
		if v == "" {
			return ast.StringTerm("x")
		}
		b := []byte(v)
		i := len(b) - 1
		switch c := b[i]; {
		case c == 'z', c == 'Z', c == '9':
			b[i] = map[byte]byte{'z': 'a', 'Z': 'A', '9': '0'}[c]
		case c >= 'a' && c < 'z', c >= 'A' && c < 'Z', c >= '0' && c < '9':
			b[i]++
		default:
			return ast.StringTerm(string(v) + "x")
		}
		return ast.StringTerm(string(b))
	case ast.Boolean:
		return ast.InternedTerm(!bool(v))
	}
	return nil
}

// crossType are the values of other types a comparison with c may meet:
// a number as a string and a numeric string as a number.
func crossType(c *ast.Term) []*ast.Term {
	switch v := c.Value.(type) {
	case ast.Number:
		return []*ast.Term{ast.StringTerm(string(v))}
	case ast.String:
		if _, err := strconv.ParseFloat(string(v), 64); err == nil && json.Valid([]byte(v)) {
			return []*ast.Term{ast.NumberTerm(json.Number(v))}
		}
	}
	return nil
}

// satisfying is a value x such that `x <op> c` holds.
func satisfying(op uint8, c *ast.Term) *ast.Term {
	switch op {
	case cmpEqual, cmpGTE, cmpLTE:
		return c
	case cmpNotEqual:
		return otherThan(c)
	}
	switch v := c.Value.(type) {
	case ast.Number:
		if op == cmpGT {
			return addNumber(v, 1)
		}
		return addNumber(v, -1)
	case ast.String:
		if op == cmpGT {
			return ast.StringTerm(string(v) + "z")
		}
		if v != "" {
			return ast.StringTerm("")
		}
	}
	return nil
}
