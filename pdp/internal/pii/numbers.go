package pii

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/riskpdp/riskpdp/pdp"
)

// Card and identity numbers in text.
//
// A digit is any Unicode decimal digit (Nd: Arabic-Indic ٤, Devanagari ४,
// fullwidth ４, ...) or a character whose compatibility form is one
// (superscript ⁴, subscript ₄, circled ④: NumberDigit). A group is a maximal run of
// digits; invisible characters (zero-width space, joiners, marks) inside it
// are skipped. A separator is any other character that is not a letter or
// a number: spaces of every kind (NBSP, ideographic space, tab), dashes,
// dots, slashes, underscores, any punctuation or symbol (U+FFFD and an
// invalid UTF-8 byte, which JSON carries as U+FFFD, too). A run is a
// sequence of groups joined by separators; a letter (or, in Refuse mode, a
// comma, semicolon or colon) ends it.
//
// A number is a window of consecutive groups of a run. A card number: after
// the zeros leading its first group, 13 to 19 digits that pass
// pdp.IsCardNumber (issuer prefix and Luhn). A resident identity number:
// 18 digits, or 17 and an X right after them, that pass pdp.IsResidentID.
// A window of one group always counts; a window of several counts when
// every separator in it is of the same kind (whitespace and dashes are one
// kind whatever their mix and length: "4111 1111-1111  1111"; otherwise
// the characters other than whitespace and dashes, fullwidth folded:
// "4111.1111.1111.1111", "4111 / 1111 / 1111 / 1111") and, in Mask mode
// only, also when every group in it has three digits or more, whatever
// separates them ("4111.1111-1111/1111").
//
// The difference between the modes keeps the decoder from refusing
// innocent text: "31.230416, 121.473701" (coordinates), "10:30 5000.00
// 3000.00" (times and amounts) or "500, 3000, 2000, 4000" (a list) hold
// Luhn-valid windows one time in ten, and a refused request is an outage
// for the caller, a masked log field is not.

// Mode chooses how loosely digit groups join into one number.
type Mode uint8

const (
	// Refuse is the request decoder's rule: one kind of separator per
	// number; commas, semicolons and colons end a number.
	Refuse Mode = iota
	// Mask is the decision log's rule: any separator, and groups of three
	// digits or more join whatever separates them.
	Mask
)

// Kind is what a span holds.
type Kind uint8

const (
	None Kind = iota
	Card
	ResidentID
	Secret // a secret's value in free text (Scanner.Secrets)
)

func (k Kind) String() string {
	switch k {
	case Card:
		return "card"
	case ResidentID:
		return "resident_id"
	case Secret:
		return "secret"
	}
	return "none"
}

// Span is a byte range of a scanned text holding a card number, an
// identity number or a secret value.
type Span struct {
	Start, End int
	Kind       Kind
	d0, d1     int  // its digits in the Scanner (numbers)
	x          bool // an identity number ending in X
}

// group is a maximal run of digits.
type group struct {
	start, end int // its bytes
	d0, n      int // its digits in Scanner.digits
	xEnd       int // > 0: an X right after it, ending there
}

// Scanner finds card numbers, identity numbers and free-text secrets. It
// keeps its buffers from call to call: one per goroutine. The zero value
// is ready to use. Spans returned are valid until the next call.
type Scanner struct {
	digits []byte
	groups []group
	spans  []Span
	f      folded
	tok    tokenMemo
}

// MayHoldNumber is a cheap test: false means text holds no card or
// identity number (fewer than 13 digits, all ASCII).
func MayHoldNumber(text string) bool {
	if len(text) < 13 {
		return false
	}
	digits := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= utf8.RuneSelf {
			return true
		}
		if c-'0' < 10 {
			digits++
		}
	}
	return digits >= 13
}

