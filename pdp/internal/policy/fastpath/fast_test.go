package fastpath

import (
	"cmp"
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestNumConst(t *testing.T) {
	for s, ok := range map[string]bool{"0.7": true, "7e-1": true, "-3.50e2": true, "0.000100": true, "1200": true,
		"123456789012345": true, "1234567890123456": false, "0.7000000000000001": false, "1e400": false, "1e-320": false, "0": true} {
		if _, got := numConst(ast.Number(s)); got != ok {
			t.Errorf("numConst(%s) ok = %v, want %v", s, got, ok)
		}
	}
	if _, ok := numConst(ast.String("1")); ok {
		t.Error("a string is not a number constant")
	}
}

// TestRangeIndex holds the interval bitsets of numeric guards to checking
// each guard, for values at, between and beyond the constants.
func TestRangeIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		n := 1 + r.IntN(100)
		var guards []numGuard
		for ri := range n {
			guards = append(guards, numGuard{c: float64(r.IntN(20)) / 2, op: uint8(1 + r.IntN(4)), ri: ri})
		}
		x := newRangeIndex(guards, (n+63)/64)
		for v := -1.0; v <= 11; v += 0.25 {
			fail := x.failing(v)
			for _, g := range guards {
				want := !ordered(g.op, cmp.Compare(v, g.c))
				if got := fail[g.ri/64]&(1<<(g.ri%64)) != 0; got != want {
					t.Fatalf("x %v, guard %+v: fails %v, want %v", v, g, got, want)
				}
			}
		}
	}
}
