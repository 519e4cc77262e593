package fastpath

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Building the proof's inputs from what the program compares the input
// with (prove_facts.go). The policy package runs the program and OPA's
// evaluator on the policy as written on them at every load (its prove.go):
// a fast program that differs from OPA only past a threshold, on one
// currency or when a field is missing would pass its five smoke requests.
// So the inputs are made from what the program compares the input with:
//
//   - every rule, and every body of a support rule, gets an input that
//     satisfies what it checks (its guards' values, a value past each
//     threshold, the values its support rules need), then one input per
//     path it reads with that path changed: to each constant the body
//     compares it with, each numeric threshold and its neighbours (±1,
//     ±0.01), the other side of each equality, the constants of the calls
//     it goes through (a keyword, a number written as a string), the
//     constants the specialized rules compare the path with as partial
//     evaluation wrote them (a constant the program's compiler dropped is
//     still tried), and missing;
//   - every path alone, with the values any rule compares it with and
//     values of other types (null, a string, a number, an array...), and
//     each stage.
//
// Rules take turns (one input each, then the next one each...), so that a
// policy with more rules than the budget still has every rule's first
// inputs checked.

// maxValuesPerPath bounds the values one body contributes for one path.
const maxValuesPerPath = 24

// absent stands, in an assignment, for a path that is missing.
var absent = &ast.Term{Value: ast.Null{}}

// shapes are values of every JSON type, tried on every path alone.
var shapes = []*ast.Term{ast.NullTerm(), ast.InternedTerm(true), ast.InternedTerm(false), ast.StringTerm(""), ast.StringTerm("x"),
	ast.InternedTerm(0), ast.InternedTerm(-1), ast.NumberTerm("0.5"), ast.ArrayTerm(ast.StringTerm("x")), ast.ObjectTerm()}

// assignment gives paths (by index) values; absent removes one.
type assignment map[int]*ast.Term

// unit is one body's inputs: a base assignment, then variations of it.
type unit struct {
	base assignment
	vars []variation
}

// variation changes the base: one path to a value, or several (a support
// body's wants).
type variation struct {
	path  int
	value *ast.Term
	more  assignment
}

func (u *unit) at(i int) assignment {
	a := make(assignment, len(u.base)+1)
	for k, v := range u.base {
		a[k] = v
	}
	if i == 0 {
		return a
	}
	v := u.vars[i-1]
	if v.more != nil {
		for k, x := range v.more {
			a[k] = x
		}
	} else {
		a[v.path] = v.value
	}
	return a
}

func (u *unit) len() int { return 1 + len(u.vars) }

// proofUnits builds the units of every rule and support body, and of
// every path alone. written are the values the specialized rules compare
// each path with (writtenValues).
func (p *Program) proofUnits(written map[int][]*ast.Term) []*unit {
	sup := make([][]*bodyFacts, len(p.support))
	for i, s := range p.support {
		for _, body := range s.bodies {
			sup[i] = append(sup[i], p.facts(body, nil))
		}
	}
	var units []*unit
	all := newBodyFacts()
	collect := func(f *bodyFacts) {
		for _, path := range f.paths {
			all.add(path, f.values[path]...)
		}
	}
	guards := p.ruleGuards()
	for ri, r := range p.rules {
		f := p.facts(r.steps, guards[ri])
		collect(f)
		units = append(units, p.unitOf(f, sup, written))
	}
	for _, bodies := range sup {
		for _, f := range bodies {
			collect(f)
			units = append(units, p.unitOf(f, sup, written))
		}
	}
	for path, vs := range written {
		all.add(path, vs...)
	}
	// Every path alone, with any rule's values and every type.
	for path := range p.paths {
		u := &unit{base: assignment{}}
		for _, v := range append(slices.Clone(all.values[path]), shapes...) {
			u.vars = append(u.vars, variation{path: path, value: v})
		}
		units = append(units, u)
	}
	if stage, ok := p.pathIdx["input.stage"]; ok {
		u := &unit{base: assignment{}}
		for _, s := range pdp.Stages {
			u.vars = append(u.vars, variation{path: stage, value: ast.StringTerm(s.String())})
		}
		units = append(units, u)
	}
	return units
}