// FirstNumber returns what the first card or identity number in text is,
// None if there is none.
func (s *Scanner) FirstNumber(text string, mode Mode) Kind {
	if !MayHoldNumber(text) {
		return None
	}
	s.scan(text, mode, true)
	if len(s.spans) == 0 {
		return None
	}
	return s.spans[0].Kind
}

// Numbers returns the card and identity numbers in text, left to right,
// not overlapping; from each group on, the longest number is taken.
func (s *Scanner) Numbers(text string, mode Mode) []Span {
	s.spans = s.spans[:0]
	if !MayHoldNumber(text) {
		return nil
	}
	s.scan(text, mode, false)
	return s.spans
}

// Masked returns text as the decision log would write it: numbers found in
// Mask mode masked, then secrets written in it (Secrets); text itself
// when there is nothing to mask. For error messages and fields, which must
// not echo either back.
func (s *Scanner) Masked(text string) string {
	for _, find := range []func(string) []Span{
		func(t string) []Span { return s.Numbers(t, Mask) },
		s.Secrets,
	} {
		for round := 0; round < 8; round++ { // a mask can join neighbours into a new number
			spans := find(text)
			if len(spans) == 0 {
				break
			}
			var b []byte
			last := 0
			for _, sp := range spans {
				b = append(b, text[last:sp.Start]...)
				b = s.AppendMasked(b, sp)
				last = sp.End
			}
			text = string(append(b, text[last:]...))
		}
	}
	return text
}

// AppendMasked appends the mask of a number span: its first 6 and last 4
// characters (ASCII digits, an identity number's X), a '*' for each one
// between; leading zeros and separators are left out. A Secret span's mask
// is "***".
func (s *Scanner) AppendMasked(dst []byte, sp Span) []byte {
	if sp.Kind == Secret {
		return append(dst, "***"...)
	}
	d := s.digits[sp.d0:sp.d1]
	n := len(d)
	if sp.x {
		n++
	}
	for i := 0; i < n; i++ {
		switch {
		case i >= keepFirst && i < n-keepLast:
			dst = append(dst, '*')
		case i == len(d):
			dst = append(dst, 'X')
		default:
			dst = append(dst, '0'+d[i])
		}
	}
	return dst
}

const (
	keepFirst = 6
	keepLast  = 4
)

func (s *Scanner) scan(text string, mode Mode, first bool) {
	s.digits, s.groups, s.spans = s.digits[:0], s.groups[:0], s.spans[:0]
	inGroup := false
	for i := 0; i < len(text); {
		if first && len(s.spans) > 0 {
			return
		}
		r, n := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(text[i:])
		}
		v, digit := NumberDigit(r)
		switch {
		case digit:
			if !inGroup {
				s.groups = append(s.groups, group{start: i, d0: len(s.digits)})
				inGroup = true
			}
			g := &s.groups[len(s.groups)-1]
			s.digits = append(s.digits, v)
			g.n++
			g.end = i + n
		case r >= utf8.RuneSelf && ignorable(r):
			// invisible: neither joins nor separates
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			if inGroup && (r == 'X' || r == 'x' || r == 'Ｘ' || r == 'ｘ') && !wordAt(text, i+n) {
				s.groups[len(s.groups)-1].xEnd = i + n
			}
			s.flush(text, mode)
			inGroup = false
		case mode == Refuse && listPunct(r):
			s.flush(text, mode)
			inGroup = false
		default: // a separator
			inGroup = false
		}
		i += n
	}
	s.flush(text, mode)
}

// NumberDigit returns the value of a digit as numbers are read: a decimal
// digit of any script (DigitValue), or a character whose compatibility
// decomposition is one ASCII digit (superscripts, subscripts, circled
// digits).
func NumberDigit(r rune) (byte, bool) {
	if v, ok := DigitValue(r); ok || r < 0xB2 {
		return v, ok
	}
	if !unicode.Is(unicode.No, r) {
		return 0, false
	}
	var buf [utf8.UTFMax]byte
	dec := norm.NFKD.Properties(utf8.AppendRune(buf[:0], r)).Decomposition()
	if len(dec) == 1 && dec[0] >= '0' && dec[0] <= '9' {
		return dec[0] - '0', true
	}
	return 0, false
}

