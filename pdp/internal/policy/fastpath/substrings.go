package fastpath

import (
	"strings"
	"unicode/utf8"
)

// Keyword lists in one pass.
//
// A policy that tests a value against a list of phrases in the data builds
// one pattern of the phrases, as literals, and matches it:
//
//	pattern := concat("|", [quoted | some p in data.phrases; quoted := ...])
//	said if regex.match(pattern, text)
//
// The pattern depends on the data only, so partial evaluation makes it a
// constant. The regexp engine runs such a pattern in time proportional to
// the text times the number of phrases (~170 µs for a 60-character
// sentence and ~100 phrases); the fast program runs it as one scan of the text
// for all the phrases (an Aho–Corasick automaton built at load): the same
// answer, since a pattern of literals separated by "|" matches exactly
// the strings that contain one of them (specializeCall, fast_const.go).

// substrings reports whether a text contains any string of a set, in one
// pass over the text's bytes. Matching bytes is matching strings (UTF-8 is
// self-synchronizing), as strings.Contains does, and as the regexp engine
// does for literals without U+FFFD (literalAlternation).
type substrings struct {
	root  [256]int32 // the root's children by byte (0: none)
	edges [][]edge   // the children of every other node
	fail  []int32    // the node of the longest proper suffix in the trie
	out   []bool     // a string of the set ends here, or at a suffix
	empty bool       // the set holds "": every text matches
	n     int        // strings in the set
	// ends are the indexes in the set of the strings ending at each node;
	// dict is the node's nearest proper suffix where some string ends (0:
	// none); emptyIDs the indexes of "".
	ends     [][]int32
	dict     []int32
	emptyIDs []int32
}

type edge struct {
	b  byte
	to int32
}

func newSubstrings(set []string) *substrings {
	m := &substrings{edges: [][]edge{nil}, fail: []int32{0}, out: []bool{false}, n: len(set),
		ends: [][]int32{nil}, dict: []int32{0}}
	for id, s := range set {
		if s == "" {
			m.empty = true
			m.emptyIDs = append(m.emptyIDs, int32(id))
			continue
		}
		node := int32(0)
		for i := 0; i < len(s); i++ {
			next, ok := m.child(node, s[i])
			if !ok {
				next = int32(len(m.edges))
				m.edges = append(m.edges, nil)
				m.fail = append(m.fail, 0)
				m.out = append(m.out, false)
				m.ends = append(m.ends, nil)
				m.dict = append(m.dict, 0)
				if node == 0 {
					m.root[s[i]] = next
				}
				m.edges[node] = append(m.edges[node], edge{s[i], next})
			}
			node = next
		}
		m.out[node] = true
		m.ends[node] = append(m.ends[node], int32(id))
	}
	// Breadth first, so that a node's failure link is set before its
	// children's.
	queue := make([]int32, 0, len(m.edges))
	for _, e := range m.edges[0] {
		queue = append(queue, e.to) // depth 1: fail to the root
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, e := range m.edges[u] {
			f := m.step(m.fail[u], e.b)
			m.fail[e.to] = f
			m.out[e.to] = m.out[e.to] || m.out[f]
			if len(m.ends[f]) > 0 {
				m.dict[e.to] = f
			} else {
				m.dict[e.to] = m.dict[f]
			}
			queue = append(queue, e.to)
		}
	}
	return m
}

// child is node's child by byte b.
func (m *substrings) child(node int32, b byte) (int32, bool) {
	if node == 0 {
		n := m.root[b]
		return n, n != 0
	}
	for _, e := range m.edges[node] {
		if e.b == b {
			return e.to, true
		}
	}
	return 0, false
}

// step is the automaton's transition from node on byte b.
func (m *substrings) step(node int32, b byte) int32 {
	for node != 0 {
		if n, ok := m.child(node, b); ok {
			return n
		}
		node = m.fail[node]
	}
	return m.root[b]
}

// in reports whether text contains a string of the set.
func (m *substrings) in(text string) bool {
	if m.empty {
		return true
	}
	node := int32(0)
	for i := 0; i < len(text); i++ {
		node = m.step(node, text[i])
		if m.out[node] {
			return true
		}
	}
	return false
}

// each calls f with the index in the set of every string text contains
// (once per occurrence; "" once).
func (m *substrings) each(text string, f func(id int32)) {
	for _, id := range m.emptyIDs {
		f(id)
	}
	node := int32(0)
	for i := 0; i < len(text); i++ {
		node = m.step(node, text[i])
		if !m.out[node] {
			continue
		}
		for n := node; n != 0; n = m.dict[n] {
			for _, id := range m.ends[n] {
				f(id)
			}
		}
	}
}

// literalAlternation returns the literals of a regular expression that is
// only literals separated by "|" (metacharacters escaped, as
// regexp.QuoteMeta writes them), and whether it is one. Such an expression
// matches a string exactly when one of its literals is a substring of it.
// Anything else (classes, repetitions, groups, flags, other escapes) is not
// one. U+FFFD is refused too: the regexp engine reads an invalid byte as
// U+FFFD, a byte scan would not.
func literalAlternation(pattern string) ([]string, bool) {
	if strings.ContainsRune(pattern, utf8.RuneError) {
		return nil, false
	}
	var set []string
	var cur strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '|':
			set = append(set, cur.String())
			cur.Reset()
		case c == '\\':
			if i+1 == len(pattern) || !isRegexMeta(pattern[i+1]) {
				return nil, false
			}
			i++
			cur.WriteByte(pattern[i])
		case isRegexMeta(c):
			return nil, false
		default:
			cur.WriteByte(c)
		}
	}
	return append(set, cur.String()), true
}

// isRegexMeta reports whether c is one of the characters regexp.QuoteMeta
// escapes.
func isRegexMeta(c byte) bool { return strings.IndexByte(`\.+*?()|[]{}^$`, c) >= 0 }