// unitOf builds the inputs of one body: f's wants and those of the
// support rules it needs, the relations between paths satisfied, then
// each path it or its support rules read changed to each of their values,
// and each support body's wants added.
func (p *Program) unitOf(f *bodyFacts, sup [][]*bodyFacts, written map[int][]*ast.Term) *unit {
	base := assignment{}
	for k, v := range f.want {
		base[k] = v
	}
	seen := map[int]bool{}
	var needs func(sups []int, depth int)
	needs = func(sups []int, depth int) {
		for _, s := range sups {
			if seen[s] || depth > 4 || len(sup[s]) == 0 {
				continue
			}
			seen[s] = true
			first := sup[s][0]
			for k, v := range first.want {
				if _, ok := base[k]; !ok {
					base[k] = v
				}
			}
			needs(first.posSups, depth+1)
		}
	}
	needs(f.posSups, 0)
	for _, r := range f.rels {
		if base[r.b] == nil {
			base[r.b] = ast.InternedTerm(100)
		}
		if base[r.a] == nil {
			base[r.a] = satisfying(r.cmp, base[r.b])
		}
	}
	u := &unit{base: base}
	values := map[int][]*ast.Term{}
	var order, read []int
	var reads func(g *bodyFacts, depth int)
	reads = func(g *bodyFacts, depth int) {
		for _, path := range g.paths {
			if !slices.Contains(order, path) {
				order = append(order, path)
			}
			values[path] = append(values[path], g.values[path]...)
		}
		for _, s := range g.sups {
			if slices.Contains(read, s) || depth > 4 {
				continue
			}
			read = append(read, s)
			for _, body := range sup[s] {
				reads(body, depth+1)
			}
		}
	}
	reads(f, 0)
	for _, r := range f.rels {
		if base[r.b] == nil {
			continue
		}
		if n, ok := base[r.b].Value.(ast.Number); ok {
			values[r.a] = append(values[r.a], base[r.b])
			values[r.a] = append(values[r.a], neighbours(n)...)
		}
	}
	// The paths take turns too: a budget that ends early still changed
	// each path to its first values (the constant, then its neighbours).
	perPath := make([][]*ast.Term, len(order))
	for j, path := range order {
		vs := append(append(slices.Clip(values[path]), written[path]...), absent)
		for i, v := range vs {
			if v != nil && slices.IndexFunc(vs[:i], func(x *ast.Term) bool { return x == v || x != nil && x != absent && v != absent && x.Equal(v) }) < 0 {
				perPath[j] = append(perPath[j], v)
			}
		}
	}
	for i, more := 0, true; more; i++ {
		more = false
		for j, path := range order {
			if i < len(perPath[j]) {
				u.vars = append(u.vars, variation{path: path, value: perPath[j][i]})
				more = true
			}
		}
	}
	for _, s := range read {
		for _, body := range sup[s] {
			if len(body.want) > 0 {
				u.vars = append(u.vars, variation{more: body.want})
			}
		}
	}
	return u
}

