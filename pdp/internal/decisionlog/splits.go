package decisionlog

import (
	"unicode"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// Cards split across neighbouring values: {"c1":"4111","c2":"1111",
// "c3":"1111","c4":"1111"}, ["4111 1111", 11111111]. A piece is a string
// holding only digits (any script, pii.NumberDigit), spaces and dashes,
// at least one digit, or an integer. Consecutive pieces of one object or array, two or more,
// whose digits together (zeros leading the first dropped) make 13 to 19
// digits that pass pdp.IsCardNumber are a split card: every digit but the
// card's first 6 and last 4 becomes '*' in its piece, and an integer piece
// becomes a string. Any other value between two pieces (a word, a float,
// true, an object) separates them; pieces in different containers never
// join.
//
// The request decoder does not refuse these: two coordinates, a few
// amounts or counts side by side read as a Luhn-valid run one time in ten,
// and refusing them would refuse innocent requests. In a record, the
// masker looks for them in the caller's "input" only: the rest (velocity
// counts, amounts, timings) is the sidecar's own and full of neighbouring
// integers.

// piece is one value of a possible split card.
type piece struct {
	start, end int // the value's token
	d0, n      int // its digits in masker.digits
	number     bool
}

// maskSplits is the second pass.
func (m *masker) maskSplits(dst, src []byte, record bool) ([]byte, bool) {
	m.start(dst, src)
	m.pieces, m.digits = m.pieces[:0], m.digits[:0]
	seq := m.seq[:0] // per open container: where its current row of pieces starts in m.pieces
	defer func() { m.seq = seq[:0] }()
	expectKey := false
	input := !record // looking for pieces
	inputDepth := 0
	isInputKey := false
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ':':
			expectKey = expectKey && c != ':'
			i++
			continue
		case c == ',':
			expectKey = len(m.stack) > 0 && m.stack[len(m.stack)-1] == '{'
			i++
			continue
		case c == '}' || c == ']':
			if len(m.stack) > 0 {
				m.endRow(seq[len(seq)-1])
				if record && len(m.stack) == inputDepth {
					input, inputDepth = false, 0
				}
				m.stack, seq = m.stack[:len(m.stack)-1], seq[:len(seq)-1]
			}
			expectKey = false
			i++
			continue
		}
		if c == '"' && expectKey && len(m.stack) > 0 && m.stack[len(m.stack)-1] == '{' {
			end := scanString(src, i).end
			isInputKey = record && len(m.stack) == 1 && string(jsonw.StringContent(src[i:end])) == "input"
			expectKey = false
			i = end
			continue
		}
		var end int
		isPiece := false
		switch {
		case c == '{' || c == '[':
			if len(seq) > 0 {
				m.endRow(seq[len(seq)-1])
			}
			m.stack, seq = append(m.stack, c), append(seq, len(m.pieces))
			if isInputKey && !input {
				input, inputDepth = true, len(m.stack)
			}
			isInputKey = false
			expectKey = c == '{'
			i++
			continue
		case c == '"':
			end = scanString(src, i).end
			isPiece = input && m.stringPiece(i, end)
		case c == '-' || c >= '0' && c <= '9':
			end = jsonw.LooseNumberEnd(src, i)
			isPiece = input && m.intPiece(i, end)
		default:
			end = jsonw.LooseValueEnd(src, i)
		}
		isInputKey = false
		if !isPiece && len(seq) > 0 {
			m.endRow(seq[len(seq)-1])
		}
		i = end
	}
	return m.finish()
}

// stringPiece adds the string token src[i:end] as a piece if it is one.
func (m *masker) stringPiece(i, end int) bool {
	text := m.decode(jsonw.StringContent(m.src[i:end]))
	d0 := len(m.digits)
	for _, r := range string(text) {
		if v, ok := pii.NumberDigit(r); ok {
			m.digits = append(m.digits, v)
		} else if !pieceSeparator(r) {
			m.digits = m.digits[:d0]
			return false
		}
	}
	if len(m.digits) == d0 {
		return false
	}
	m.pieces = append(m.pieces, piece{start: i, end: end, d0: d0, n: len(m.digits) - d0})
	return true
}

// pieceSeparator is what a piece may hold besides digits.
func pieceSeparator(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '−'
}

// intPiece adds the number token src[i:end] as a piece if it is an
// integer.
func (m *masker) intPiece(i, end int) bool {
	tok := m.src[i:end]
	if intDigits(tok) <= 0 {
		return false
	}
	d0 := len(m.digits)
	for _, c := range tok {
		if isDigit(c) {
			m.digits = append(m.digits, c-'0')
		}
	}
	m.pieces = append(m.pieces, piece{start: i, end: end, d0: d0, n: len(m.digits) - d0, number: true})
	return true
}

// endRow masks the split cards in the row of pieces m.pieces[from:] and
// forgets the row.
func (m *masker) endRow(from int) {
	ps := m.pieces[from:]
	for st := 0; st < len(ps); {
		p0 := ps[st]
		z := 0
		for z < p0.n && m.digits[p0.d0+z] == 0 {
			z++
		}
		best, sig := -1, p0.n-z
		for e := st + 1; e < len(ps) && sig <= 19; e++ {
			sig += ps[e].n
			if sig >= 13 && sig <= 19 && pdp.IsCardNumber(m.digits[p0.d0+z:ps[e].d0+ps[e].n]) {
				best = e
			}
		}
		if z == p0.n || best < 0 {
			st++
			continue
		}
		// Mask the window: digit k of the card is kept if among the first
		// 6 or the last 4.
		total := ps[best].d0 + ps[best].n - (p0.d0 + z)
		k := -z
		lastKept := true
		for j := st; j <= best; j++ {
			kept := true
			for q := 0; q < ps[j].n; q++ {
				if k >= keepFirst && k < total-keepLast {
					m.digits[ps[j].d0+q] = '*'
					kept = false
				}
				k++
			}
			if !kept {
				m.writePiece(ps[j])
			}
			lastKept = kept
		}
		if lastKept {
			st = best // its digits are all in clear: it may start another card
		} else {
			st = best + 1
		}
	}
	m.pieces = m.pieces[:from]
}

// keepFirst and keepLast digits of a card stay in clear.
const (
	keepFirst = 6
	keepLast  = 4
)

// writePiece writes a masked piece: its digits (now values or '*') as
// ASCII, its spaces as spaces and its dashes as '-', quoted.
func (m *masker) writePiece(p piece) {
	m.tmp = m.tmp[:0]
	if p.number {
		if m.src[p.start] == '-' {
			m.tmp = append(m.tmp, '-')
		}
		m.tmp = appendDigits(m.tmp, m.digits[p.d0:p.d0+p.n])
		m.replace(p.start, p.end, m.tmp, true)
		return
	}
	text := m.decode(jsonw.StringContent(m.src[p.start:p.end]))
	d := p.d0
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRune(text[i:])
		switch _, ok := pii.NumberDigit(r); {
		case ok:
			m.tmp = appendDigits(m.tmp, m.digits[d:d+1])
			d++
		case unicode.IsSpace(r):
			m.tmp = append(m.tmp, ' ')
		default:
			m.tmp = append(m.tmp, '-')
		}
		i += n
	}
	m.replace(p.start+1, p.start+1+len(jsonw.StringContent(m.src[p.start:p.end])), m.tmp, false)
}

// appendDigits appends digit values as ASCII, '*' as itself.
func appendDigits(dst, d []byte) []byte {
	for _, v := range d {
		if v == '*' {
			dst = append(dst, '*')
		} else {
			dst = append(dst, '0'+v)
		}
	}
	return dst
}
