package fastpath

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Built-in calls whose expensive part depends on constants only, prepared
// once when the fast program is compiled. Partial evaluation leaves such
// calls with the policy's data folded into constants: a keyword list
// joined into one pattern, a replacement of fixed strings.

// specializeCall prepares a call step whose constant operands allow it.
func specializeCall(s *fastStep, name string) {
	switch name {
	case "regex.match":
		// A pattern of literals separated by "|": one scan for them all
		// (substrings.go).
		if s.out != nil || s.args[0].kind != opConst {
			return
		}
		if pattern, ok := s.args[0].term.Value.(ast.String); ok {
			if set, ok := literalAlternation(string(pattern)); ok {
				s.kind, s.subs = stepSubstrings, newSubstrings(set)
			}
		}
	case "replace":
		// OPA builds a strings.Replacer on every call (for a one-byte
		// pattern, a 256-entry table); with constant patterns the same
		// replacer is built once.
		if s.args[1].kind != opConst || s.args[2].kind != opConst {
			return
		}
		old, ok1 := s.args[1].term.Value.(ast.String)
		repl, ok2 := s.args[2].term.Value.(ast.String)
		if ok1 && ok2 {
			s.fn = constReplace(strings.NewReplacer(string(old), string(repl)), s.fn)
		}
	}
}

// constReplace is OPA's replace built-in (topdown.builtinReplace) with its
// replacer built in advance: the same result, the same term when nothing
// changes. A value that is not a string goes to the built-in itself, for
// its own error.
func constReplace(r *strings.Replacer, builtin topdown.BuiltinFunc) topdown.BuiltinFunc {
	return func(bctx topdown.BuiltinContext, operands []*ast.Term, iter func(*ast.Term) error) error {
		s, ok := operands[0].Value.(ast.String)
		if !ok {
			return builtin(bctx, operands, iter)
		}
		replaced := r.Replace(string(s))
		if replaced == string(s) {
			return iter(operands[0])
		}
		return iter(ast.InternedTerm(replaced))
	}
}
