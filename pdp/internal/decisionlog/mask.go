package decisionlog

import (
	"bytes"
	"hash/maphash"
	"strconv"
	"strings"
	"unsafe"

	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// The masker rewrites JSON text without building a tree, on the lexer's
// loose scanners (jsonw.LooseStringEnd and the like). It copies the
// input until the first change, so a clean record costs one scan and no
// copy. It never fails: on malformed input it still ends (every step
// advances) and returns something, though not necessarily JSON; on valid
// JSON its output is valid JSON, since it only replaces a string's content
// with other content, a number with a string, or a value with "***".
//
// One pass masks keys, strings and numbers (content.go); a second pass,
// only when some object or array holds neighbouring values with 13 digits
// or more between them, masks cards split across them (splits.go).

// secretMask replaces the value of a secret-looking key.
const secretMask = `"***"`

// masker holds the scratch space of MaskJSON; one per goroutine.
type masker struct {
	scan   pii.Scanner
	key    []byte    // a decoded key
	stack  []byte    // '{' and '[' of the open containers
	runs   []int     // per open container: digits of the pieces just seen (splits.go)
	tmp    []byte    // a masked string or number
	text   []byte    // a decoded string
	offs   []int32   // raw offset of each byte of text
	rounds [2][]byte // masking rounds of one string
	pass1  []byte    // the first pass's output, when the second runs
	pieces []piece   // splits.go
	digits []byte    // splits.go
	seq    []int     // splits.go

	// The output of the current pass.
	src     []byte
	out     []byte
	last    int // src[:last] has been dealt with
	changed bool

	memo *memoTable // what short strings turned out to be (secretKey, maskString); nil: none kept
	pos  []posEntry // the short clean string tokens of the last record, by ordinal
	npos int        // ordinal of the next string token of this pass

	needSplit bool // the first pass saw neighbouring values with 13+ digits
	inInput   int  // record mode: stack depth of the top-level "input" value, 0 outside
}

// MaskJSON appends to dst the JSON text src with card and identity
// numbers, free-text secrets and cards split across neighbouring values
// masked and the values of secret-looking keys replaced by "***", and
// returns it; it returns src itself, not a copy, when there is nothing to
// mask. See the package documentation for the rules. Valid JSON in gives
// valid JSON out; anything else gives some output and no panic.
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

// start makes src the input and dst the output of a pass.
func (m *masker) start(dst, src []byte) {
	m.src, m.out, m.last, m.changed = src, dst, 0, false
	m.stack, m.runs = m.stack[:0], m.runs[:0]
}

// finish ends a pass: the output, and whether anything changed (if not,
// the output is dst as given to start).
func (m *masker) finish() ([]byte, bool) {
	out := m.out
	if m.changed {
		out = append(out, m.src[m.last:]...)
	}
	m.src, m.out = nil, nil
	return out, m.changed
}

// mask appends the masked src to dst if anything needs masking and reports
// whether it did; otherwise dst is returned unchanged. A string that is a
// canonical UUID is not searched for numbers; with record set, neither are
// a top-level "trace_id" or "span_id" of the W3C shape (see doc.go), and
// split cards are looked for in the top-level "input" only (the rest is
// the sidecar's own).
func (m *masker) mask(dst, src []byte, record bool) ([]byte, bool) {
	base := len(dst)
	out, changed := m.maskValues(dst, src, record)
	if !m.needSplit {
		return out, changed
	}
	in := src
	if changed {
		m.pass1 = append(m.pass1[:0], out[base:]...)
		in = m.pass1
	}
	out2, changed2 := m.maskSplits(dst[:base], in, record)
	switch {
	case changed2:
		return out2, true
	case changed:
		return append(dst[:base], m.pass1...), true
	}
	return dst, false
}

// maskValues is the first pass.
func (m *masker) maskValues(dst, src []byte, record bool) ([]byte, bool) {
	m.start(dst, src)
	m.needSplit, m.inInput, m.npos = false, 0, 0
	expectKey := false
	secret, exempt, input := false, 0, false // what the last key says about its value
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
			continue
		case c == ',':
			expectKey = len(m.stack) > 0 && m.stack[len(m.stack)-1] == '{'
			secret, exempt, input = false, 0, false
			i++
			continue
		case c == ':':
			expectKey = false
			i++
			continue
		case c == '}' || c == ']':
			if len(m.stack) > 0 {
				if len(m.stack) == m.inInput {
					m.inInput = 0
				}
				m.stack, m.runs = m.stack[:len(m.stack)-1], m.runs[:len(m.runs)-1]
			}
			expectKey, secret, exempt, input = false, false, 0, false
			i++
			continue
		}
		// A key or a value starts at i.
		if c == '"' && expectKey && len(m.stack) > 0 && m.stack[len(m.stack)-1] == '{' {
			k, e := m.recall(src, i, posKey)
			if e != nil { // the same token as last time: the same verdict
				end := i + len(e.tok)
				secret, exempt, input = e.secret, 0, false
				if record && len(m.stack) == 1 {
					exempt, input = m.topKey(src[i+1 : end-1])
				}
				expectKey = false
				i = end
				continue
			}
			st := scanString(src, i)
			key := jsonw.StringContent(src[i:st.end])
			if st.flags&fEscape != 0 {
				m.key = jsonw.Unescape(m.key[:0], key)
				key = m.key
			}
			// One cheap test serves the key's name and its content
			// (the same bytes when there is no escape).
			mayName := st.flags&(fHigh|fEscape) != 0 || st.flags&fLetter != 0 && pii.MayNameSecret(unsafe.String(unsafe.SliceData(key), len(key)))
			secret = mayName && m.secretKey(key)
			exempt, input = 0, false
			if record && len(m.stack) == 1 {
				exempt, input = m.topKey(key)
			}
			changed := false
			if (mayName || st.digits >= 13) && !isUUID(src[i:st.end]) {
				changed = m.maskString(i, st.end)
			}
			if !changed && st.flags&fEscape == 0 {
				m.store(k, src, i, st.end, posKey, secret, 0)
			}
			expectKey = false
			i = st.end
			continue
		}
		if secret {
			end := jsonw.LooseValueEnd(src, i)
			if lit := src[i:end]; string(lit) != "null" && string(lit) != "true" && string(lit) != "false" {
				m.replace(i, end, []byte(secretMask), false)
			}
			m.piece(-1)
			secret, exempt = false, 0
			i = end
			continue
		}
		switch {
		case c == '{' || c == '[':
			m.piece(-1)
			m.stack, m.runs = append(m.stack, c), append(m.runs, 0)
			if input && m.inInput == 0 {
				m.inInput = len(m.stack)
			}
			expectKey = c == '{'
			i++
		case c == '"':
			k, e := m.recall(src, i, posValue)
			if e != nil && exempt == 0 { // the same token as last time: the same verdict
				if !record || m.inInput > 0 {
					m.piece(e.piece)
				}
				i += len(e.tok)
				break
			}
			st := scanString(src, i)
			c := jsonw.StringContent(src[i:st.end])
			changed := false
			if !isUUID(src[i:st.end]) && !(exempt > 0 && isHexID(src[i:st.end], exempt)) && st.mayHold(c) {
				changed = m.maskString(i, st.end)
			}
			pd := st.pieceDigits(c)
			if !record || m.inInput > 0 {
				m.piece(pd)
			}
			if !changed && exempt == 0 && st.flags&fEscape == 0 {
				m.store(k, src, i, st.end, posValue, false, pd)
			}
			i = st.end
		case c == '-' || (c >= '0' && c <= '9'):
			end := jsonw.LooseNumberEnd(src, i)
			m.maskNumber(i, end)
			if !record || m.inInput > 0 {
				m.piece(intDigits(src[i:end]))
			}
			i = end
		default: // true, false, null, or garbage
			m.piece(-1)
			i = jsonw.LooseValueEnd(src, i)
		}
		exempt, input = 0, false
	}
	return m.finish()
}

