package decisionlog

import "github.com/riskpdp/riskpdp/pdp"

// Card numbers inside JSON strings.
//
// A string is read as a sequence of units, each one character of the decoded
// string and the raw bytes it came from: a plain byte, a \uXXXX escape, a
// two-byte escape, or a three-byte fullwidth digit or separator. Working on
// units lets the masker replace a card number in the raw text without
// re-encoding the rest of the string, escapes and invalid UTF-8 included.

const (
	cardMinDigits = 13
	cardMaxDigits = 19
	keepFirst     = 6
	keepLast      = 4
)

type unitKind uint8

const (
	unitOther unitKind = iota
	unitDigit
	unitSep
)

// nextUnit reads the unit at s[i:]: its kind, digit value and length in bytes.
// Digits are ASCII 0-9 and fullwidth ０-９ (U+FF10-FF19), plain or escaped;
// separators are space, '-', the ideographic space U+3000 and the fullwidth
// hyphen-minus U+FF0D. The length is at least 1, so a scan always advances.
func nextUnit(s []byte, i int) (unitKind, byte, int) {
	c := s[i]
	switch {
	case c >= '0' && c <= '9':
		return unitDigit, c - '0', 1
	case c == ' ' || c == '-':
		return unitSep, 0, 1
	case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBC:
		if d := s[i+2]; d >= 0x90 && d <= 0x99 {
			return unitDigit, d - 0x90, 3
		} else if d == 0x8D {
			return unitSep, 0, 3
		}
	case c == 0xE3 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2] == 0x80:
		return unitSep, 0, 3
	case c == '\\' && i+1 < len(s):
		if s[i+1] != 'u' {
			return unitOther, 0, 2
		}
		r, ok := hex4(s, i+2)
		if !ok {
			return unitOther, 0, 2
		}
		switch {
		case r >= '0' && r <= '9':
			return unitDigit, byte(r - '0'), 6
		case r >= 0xFF10 && r <= 0xFF19:
			return unitDigit, byte(r - 0xFF10), 6
		case r == ' ' || r == '-' || r == 0x3000 || r == 0xFF0D:
			return unitSep, 0, 6
		}
		return unitOther, 0, 6
	}
	return unitOther, 0, 1
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// group is a maximal run of digit units.
type group struct {
	d0, n      int // its digits in cardScan.digits
	start, end int // its raw bytes
}

// span is a raw byte range to replace by a mask of the digits d0:d1.
type span struct{ start, end, d0, d1 int }

// cardScan finds card numbers in the raw content of one JSON string. Its
// slices are reused from call to call.
type cardScan struct {
	digits []byte
	groups []group
	spans  []span
}

// find sets c.spans to the card numbers in s (raw string content, no
// quotes), left to right, not overlapping.
//
// A run is a sequence of groups each separated from the next by exactly one
// separator unit; anything else ends the run. A card number is a window of
// consecutive groups of a run holding 13 to 19 digits together, whose first
// digits read as a card number (pdp.IsCardNumber: issuer prefix, Luhn). From each group, the
// longest such window is taken; the scan goes on after it.
func (c *cardScan) find(s []byte) {
	c.digits, c.groups, c.spans = c.digits[:0], c.groups[:0], c.spans[:0]
	sepAfterGroup := false // the last unit was one separator after a group
	inGroup := false
	for i := 0; i < len(s); {
		kind, d, n := nextUnit(s, i)
		switch kind {
		case unitDigit:
			if !inGroup {
				if !sepAfterGroup {
					c.flush()
				}
				c.groups = append(c.groups, group{d0: len(c.digits), start: i})
				inGroup = true
			}
			g := &c.groups[len(c.groups)-1]
			c.digits = append(c.digits, d)
			g.n++
			g.end = i + n
			sepAfterGroup = false
		case unitSep:
			if inGroup {
				sepAfterGroup, inGroup = true, false
			} else {
				c.flush()
				sepAfterGroup = false
			}
		default:
			c.flush()
			sepAfterGroup, inGroup = false, false
		}
		i += n
	}
	c.flush()
}

// flush looks for card numbers in the current run and starts a new one.
func (c *cardScan) flush() {
	gs := c.groups
	for s := 0; s < len(gs); {
		best, total := -1, 0
		for e := s; e < len(gs); e++ {
			total += gs[e].n
			if total > cardMaxDigits {
				break
			}
			if total >= cardMinDigits && pdp.IsCardNumber(c.digits[gs[s].d0:gs[e].d0+gs[e].n]) {
				best = e
			}
		}
		if best < 0 {
			s++
			continue
		}
		c.spans = append(c.spans, span{start: gs[s].start, end: gs[best].end, d0: gs[s].d0, d1: gs[best].d0 + gs[best].n})
		s = best + 1
	}
	c.groups = c.groups[:0]
	c.digits = c.digits[:0:cap(c.digits)]
	if len(c.spans) > 0 {
		// Keep the digits the spans refer to: only reset when none do.
		c.digits = c.digits[:c.spans[len(c.spans)-1].d1]
	}
}

// appendMasked appends the mask of digits: the first 6 and last 4 in ASCII,
// a '*' for each digit between.
func appendMasked(dst, digits []byte) []byte {
	for i, d := range digits {
		if i < keepFirst || i >= len(digits)-keepLast {
			dst = append(dst, '0'+d)
		} else {
			dst = append(dst, '*')
		}
	}
	return dst
}

// maskCards appends s with every card number found masked, repeating until
// none is left: a mask keeps ten digits, which can join neighbouring digits
// into a new window, and each round removes at least three digits, so it
// ends. It reports whether anything changed; if not, nothing was appended.
func (c *cardScan) maskCards(dst, s []byte) ([]byte, bool) {
	c.find(s)
	if len(c.spans) == 0 {
		return dst, false
	}
	for {
		start := len(dst)
		last := 0
		for _, sp := range c.spans {
			dst = append(dst, s[last:sp.start]...)
			dst = appendMasked(dst, c.digits[sp.d0:sp.d1])
			last = sp.end
		}
		dst = append(dst, s[last:]...)
		// Look again at what was just written; s now is a copy of it so
		// that the next round can rewrite dst in place.
		c.find(dst[start:])
		if len(c.spans) == 0 {
			return dst, true
		}
		s = append([]byte(nil), dst[start:]...)
		dst = dst[:start]
	}
}
