package fastpath

import "github.com/open-policy-agent/opa/v1/ast"

// Breaking a compiled program the ways a compiler bug would, for tests
// only: the policy package's tests hold the proof at load and the
// production watch to catching such a program. They need an Engine, which
// imports this package, so they live in the policy package and reach the
// program's internals through these methods; nothing else calls them.
// Each reports whether it found what it breaks.

// comparisonOps names the comparison operators for the Break methods.
var comparisonOps = map[string]uint8{"gt": cmpGT, "gte": cmpGTE, "lt": cmpLT, "lte": cmpLTE}

// ruleSteps returns the steps of the first rule whose constant hit has
// the reason code reason.
func (p *Program) ruleSteps(reason string) []fastStep {
	for _, r := range p.rules {
		if r.hit != nil && r.hit.Reason() == reason {
			return r.steps
		}
	}
	return nil
}

// numStep returns the first native numeric comparison of the rule whose
// hit is reason.
func (p *Program) numStep(reason string) *fastStep {
	steps := p.ruleSteps(reason)
	for i := range steps {
		if steps[i].kind == stepCompareNum {
			return &steps[i]
		}
	}
	return nil
}

// BreakCompare makes the native comparison of the rule whose hit is
// reason use op ("gt", "gte", "lt", "lte") instead; with index, the
// index's copy of it (a numeric guard) too.
func (p *Program) BreakCompare(reason, op string, index bool) bool {
	s := p.numStep(reason)
	if s == nil {
		return false
	}
	s.cmp = comparisonOps[op]
	if index {
		for i, g := range p.ranges[s.npath] {
			if g.c == s.nconst {
				p.ranges[s.npath][i].op = s.cmp
			}
		}
		p.rangeIdx[s.npath] = newRangeIndex(p.ranges[s.npath], p.words)
	}
	return true
}

// BreakThreshold makes the native comparison of the rule whose hit is
// reason compare with c instead (its operand keeps the constant written).
func (p *Program) BreakThreshold(reason string, c float64) bool {
	s := p.numStep(reason)
	if s == nil {
		return false
	}
	s.nconst = c
	return true
}

// BreakSupportThreshold makes a support rule's native comparison with
// from compare with to instead (its operand keeps the constant written).
func (p *Program) BreakSupportThreshold(from, to float64) bool {
	for _, sup := range p.support {
		for _, body := range sup.bodies {
			for i := range body {
				if body[i].kind == stepCompareNum && body[i].nconst == from {
					body[i].nconst = to
					return true
				}
			}
		}
	}
	return false
}

// BreakGuard makes the index's first guard on the string from a guard on
// to instead, or drops it when to is "".
func (p *Program) BreakGuard(from, to string) bool {
	fromKey, _ := valueKey(ast.String(from))
	for _, idx := range p.index {
		if bits, ok := idx.eq[fromKey]; ok {
			delete(idx.eq, fromKey)
			if to != "" {
				toKey, _ := valueKey(ast.String(to))
				idx.eq[toKey] = bits
			}
			return true
		}
	}
	return false
}

// BreakNegation drops the first negation of the rule whose hit is reason.
func (p *Program) BreakNegation(reason string) bool {
	steps := p.ruleSteps(reason)
	for i := range steps {
		if steps[i].negated {
			steps[i].negated = false
			return true
		}
	}
	return false
}

// BreakCallOutput makes the first call of the rule whose hit is reason
// that is compared with a constant compare with c instead.
func (p *Program) BreakCallOutput(reason string, c *ast.Term) bool {
	steps := p.ruleSteps(reason)
	for i, s := range steps {
		if s.out != nil && s.out.kind == opConst {
			out := *s.out
			out.term = c
			steps[i].out = &out
			return true
		}
	}
	return false
}

// BreakCompares makes every comparison of the rules that uses from use
// to instead, and returns how many it changed.
func (p *Program) BreakCompares(from, to string) int {
	n := 0
	for _, r := range p.rules {
		for i := range r.steps {
			if s := &r.steps[i]; (s.kind == stepCompare || s.kind == stepCompareNum) && s.cmp == comparisonOps[from] {
				s.cmp = comparisonOps[to]
				n++
			}
		}
	}
	return n
}