// piece notes a value of the innermost container: d digits if it is a
// piece of a possible split card (a string of digits and spaces, an
// integer), -1 if not. Once the pieces in a row hold 13 digits or more,
// the second pass runs.
func (m *masker) piece(d int) {
	if len(m.runs) == 0 {
		return
	}
	r := &m.runs[len(m.runs)-1]
	if d < 0 {
		*r = 0
		return
	}
	if *r += d; *r >= 13 {
		m.needSplit = true
	}
}

// intDigits returns the digits of an integer literal (optionally
// negative), -1 for any other number.
func intDigits(tok []byte) int {
	if len(tok) > 0 && tok[0] == '-' {
		tok = tok[1:]
	}
	for _, c := range tok {
		if !isDigit(c) {
			return -1
		}
	}
	return len(tok)
}

// topKey says what a top-level key of a record says about its value: the
// length of a W3C id it may be (trace_id, span_id), and whether it is the
// caller's input. The tokens of the members of varying length start at
// fixed ordinals of the positional memo.
func (m *masker) topKey(key []byte) (exempt int, input bool) {
	switch string(key) {
	case "trace_id":
		return 32, false
	case "span_id":
		return 16, false
	case "input":
		m.npos = posInput
		return 0, true
	case "enrichment":
		m.npos = posEnrichment
	case "result":
		m.npos = posResult
	case "bundles":
		m.npos = posTail
	}
	return 0, false
}

