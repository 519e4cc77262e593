package pii

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Secrets written in free text: "my password is hunter2", "CVV 123",
// "pin: 4321", "验证码是123456". The text is folded as a key is and every
// name of a secret in it (the same vocabulary and word rules as for keys)
// is looked at; one followed directly by a fact word ("password reset
// link", "验证码发送成功") is not. The value is the word after the name,
// past spaces, quotes, ':' / '=' / '：' and the connecting words is, was,
// are, be, equals, of, 是, 为. It is a secret when it holds a digit, or,
// for passwords and keys, also when a connecting word or sign preceded it
// or it holds a symbol ("password hunter2!"). A word ends at a space, a
// Chinese character or punctuation such as , ; ) ， 。; a final . ! or ? is
// not part of it. After an English name the value must be apart from it
// ("cvv2" is a name, not "cvv" and 2); Chinese is written without spaces.

// Secrets returns the spans of secret values written in text, left to
// right, not overlapping. Already masked values ("***") are not returned.
func (s *Scanner) Secrets(text string) []Span {
	s.spans = s.spans[:0]
	if quickClean(text) {
		return nil
	}
	f := &s.f
	f.reset(true)
	f.fold(text)
	s.tok = tokenMemo{end: -1}
	f.occurrences(func(t *term, a, e int) bool {
		if f.judge(t, a, e, true) != isSecret {
			return true
		}
		i := int(f.srcEnd[e-1])
		if t.s[0] < utf8.RuneSelf && wordAt(text, i) {
			return true // "cvv2": the name goes on, no value follows
		}
		start, end, ok := s.valueAfter(text, i, t.kind)
		if ok {
			s.addSpan(Span{Start: start, End: end, Kind: Secret})
		}
		return true
	})
	return s.spans
}

// addSpan inserts sp in order unless it overlaps a span already found.
func (s *Scanner) addSpan(sp Span) {
	i := len(s.spans)
	for i > 0 && s.spans[i-1].Start > sp.Start {
		i--
	}
	if i > 0 && s.spans[i-1].End > sp.Start || i < len(s.spans) && s.spans[i].Start < sp.End {
		return
	}
	s.spans = append(s.spans, Span{})
	copy(s.spans[i+1:], s.spans[i:])
	s.spans[i] = sp
}

// tokenMemo remembers the last value word read, so that a value starting
// inside it ("pin-pin-pin-…", every name followed by the rest of the text
// as one word) is not read again: Secrets stays linear.
type tokenMemo struct {
	start, end         int // the word text[start:end] (end -1: none yet)
	lastDigit, lastSym int // the last digit and symbol in it, -1 if none
}

// valueAfter finds the value following a secret's name that ends at
// text[i]: its byte range, and whether it looks like a value of kind.
func (s *Scanner) valueAfter(text string, i int, kind valueKind) (start, end int, ok bool) {
	joined := false // a connecting word or sign was passed
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == ':' || r == '=' || r == '：' || r == '＝':
			joined = true
		case unicode.IsSpace(r), r >= utf8.RuneSelf && ignorable(r), leadPunct(r):
		default:
			if m := connectorAt(text, i); m > 0 {
				joined = true
				n = m
				break
			}
			goto token
		}
		i += n
	}
token:
	start = i
	m := &s.tok
	if !(start >= m.start && start < m.end) {
		m.start, m.lastDigit, m.lastSym = start, -1, -1
		for i < len(text) {
			r, n := utf8.DecodeRuneInString(text[i:])
			if unicode.IsSpace(r) || unicode.Is(unicode.Han, r) || stopPunct(r) {
				break
			}
			if _, d := NumberDigit(r); d {
				m.lastDigit = i
			} else if !unicode.IsLetter(r) && r != '*' {
				m.lastSym = i
			}
			i += n
		}
		m.end = i
	}
	end = m.end
	digit, symbol := m.lastDigit >= start, m.lastSym >= start
	for end > start && strings.IndexByte(".!?", text[end-1]) >= 0 {
		end--
	}
	if end == start || strings.Trim(text[start:end], "*") == "" {
		return 0, 0, false
	}
	if kind == kindPassword {
		return start, end, joined || digit || symbol
	}
	return start, end, digit
}

// connectorAt returns the length of a connecting word at text[i] ("is",
// "是"), 0 if there is none.
func connectorAt(text string, i int) int {
	for _, c := range connectors {
		if len(text)-i < len(c) || !strings.EqualFold(text[i:i+len(c)], c) {
			continue
		}
		if c[0] >= utf8.RuneSelf || !wordAt(text, i+len(c)) {
			return len(c)
		}
	}
	return 0
}

// leadPunct may stand between a name and its value: quotes, brackets,
// dashes, '#'.
func leadPunct(r rune) bool {
	switch r {
	case '"', '\'', '`', '(', '[', '-', '#', '“', '”', '‘', '’', '「', '」', '『', '』', '（', '【', '—', '–':
		return true
	}
	return false
}

// stopPunct ends a value.
func stopPunct(r rune) bool {
	switch r {
	case ',', ';', '"', '\'', '`', ')', ']', '}', '<', '>':
		return true
	}
	return r >= 0x3000 && r <= 0x303F || // CJK punctuation, 。 、 「 」
		r >= 0xFF01 && r <= 0xFF0F || r >= 0xFF1A && r <= 0xFF20 || // fullwidth ！ ， ． ： ； ？
		r >= 0x2018 && r <= 0x201F // curly quotes
}
