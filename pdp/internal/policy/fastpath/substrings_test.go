package fastpath

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// containsAny is what a substrings set must answer.
func containsAny(text string, set []string) bool {
	for _, s := range set {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// checkSubstrings holds m's answers on text to strings.Contains: in, and
// each, which names every string of set text contains and no other.
func checkSubstrings(t *testing.T, m *substrings, set []string, text string) {
	t.Helper()
	if got, want := m.in(text), containsAny(text, set); got != want {
		t.Fatalf("set %q, text %q: %v, want %v", set, text, got, want)
	}
	found := make([]bool, len(set))
	m.each(text, func(id int32) { found[id] = true })
	for i, s := range set {
		if found[i] != strings.Contains(text, s) {
			t.Fatalf("set %q, text %q: each reports %q: %v", set, text, s, found[i])
		}
	}
}

// TestSubstringsAgreeWithContains holds the automaton to strings.Contains
// on random sets and texts over a small alphabet (many overlaps and
// failure links), with multi-byte runes and the empty string.
func TestSubstringsAgreeWithContains(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	alphabet := []string{"a", "b", "c", "ab", "安", "全", "账", "户", "\xe5"}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 2000 {
		set := make([]string, 1+r.IntN(8))
		for i := range set {
			set[i] = word(1 + r.IntN(4))
		}
		if r.IntN(50) == 0 {
			set = append(set, "")
		}
		m := newSubstrings(set)
		for range 20 {
			checkSubstrings(t, m, set, word(r.IntN(12)))
		}
	}
}

func FuzzSubstrings(f *testing.F) {
	f.Add("he\x00she\x00his\x00hers", "ushers")
	f.Add("安全账户\x00屏幕共享", "把钱转到安全账户")
	f.Add("abcd\x00bc\x00\x00x", "")
	f.Fuzz(func(t *testing.T, set, text string) {
		list := strings.Split(set, "\x00")
		checkSubstrings(t, newSubstrings(list), list, text)
	})
}

func TestLiteralAlternation(t *testing.T) {
	for pattern, want := range map[string][]string{
		"安全账户|safeaccount": {"安全账户", "safeaccount"},
		`a\.b|c\|d|\(x\)`:  {"a.b", "c|d", "(x)"},
		"a||b":             {"a", "", "b"},
		"":                 {""},
		"screen share":     {"screen share"},
	} {
		got, ok := literalAlternation(pattern)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q %v, want %q", pattern, got, ok, want)
		}
	}
	for _, pattern := range []string{"a.b", "(?i)a|b", "ab*", `\d`, `a\`, "[ab]", "^a", "a$", "a{2}", "\ufffd", "(a|b)"} {
		if got, ok := literalAlternation(pattern); ok {
			t.Errorf("%q read as literals %q", pattern, got)
		}
	}
}

// TestLiteralAlternationMatchesRegexp: what the scan answers for a
// pattern of quoted literals is what the regexp engine answers.
func TestLiteralAlternationMatchesRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	alphabet := []string{"a", "b", ".", "|", "(", "安", "户", "\\", "*"}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 1000 {
		lits := make([]string, 1+r.IntN(5))
		for i := range lits {
			lits[i] = regexp.QuoteMeta(word(r.IntN(4)))
		}
		pattern := strings.Join(lits, "|")
		set, ok := literalAlternation(pattern)
		if !ok {
			t.Fatalf("%q: quoted literals not read", pattern)
		}
		re := regexp.MustCompile(pattern)
		m := newSubstrings(set)
		for range 10 {
			text := word(r.IntN(10))
			if got, want := m.in(text), re.MatchString(text); got != want {
				t.Fatalf("pattern %q, text %q: %v, want %v", pattern, text, got, want)
			}
		}
	}
}

// TestConstReplaceMatchesOPA holds the replace prepared in advance to OPA's
// own built-in: results (the same term when nothing changes) and errors.
func TestConstReplaceMatchesOPA(t *testing.T) {
	opa := topdown.GetBuiltin("replace")
	for _, c := range [][3]*ast.Term{
		{ast.StringTerm("a b-c"), ast.StringTerm(" "), ast.StringTerm("")},
		{ast.StringTerm("abc"), ast.StringTerm(" "), ast.StringTerm("")},
		{ast.StringTerm("安 全 账 户"), ast.StringTerm(" "), ast.StringTerm("")},
		{ast.StringTerm("aaa"), ast.StringTerm("a"), ast.StringTerm("bb")},
		{ast.StringTerm(""), ast.StringTerm(""), ast.StringTerm("x")},
		{ast.StringTerm("ab"), ast.StringTerm(""), ast.StringTerm("-")},
		{ast.IntNumberTerm(7), ast.StringTerm(" "), ast.StringTerm("")},
		{ast.NullTerm(), ast.StringTerm(" "), ast.StringTerm("")},
	} {
		old, repl := c[1].Value.(ast.String), c[2].Value.(ast.String)
		mine := constReplace(strings.NewReplacer(string(old), string(repl)), opa)
		var got, want *ast.Term
		gerr := mine(topdown.BuiltinContext{}, c[:], func(t *ast.Term) error { got = t; return nil })
		werr := opa(topdown.BuiltinContext{}, c[:], func(t *ast.Term) error { want = t; return nil })
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) || (want == c[0]) != (got == c[0]) {
			t.Errorf("replace(%v, %v, %v): %v %v, want %v %v", c[0], c[1], c[2], got, gerr, want, werr)
		}
	}
}