// writtenValues reads the constants the specialized rules (hits and
// support rules, as partial evaluation wrote them) compare each input path
// of the program with: every scalar constant, or member of a constant
// collection, in an expression that reads the path (or a variable bound
// to it). They are the program's constants too, read from the rules
// rather than from what the program's compiler made of them: a constant
// it drops is still tried.
func (p *Program) writtenValues(c *ast.Compiler) map[int][]*ast.Term {
	out := map[int][]*ast.Term{}
	var rules []*ast.Rule
	rules = append(rules, c.GetRulesExact(ast.MustParseRef("data."+hits.OptimizedPkg+".hits"))...)
	rules = append(rules, c.GetRulesWithPrefix(ast.Ref{ast.DefaultRootDocument, ast.StringTerm(hits.PartialNS)})...)
	for _, r := range rules {
		alias := map[ast.Var]int{}
		for _, e := range r.Body {
			if e.IsEquality() && !e.Negated {
				for _, side := range [][2]*ast.Term{{e.Operand(0), e.Operand(1)}, {e.Operand(1), e.Operand(0)}} {
					if v, ok := side[0].Value.(ast.Var); ok {
						if i, ok := p.pathOf(side[1]); ok {
							alias[v] = i
						}
					}
				}
			}
			var paths []int
			var consts []*ast.Term
			ast.WalkTerms(e, func(t *ast.Term) bool {
				switch v := t.Value.(type) {
				case ast.Ref:
					if i, ok := p.pathOf(t); ok {
						paths = append(paths, i)
					}
					return true
				case ast.Var:
					if i, ok := alias[v]; ok {
						paths = append(paths, i)
					}
				case ast.String:
					if len(v) <= 256 {
						consts = append(consts, t)
					}
				case ast.Number, ast.Boolean, ast.Null:
					consts = append(consts, t)
				}
				return false
			})
			for _, i := range paths {
				for _, k := range consts {
					out[i] = appendNew(out[i], k)
					out[i] = appendNew(out[i], crossType(k)...)
					if n, ok := k.Value.(ast.Number); ok {
						out[i] = appendNew(out[i], neighbours(n)...)
					}
				}
			}
		}
	}
	return out
}

// pathOf is the index of t when it is one of the program's input paths.
func (p *Program) pathOf(t *ast.Term) (int, bool) {
	ref, ok := t.Value.(ast.Ref)
	if !ok || !ref.HasPrefix(ast.InputRootRef) {
		return 0, false
	}
	i, ok := p.pathIdx[ref.String()]
	return i, ok
}

// appendNew appends the terms of vs not in list (up to maxValuesPerPath).
func appendNew(list []*ast.Term, vs ...*ast.Term) []*ast.Term {
	for _, v := range vs {
		if v != nil && len(list) < maxValuesPerPath && !slices.ContainsFunc(list, v.Equal) {
			list = append(list, v)
		}
	}
	return list
}

// ProofInput is an input built for the proof, as the decision log would
// keep it (the request body and the sidecar's additions), and decoded.
type ProofInput struct {
	Body, Enrichment []byte
	In               *request.Input
}

// ProofInputs builds, from what the program compares the input with, at
// most max distinct inputs the decoder (with limits lim, at time now)
// accepts, the units taking turns (see the top of this file). c is the
// compiler the program was compiled from.
func (p *Program) ProofInputs(c *ast.Compiler, max int, now time.Time, lim request.Limits) []ProofInput {
	units := p.proofUnits(p.writtenValues(c))
	w := newInputWriter(p)
	seen := map[string]bool{}
	var out []ProofInput
	for round := 0; len(out) < max; round++ {
		more := false
		for _, u := range units {
			if round >= u.len() {
				continue
			}
			more = true
			body, enr, ok := w.encode(u.at(round))
			if !ok {
				continue
			}
			key := string(body) + "\x00" + string(enr)
			if seen[key] {
				continue
			}
			seen[key] = true
			in, err := request.ReplayInput(body, now, enr, lim)
			if err != nil {
				continue
			}
			out = append(out, ProofInput{Body: body, Enrichment: enr, In: in})
			if len(out) == max {
				break
			}
		}
		if !more {
			break
		}
	}
	return out
}

// enrichmentKeys are the input keys the sidecar adds (record.go's
// additions object).
var enrichmentKeys = map[string]bool{"reputation": true, "velocity": true, "verification": true, "account_state": true,
	"scores": true, "scores_unavailable": true, "state_unknown": true}

// inputWriter writes assignments of a program's paths as inputs.
type inputWriter struct {
	keys  [][]string // per path: its keys below input, nil when one is not a string
	order []int      // the paths, parents before children
	rank  []int      // per path: its place in order
	txn   map[string]int
}