// maskString masks what the string token src[i:end] holds and reports
// whether it changed anything.
func (m *masker) maskString(i, end int) bool {
	c := jsonw.StringContent(m.src[i:end])
	if m.known(c, memoClean) {
		return false
	}
	var changed bool
	m.tmp, changed = m.maskContent(m.tmp[:0], c)
	if changed {
		m.replace(i+1, i+1+len(c), m.tmp, false)
		return true
	}
	m.remember(c, memoClean)
	return false
}

// The positional memo: consecutive records have the same shape, so the
// n-th string token of a record is most often the n-th of the last one
// ("card_bin", "count_1h", "payment", "CN"). The masker keeps each short
// token it left unchanged, raw and with its quotes, with what it found
// (a key naming a secret; a value's pieceDigits), under its ordinal in
// the pass. A token whose raw bytes, closing quote included, equal the
// kept one at its ordinal is the same token and gets the same verdict
// without being scanned: one comparison instead of the byte classes,
// the secret-name test and a memo lookup. The verdict depends on the
// raw bytes alone (tokens with escapes are not kept; a value under an
// exempting key neither looks up nor is kept), so the output is what
// the full scan would write. In a record, the tokens of "input",
// "enrichment", "result" and from "bundles" on start at fixed ordinals
// (topKey), so that an input of another shape than the last one's (the
// stage, the caller's optional fields) does not shift what follows it.
type posEntry struct {
	tok    []byte // the raw token, quotes included; empty: none
	kind   uint8  // posKey or posValue
	secret bool   // a key that names a secret
	piece  int    // a value's pieceDigits
}

const (
	posKey uint8 = iota + 1
	posValue

	// The ordinals of a record's members of varying length.
	posInput      = 16
	posEnrichment = posInput + 1024
	posResult     = posEnrichment + 1024
	posTail       = posResult + 256
	posMaxEntries = posTail + 256
)

// recall returns the ordinal of the string token at src[i] and, if the
// kept token of that ordinal and kind is the same, its entry.
func (m *masker) recall(src []byte, i int, kind uint8) (int, *posEntry) {
	k := m.npos
	m.npos++
	if k >= len(m.pos) {
		return k, nil
	}
	e := &m.pos[k]
	if n := len(e.tok); n == 0 || e.kind != kind || len(src)-i < n || string(src[i:i+n]) != string(e.tok) {
		return k, nil
	}
	return k, e
}

// store keeps the clean string token src[i:end] under ordinal k.
func (m *masker) store(k int, src []byte, i, end int, kind uint8, secret bool, piece int) {
	if k >= posMaxEntries || end-i > memoMaxLen+2 || end-i < 2 || src[end-1] != '"' {
		return
	}
	for len(m.pos) <= k {
		m.pos = append(m.pos, posEntry{})
	}
	e := &m.pos[k]
	e.tok = append(e.tok[:0], src[i:end]...)
	e.kind, e.secret, e.piece = kind, secret, piece
}

// secretKey reports whether a decoded key names a secret (pii.SecretKey);
// the caller has made the cheap test (pii.MayNameSecret).
func (m *masker) secretKey(key []byte) bool {
	if m.known(key, memoPlainKey) {
		return false
	}
	if m.known(key, memoSecretKey) {
		return true
	}
	secret := pii.SecretKeyBytes(key)
	if secret {
		m.remember(key, memoSecretKey)
	} else {
		m.remember(key, memoPlainKey)
	}
	return secret
}

