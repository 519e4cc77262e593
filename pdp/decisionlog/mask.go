package decisionlog

import "github.com/riskpdp/riskpdp/pdp"

// The masker rewrites JSON text in one pass without building a tree. It
// copies the input until the first change, so a clean record costs one scan
// and no copy. It never fails: on malformed input it still ends (every step
// advances) and returns something, though not necessarily JSON; on valid
// JSON its output is valid JSON, since it only replaces a string with a
// string, a number with a string, or a value with "***".

// secretMask replaces the value of a secret-looking key.
const secretMask = `"***"`

// byteClass sorts the bytes of a string's content for the first, fast scan.
var byteClass = func() (t [256]uint8) {
	t['"'] = clsQuote
	t['\\'] = clsEscape
	for c := '0'; c <= '9'; c++ {
		t[c] = clsDigit
	}
	t[0xEF] = clsWide // fullwidth digits and hyphen
	t[0xE3] = clsWide // ideographic space
	return t
}()

const (
	clsPlain uint8 = iota
	clsQuote
	clsEscape
	clsDigit
	clsWide
)

// masker holds the scratch space of MaskJSON; one per goroutine.
type masker struct {
	cards cardScan
	key   []byte // a decoded key
	stack []byte // '{' and '[' of the open containers
	tmp   []byte // a masked string or number
	num   [cardMaxDigits]byte

	// The output of the current call.
	src     []byte
	out     []byte
	last    int // src[:last] has been dealt with
	changed bool
}

// MaskJSON appends to dst the JSON text src with card numbers masked and the
// values of secret-looking keys replaced by "***", and returns it; it
// returns src itself, not a copy, when there is nothing to mask. See the
// package documentation for the rules. Valid JSON in gives valid JSON out;
// anything else gives some output and no panic.
func MaskJSON(dst, src []byte) []byte {
	var m masker
	out, changed := m.mask(dst, src, false)
	if !changed {
		return src
	}
	return out
}

// replace writes repl, quoted if asked, in place of src[from:to].
func (m *masker) replace(from, to int, repl []byte, quote bool) {
	m.changed = true
	m.out = append(m.out, m.src[m.last:from]...)
	if quote {
		m.out = append(m.out, '"')
	}
	m.out = append(m.out, repl...)
	if quote {
		m.out = append(m.out, '"')
	}
	m.last = to
}

// mask appends the masked src to dst if anything needs masking and reports
// whether it did; otherwise dst is returned unchanged. A string that is a
// canonical UUID is not searched for card numbers; with record set, neither
// are a top-level "trace_id" or "span_id" of the W3C shape (see doc.go).
func (m *masker) mask(dst, src []byte, record bool) ([]byte, bool) {
	m.src, m.out, m.last, m.changed = src, dst, 0, false
	m.stack = m.stack[:0]
	expectKey := false
	secret, exempt := false, 0 // what the last key says about its value
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
			continue
		case c == ',':
			expectKey = len(m.stack) > 0 && m.stack[len(m.stack)-1] == '{'
			secret, exempt = false, 0
			i++
			continue
		case c == ':':
			expectKey = false
			i++
			continue
		case c == '}' || c == ']':
			if len(m.stack) > 0 {
				m.stack = m.stack[:len(m.stack)-1]
			}
			expectKey, secret, exempt = false, false, 0
			i++
			continue
		}
		// A key or a value starts at i.
		if c == '"' && expectKey && len(m.stack) > 0 && m.stack[len(m.stack)-1] == '{' {
			end, plain, maybeCard := scanString(src, i)
			key := content(src, i, end)
			if !plain {
				m.key = unescape(m.key[:0], key)
				key = m.key
			}
			secret = secretKey(key)
			exempt = 0
			if record && len(m.stack) == 1 {
				switch string(key) {
				case "trace_id":
					exempt = 32
				case "span_id":
					exempt = 16
				}
			}
			if maybeCard && !isUUID(src[i:end]) {
				m.maskString(i, end)
			}
			expectKey = false
			i = end
			continue
		}
		if secret {
			end := skipValue(src, i)
			if lit := src[i:end]; string(lit) != "null" && string(lit) != "true" && string(lit) != "false" {
				m.replace(i, end, []byte(secretMask), false)
			}
			secret, exempt = false, 0
			i = end
			continue
		}
		switch {
		case c == '{' || c == '[':
			m.stack = append(m.stack, c)
			expectKey = c == '{'
			i++
		case c == '"':
			end, _, maybeCard := scanString(src, i)
			if maybeCard && !isUUID(src[i:end]) && !(exempt > 0 && isHexID(src[i:end], exempt)) {
				m.maskString(i, end)
			}
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			end := i + 1
			for end < len(src) && numberByte(src[end]) {
				end++
			}
			if digits, ok := cardNumber(src[i:end], &m.num); ok {
				m.tmp = appendMasked(m.tmp[:0], digits)
				m.replace(i, end, m.tmp, true)
			}
			i = end
		default: // true, false, null, or garbage
			i = skipValue(src, i)
		}
		exempt = 0
	}
	out := m.out
	m.src, m.out = nil, nil
	if !m.changed {
		return dst, false
	}
	return append(out, src[m.last:]...), true
}

