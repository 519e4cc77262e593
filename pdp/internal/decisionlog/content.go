package decisionlog

import (
	"unicode/utf8"
	"unsafe"

	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// Strings. The masker reads a string token's raw bytes once (scanString:
// the lexer sorts them as it finds the end) and looks closer only when
// they may hold something to mask: 13 ASCII digits or more, a non-ASCII
// byte or an escape (Unicode digits, Chinese, look-alike letters), or
// letters that start a secret's name (pii.MayNameSecret). Then it
// decodes the content (jsonw.UnescapeOne), keeping for each decoded byte
// the raw offset it came from, finds card and identity numbers (pii.Mask
// rules) and secret values in free text (pii.Scanner.Secrets), and writes
// the raw content again with each found range replaced by its mask. It looks at the result again until nothing
// is found: a card's mask keeps ten digits, which can join neighbouring
// digits into a new number, and each round removes at least three digits
// or replaces a secret by "***", which is never looked at again, so it
// ends.

// Flags of a string's raw bytes: its byte classes (jsonw.ByteClasses),
// and fEscape for a backslash escape, which the lexer reports itself.
const (
	fHigh   uint8 = 1 << iota // a byte ≥ 0x80
	fLetter                   // an ASCII letter
	fOther                    // ASCII punctuation or a control character
	fSpace                    // a space
	fDash                     // '-'

	fEscape = jsonw.EscapeClass
)

// byteClass sorts the bytes of a string's content for the first scan;
// ASCII digits are counted.
var byteClass = jsonw.NewByteClasses(func(c byte) uint8 {
	switch {
	case c >= '0' && c <= '9':
		return jsonw.Counted
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return fLetter
	case c == ' ':
		return fSpace
	case c == '-':
		return fDash
	case c >= utf8.RuneSelf:
		return fHigh
	}
	return fOther
})

// strScan is what scanString found in a string token.
type strScan struct {
	end    int // one past the closing quote, or len(src) if unterminated
	digits int // ASCII digits
	flags  uint8
}

// scanString reads the string token starting at src[i] in the lexer's one
// pass (jsonw.ByteClasses.LooseString).
func scanString(src []byte, i int) strScan {
	end, flags, digits := byteClass.LooseString(src, i)
	return strScan{end: end, digits: digits, flags: flags}
}

// mayHold reports whether the content c of a string scanned as st may
// hold something to mask.
func (st strScan) mayHold(c []byte) bool {
	return st.digits >= 13 || st.flags&(fHigh|fEscape) != 0 ||
		st.flags&fLetter != 0 && pii.MayNameSecret(unsafe.String(unsafe.SliceData(c), len(c)))
}

// pieceDigits returns the number of digits of a string that holds only
// digits, spaces and dashes (a piece of a split card, splits.go), or -1;
// for content that needs decoding it returns an upper bound.
func (st strScan) pieceDigits(c []byte) int {
	switch {
	case st.flags&(fLetter|fOther) != 0:
		return -1
	case st.flags&(fHigh|fEscape) != 0:
		return len(c)
	case st.digits == 0:
		return -1
	}
	return st.digits
}

// maxRounds bounds the masking rounds of one string; each round removes
// digits or a secret word, so real input never comes near it. Past it the
// whole string is masked.
const maxRounds = 64

// maskContent appends to dst the raw content of a JSON string (no quotes)
// with its card and identity numbers and free-text secrets masked, and
// reports whether anything changed; if not, nothing was appended.
func (m *masker) maskContent(dst, raw []byte) ([]byte, bool) {
	cur := raw
	for round := 0; ; round++ {
		text := m.decode(cur)
		s := unsafe.String(unsafe.SliceData(text), len(text))
		spans := m.scan.Numbers(s, pii.Mask)
		if len(spans) == 0 {
			spans = m.scan.Secrets(s)
		}
		if len(spans) == 0 {
			if round == 0 {
				return dst, false
			}
			return append(dst, cur...), true
		}
		if round == maxRounds {
			return append(dst, "***"...), true
		}
		next := m.rounds[round%2][:0]
		last := 0
		for _, sp := range spans {
			a, b := m.rawOffset(sp.Start), m.rawOffset(sp.End)
			next = append(next, cur[last:a]...)
			next = m.scan.AppendMasked(next, sp)
			last = b
		}
		next = append(next, cur[last:]...)
		m.rounds[round%2] = next
		cur = next
	}
}

// decode returns the decoded content of raw string content, and sets
// m.offs so that rawOffset maps decoded offsets back; content without
// escapes is returned as is.
func (m *masker) decode(raw []byte) []byte {
	m.offs = m.offs[:0]
	esc := false
	for _, c := range raw {
		if c == '\\' {
			esc = true
			break
		}
	}
	if !esc {
		return raw
	}
	m.text = m.text[:0]
	for i := 0; i < len(raw); {
		start := len(m.text)
		c := raw[i]
		n := 1
		if c != '\\' {
			m.text = append(m.text, c)
		} else {
			m.text, n = jsonw.UnescapeOne(m.text, raw, i)
		}
		for ; start < len(m.text); start++ {
			m.offs = append(m.offs, int32(i))
		}
		i += n
	}
	m.offs = append(m.offs, int32(len(raw)))
	return m.text
}

// rawOffset maps an offset in the decoded text back to the raw content.
func (m *masker) rawOffset(i int) int {
	if len(m.offs) == 0 {
		return i
	}
	return int(m.offs[i])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
