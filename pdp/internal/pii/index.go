package pii

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// Lookup tables built from the vocabulary once, at start-up.
var (
	termList    []term // ASCII terms
	hanTermList []term // Chinese terms
	// hanTermIndex and hanFactIndex: the first character of a Chinese
	// term (its indices in hanTermList) or fact.
	hanTermIndex = map[rune][]int{}
	hanFactIndex = map[rune][]string{}
	termIndex    [][]int    // pairIndex of a term's first two bytes → its indices in termList
	longFacts    [][]string // pairIndex of the first two letters → fact words of four letters or more (they also match as a prefix)

	factSet       = map[string]bool{}
	windowUnitSet = map[string]bool{}
	modifierList  = modifiers
	valueList     = valuePieces

	// startTriples has a bit for the first three letters of every ASCII
	// term, (l1*27+l2)*27+l3 with letters 1-26, and for the two of a
	// two-letter term after any letter or none (quickClean).
	startTriples [(27*27*27 + 63) / 64]uint64
)

// pairIndex numbers a pair of folded bytes: a-z then 0-9, 36 for others.
func pairIndex(c, d byte) int { return symbol(c)*37 + symbol(d) }

func symbol(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a')
	case c >= '0' && c <= '9':
		return 26 + int(c-'0')
	}
	return 36
}

func init() {
	termIndex = make([][]int, 37*37)
	add := func(m map[valueKind][]string, strong, textOnly bool) {
		kinds := make([]int, 0, len(m))
		for k := range m {
			kinds = append(kinds, int(k))
		}
		sort.Ints(kinds) // a fixed order, for reproducible matching
		for _, k := range kinds {
			for _, s := range m[valueKind(k)] {
				t := term{s: s, strong: strong, kind: valueKind(k), textOnly: textOnly}
				if s[0] >= utf8.RuneSelf {
					hanTermList = append(hanTermList, t)
					r, _ := utf8.DecodeRuneInString(s)
					hanTermIndex[r] = append(hanTermIndex[r], len(hanTermList)-1)
					continue
				}
				checkTerm(s)
				termList = append(termList, t)
				i := len(termList) - 1
				termIndex[pairIndex(s[0], s[1])] = append(termIndex[pairIndex(s[0], s[1])], i)
				l := func(j int) int { return int(s[j]-'a') + 1 }
				set := func(k int) { startTriples[k>>6] |= 1 << (k & 63) }
				if len(s) == 2 {
					for first := 0; first <= 26; first++ {
						set((first*27+l(0))*27 + l(1))
					}
				} else {
					set((l(0)*27+l(1))*27 + l(2))
				}
			}
		}
	}
	add(strongTerms, true, false)
	add(wordTerms, false, false)
	add(hanTerms, true, false)
	add(textTerms, false, true)
	longFacts = make([][]string, 37*37)
	for _, w := range factWords {
		checkWord(w)
		factSet[w] = true
		if len(w) >= 4 {
			longFacts[pairIndex(w[0], w[1])] = append(longFacts[pairIndex(w[0], w[1])], w)
		}
	}
	for _, h := range hanFacts {
		r, _ := utf8.DecodeRuneInString(h)
		hanFactIndex[r] = append(hanFactIndex[r], h)
	}
	for _, w := range windowUnits {
		windowUnitSet[w] = true
	}
	for _, w := range append(append([]string{}, modifiers...), valuePieces...) {
		checkWord(w)
	}
}

// checkTerm panics unless s is a folded term: two or more lower-case ASCII
// letters, then digits (a digit in the first three bytes would escape
// quickClean).
func checkTerm(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || i >= 3 && c >= '0' && c <= '9') {
			panic(fmt.Sprintf("pii: term %q is not folded", s))
		}
	}
	if len(s) < 2 {
		panic(fmt.Sprintf("pii: term %q is too short", s))
	}
}

// checkWord panics unless w is lower-case ASCII letters.
func checkWord(w string) {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			panic(fmt.Sprintf("pii: word %q is not folded", w))
		}
	}
}