// The memo: a record's keys and most of its short strings are the same
// from record to record ("card_bin", "password_reset", "sms"), and those
// the cheap tests let through cost a fold each. An encoder's masker
// remembers what they turned out to be, for strings of up to memoMaxLen
// bytes, in a direct-mapped table: a string's slot is picked by its hash
// and holds its bytes, so a lookup is one hash and one comparison, and
// remembering allocates nothing; the strings unique to a record (its UID,
// transaction, device) only take over a few slots, where a map grew,
// rehashed and was dropped every few thousand records. Exact: a verdict
// is returned only for the very bytes it was found for.
const (
	memoClean     uint8 = 1 << iota // string content with nothing to mask
	memoPlainKey                    // a key that names no secret
	memoSecretKey                   // a key that names one
	memoMaxLen    = 64
	memoSlots     = 2048
)

type memoSlot struct {
	n    uint8 // the string's length + 1; 0: empty slot
	bits uint8
	b    [memoMaxLen]byte
}

type memoTable [memoSlots]memoSlot

var memoSeed = maphash.MakeSeed()

// slot returns s's slot and whether it holds s (len(s) <= memoMaxLen).
func (t *memoTable) slot(s []byte) (*memoSlot, bool) {
	sl := &t[maphash.Bytes(memoSeed, s)&(memoSlots-1)]
	return sl, int(sl.n) == len(s)+1 && string(sl.b[:len(s)]) == string(s)
}

func (m *masker) known(s []byte, bit uint8) bool {
	if len(s) > memoMaxLen || m.memo == nil {
		return false
	}
	sl, ok := m.memo.slot(s)
	return ok && sl.bits&bit != 0
}

func (m *masker) remember(s []byte, bit uint8) {
	if len(s) > memoMaxLen || m.memo == nil {
		return
	}
	sl, ok := m.memo.slot(s)
	if !ok {
		sl.n, sl.bits = uint8(len(s)+1), 0
		copy(sl.b[:], s)
	}
	sl.bits |= bit
}

// maskNumber masks a card or identity number written as the number token
// src[i:end]: the token becomes a string holding its masked text. Only an
// integer can hold one (a fraction of zeros, "4111…1111.00", counts as
// one): the digits around a decimal point or before an exponent are an
// amount (a sum such as 46230.550000000001 may read as a Luhn-valid run),
// and masking one would turn a number into a string the record's readers
// refuse.
func (m *masker) maskNumber(i, end int) {
	tok := m.src[i:end]
	if len(tok) < 13 || !integral(tok) {
		return
	}
	s := unsafe.String(unsafe.SliceData(tok), len(tok))
	spans := m.scan.Numbers(s, pii.Mask)
	if len(spans) == 0 {
		return
	}
	m.tmp = m.tmp[:0]
	last := 0
	for _, sp := range spans {
		m.tmp = append(m.tmp, tok[last:sp.Start]...)
		m.tmp = m.scan.AppendMasked(m.tmp, sp)
		last = sp.End
	}
	m.tmp = append(m.tmp, tok[last:]...)
	m.replace(i, end, m.tmp, true)
}

// integral reports whether a JSON number token's value is an integer:
// its fraction digits, once the exponent has moved the point, are zeros
// (4111111111111111.0 and 4.111111111111111e15 are; 46230.55000000001 is
// not, nor is 4.1e-3).
func integral(tok []byte) bool {
	mant, exp := tok, 0
	for j, c := range tok {
		if c == 'e' || c == 'E' {
			mant = tok[:j]
			e, err := strconv.Atoi(strings.TrimPrefix(string(tok[j+1:]), "+"))
			if err != nil || e > 400 {
				return false
			}
			exp = e
			break
		}
	}
	dot := bytes.IndexByte(mant, '.')
	if dot < 0 {
		return exp >= 0
	}
	frac := mant[dot+1:]
	if exp >= 0 {
		frac = frac[min(exp, len(frac)):]
	}
	return exp >= 0 && len(bytes.Trim(frac, "0")) == 0
}

// isUUID reports whether tok is a quoted canonical UUID (pii.IsUUID).
func isUUID(tok []byte) bool {
	return len(tok) == 38 && tok[0] == '"' && tok[37] == '"' && pii.IsUUID(unsafe.String(unsafe.SliceData(tok[1:37]), 36))
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