// wordAt reports whether a letter or digit starts at text[i].
func wordAt(text string, i int) bool {
	if i >= len(text) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// listPunct ends a number in Refuse mode: list and time punctuation.
func listPunct(r rune) bool {
	switch r {
	case ',', ';', ':', '，', '；', '：', '、', '﹐', '﹔', '﹕':
		return true
	}
	return false
}

// sameSeparators reports whether text[a0:a1] and text[b0:b1], the
// separators between two groups each, are of one kind: the same
// characters once whitespace, dashes and invisible characters are dropped
// and fullwidth forms folded (an invalid byte reads as U+FFFD).
func sameSeparators(text string, a0, a1, b0, b1 int) bool {
	for {
		ra, na := nextSepRune(text, a0, a1)
		rb, nb := nextSepRune(text, b0, b1)
		if ra != rb {
			return false
		}
		if ra < 0 {
			return true
		}
		a0, b0 = na, nb
	}
}

// nextSepRune returns the first separator character of text[i:end] that
// counts for its kind, folded, and where the rest starts; -1 at the end.
func nextSepRune(text string, i, end int) (rune, int) {
	for i < end {
		r, n := utf8.DecodeRuneInString(text[i:end])
		i += n
		switch {
		case r >= utf8.RuneSelf && ignorable(r),
			r == ' ' || r == '-' || unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '−':
			continue
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == '。':
			r = '.'
		}
		return r, i
	}
	return -1, i
}

// flush looks for numbers in the current run and starts a new run.
func (s *Scanner) flush(text string, mode Mode) {
	gs := s.groups
	for st := 0; st < len(gs); {
		g0 := gs[st]
		z := 0 // leading zeros
		for z < g0.n && s.digits[g0.d0+z] == 0 {
			z++
		}
		if z == g0.n {
			st++ // all zeros: the next group starts the number if any
			continue
		}
		best, kind, x := -1, None, false
		raw := 0
		same, wide := true, true
		for e := st; e < len(gs); e++ {
			g := gs[e]
			if e > st+1 && same {
				same = sameSeparators(text, gs[st].end, gs[st+1].start, gs[e-1].end, g.start)
			}
			wide = wide && g.n >= 3
			raw += g.n
			if raw-z > cardMaxDigits && raw > 18 {
				break
			}
			if e > st && !same && !(mode == Mask && wide) {
				break
			}
			if sig := raw - z; sig >= 13 && sig <= cardMaxDigits && pdp.IsCardNumber(s.digits[g0.d0+z:g.d0+g.n]) {
				best, kind, x = e, Card, false
			}
			if z == 0 {
				d := s.digits[g0.d0 : g.d0+g.n]
				if raw == 18 && pdp.IsResidentID(d, false) || raw == 17 && g.xEnd > 0 && pdp.IsResidentID(d, true) {
					best, kind, x = e, ResidentID, raw == 17
				}
			}
		}
		if best < 0 {
			st++
			continue
		}
		sp := Span{Start: g0.start, End: gs[best].end, Kind: kind, d0: g0.d0, d1: gs[best].d0 + gs[best].n, x: x}
		if kind == Card {
			sp.d0 += z
		}
		if x {
			sp.End = gs[best].xEnd
		}
		s.spans = append(s.spans, sp)
		st = best + 1
	}
	s.groups = s.groups[:0]
}

const cardMaxDigits = 19

// IsUUID reports whether s is a canonical UUID,
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex. Its shape cannot hold a
// card number as cards are written, and ids are what logs are searched
// by: neither the decoder nor the log looks for numbers in one (an
// all-digit UUID whose 8-4-4 groups pass Luhn would otherwise read as a
// card).
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
