package fastpath

import (
	"context"
	"math/bits"
	"reflect"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Shape is what the compiler made of the rules: the steps it runs
// natively, the calls it shares, the guards its index took out of the
// bodies. It is read, not acted on: the policy package's tests hold the
// compiler to its optimizations on whole policies, which only that package
// compiles (it specializes them first).
type Shape struct {
	// NativeCompares are the rules' comparisons of a number the sidecar
	// computes with a constant, made on float64s.
	NativeCompares int
	// Scans are the rules' regex.match calls on a pattern of literals run
	// as one scan: per scan, the number of literals.
	Scans []int
	// RegexPatterns are the constant patterns of the rules' regex.match
	// calls left to the built-in.
	RegexPatterns []string
	// Memos are the distinct calls made at most once per evaluation.
	Memos int
	// SubstringGuards are the values whose contains guards the index
	// checks with one scan.
	SubstringGuards int
	// GuardSteps are the steps of the rules that are guards of the index,
	// left in the bodies (none: the index checks them all).
	GuardSteps int
	// Heads are the constant hits of the rules.
	Heads []*ast.Term
}

// regexMatch identifies OPA's regex.match in a call step.
var regexMatch = reflect.ValueOf(topdown.GetBuiltin(ast.RegexMatch.Name)).Pointer()

// Shape returns what the compiler made of the rules.
func (p *Program) Shape() Shape {
	sh := Shape{Memos: p.memos, SubstringGuards: len(p.subGuards)}
	for _, r := range p.rules {
		if r.hit != nil {
			sh.Heads = append(sh.Heads, r.hit.Key)
		}
		for _, s := range r.steps {
			switch {
			case s.kind == stepCompareNum:
				sh.NativeCompares++
			case s.kind == stepSubstrings:
				sh.Scans = append(sh.Scans, s.subs.n)
			case s.kind == stepCall && s.args[0].kind == opConst && reflect.ValueOf(s.fn).Pointer() == regexMatch:
				if pattern, ok := s.args[0].term.Value.(ast.String); ok {
					sh.RegexPatterns = append(sh.RegexPatterns, string(pattern))
				}
			}
			if _, _, ok := guardOf(s, nil); ok {
				sh.GuardSteps++
			}
		}
	}
	return sh
}

// Candidates is the number of rules the index leaves to run on input:
// those whose guards hold.
func (p *Program) Candidates(input *request.Input) int {
	e := p.newEval(context.Background(), input, nil)
	e.selectCandidates()
	n := 0
	for _, w := range e.cand {
		n += bits.OnesCount64(w)
	}
	return n
}