func newInputWriter(p *Program) *inputWriter {
	w := &inputWriter{keys: make([][]string, len(p.paths)), rank: make([]int, len(p.paths)), txn: map[string]int{}}
	for i, ref := range p.paths {
		w.order = append(w.order, i)
		if keys, ok := stringKeys(ref[1:]); ok && len(keys) > 0 {
			w.keys[i] = keys
			if len(keys) == 2 && keys[0] == "txn" {
				w.txn[keys[1]] = i
			}
		}
	}
	slices.SortFunc(w.order, func(x, y int) int {
		if c := len(p.paths[x]) - len(p.paths[y]); c != 0 {
			return c
		}
		return p.paths[x].Compare(p.paths[y])
	})
	for r, i := range w.order {
		w.rank[i] = r
	}
	return w
}

// encode writes an assignment as a request body and the sidecar's
// additions (what ReplayInput reads), filling in what a request needs
// (stage, uid, a transaction for a money stage). ok is false when the
// assignment cannot be written.
func (w *inputWriter) encode(a assignment) (body, enr []byte, ok bool) {
	paths := make([]int, 0, len(a))
	for i := range a {
		paths = append(paths, i)
	}
	slices.SortFunc(paths, func(x, y int) int { return w.rank[x] - w.rank[y] })
	req, add, derived := map[string]any{}, map[string]any{}, map[string]any{}
	var money, outflow *bool
	for _, i := range paths {
		keys, v := w.keys[i], a[i]
		if keys == nil || v == nil {
			continue
		}
		var x any
		if v != absent {
			j, err := ast.JSON(v.Value)
			if err != nil {
				continue
			}
			x = j
		}
		switch {
		case keys[0] == "derived" && len(keys) == 2 && (keys[1] == "money" || keys[1] == "outflow"):
			if b, isBool := x.(bool); isBool {
				if keys[1] == "money" {
					money = &b
				} else {
					outflow = &b
				}
			}
		case keys[0] == "derived":
			if len(keys) == 2 {
				setPath(derived, keys[1:], x, v == absent)
			}
		case enrichmentKeys[keys[0]]:
			setPath(add, keys, x, v == absent)
		default:
			setPath(req, keys, x, v == absent)
		}
	}
	if _, set := req["stage"]; !set {
		switch {
		case money != nil && !*money:
			req["stage"] = "login"
		case outflow != nil && !*outflow:
			req["stage"] = "order"
		default:
			req["stage"] = "payment"
		}
	}
	if _, set := req["uid"]; !set {
		req["uid"] = "u"
	}
	if st, isString := req["stage"].(string); isString && st != "login" {
		txn, set := req["txn"]
		if !set {
			txn = map[string]any{}
			req["txn"] = txn
		}
		if t, isObject := txn.(map[string]any); isObject {
			for k, v := range map[string]any{"id": "t", "amount": 100, "currency": "CNY"} {
				if i, read := w.txn[k]; read && a[i] == absent {
					continue // the assignment removes it
				}
				if _, set := t[k]; !set {
					t[k] = v
				}
			}
		}
	}
	if len(derived) > 0 {
		for k, v := range map[string]any{"account_age_days": -1, "sensitive_change_hours": -1} {
			if _, set := derived[k]; !set {
				derived[k] = v
			}
		}
		add["derived"] = derived
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, false
	}
	if len(add) > 0 {
		if enr, err = json.Marshal(add); err != nil {
			return nil, nil, false
		}
	}
	return body, enr, true
}

func stringKeys(ref ast.Ref) ([]string, bool) {
	keys := make([]string, len(ref))
	for i, t := range ref {
		s, ok := t.Value.(ast.String)
		if !ok {
			return nil, false
		}
		keys[i] = string(s)
	}
	return keys, true
}

// setPath sets (or, when remove, deletes) root.<keys>, creating the
// objects on the way; a value that is not an object on the way leaves
// root as it is.
func setPath(root map[string]any, keys []string, v any, remove bool) {
	m := root
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k]
		if !ok {
			if remove {
				return
			}
			child := map[string]any{}
			m[k] = child
			m = child
			continue
		}
		child, isObject := next.(map[string]any)
		if !isObject {
			return
		}
		m = child
	}
	last := keys[len(keys)-1]
	if remove {
		delete(m, last)
		return
	}
	m[last] = v
}