// content returns the content of the string token src[i:end], without its
// quotes (an unterminated one has no closing quote).
func content(src []byte, i, end int) []byte {
	if end-i >= 2 && src[end-1] == '"' {
		return src[i+1 : end-1]
	}
	return src[i+1 : end]
}

// maskString masks the card numbers in the string token src[i:end].
func (m *masker) maskString(i, end int) {
	c := content(m.src, i, end)
	var changed bool
	m.tmp, changed = m.cards.maskCards(m.tmp[:0], c)
	if changed {
		m.replace(i+1, i+1+len(c), m.tmp, false)
	}
}

// scanString returns the end of the string token starting at src[i] (one
// past its closing quote, or len(src) if it is unterminated), whether its
// content has no escapes, and whether it may hold a card number: at least
// 13 plain digits, or any escape or fullwidth character, which the slow
// path looks at unit by unit.
func scanString(src []byte, i int) (end int, plain, maybeCard bool) {
	digits := 0
	plain = true
	for j := i + 1; j < len(src); j++ {
		switch byteClass[src[j]] {
		case clsQuote:
			return j + 1, plain, digits >= cardMinDigits || (!plain || maybeCard)
		case clsEscape:
			plain = false
			j++
		case clsDigit:
			digits++
		case clsWide:
			maybeCard = true
		}
	}
	return len(src), plain, digits >= cardMinDigits || !plain || maybeCard
}

// skipValue returns the end of the value starting at src[i]: a string, a
// container (brackets counted outside strings), or a scalar up to the next
// delimiter. It always advances.
func skipValue(src []byte, i int) int {
	switch src[i] {
	case '"':
		end, _, _ := scanString(src, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '"':
				end, _, _ := scanString(src, j)
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(src)
	}
	j := i + 1
	for j < len(src) {
		switch src[j] {
		case ',', '}', ']', ':', ' ', '\n', '\t', '\r', '"', '{', '[':
			return j
		}
		j++
	}
	return j
}

func numberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// cardNumber reports whether the number token tok is an integer (optionally
// negative) whose digits form a card number, and returns them as values 0-9.
func cardNumber(tok []byte, d *[cardMaxDigits]byte) ([]byte, bool) {
	if len(tok) > 0 && tok[0] == '-' {
		tok = tok[1:]
	}
	if len(tok) < cardMinDigits || len(tok) > cardMaxDigits {
		return nil, false
	}
	for i, c := range tok {
		if c < '0' || c > '9' {
			return nil, false
		}
		d[i] = c - '0'
	}
	if !pdp.IsCardNumber(d[:len(tok)]) {
		return nil, false
	}
	return d[:len(tok)], true
}

// isUUID reports whether tok is a quoted canonical UUID,
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex.
func isUUID(tok []byte) bool {
	if len(tok) != 38 || tok[0] != '"' || tok[37] != '"' {
		return false
	}
	for i, c := range tok[1:37] {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isDigit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isHexID reports whether tok is a quoted string of n lower-case hex digits
// with at least one letter (all digits could be a card number).
func isHexID(tok []byte, n int) bool {
	if len(tok) != n+2 || tok[0] != '"' || tok[n+1] != '"' {
		return false
	}
	letter := false
	for _, c := range tok[1 : n+1] {
		switch {
		case c >= 'a' && c <= 'f':
			letter = true
		case !isDigit(c):
			return false
		}
	}
	return letter
}

// unescape appends the decoded content of a JSON string to dst. Malformed
// escapes are copied as they are; only key matching uses the result.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'u':
			if r, ok := hex4(s, i+1); ok {
				dst = appendRune(dst, r)
				i += 4
				continue
			}
			dst = append(dst, '\\', 'u')
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		default: // \" \\ \/ and anything else
			dst = append(dst, s[i])
		}
	}
	return dst
}

func appendRune(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	default: // surrogate halves included: they never match a key word
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
}
