package jsonw

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The lexer: the token scanning the sidecar's JSON readers share (the
// strict request decoder, Compact, the decision log masker), so that they
// agree on where a token ends and what a string holds. It finds tokens and
// nothing more; what to do with them (a term tree, compacted text, masked
// text), nesting and its limits, duplicate keys and the paths that errors
// name are each reader's own.
//
// The strict scanners (StringEnd, NumberEnd, LiteralEnd) accept exactly
// RFC 8259's tokens and report the first fault as a *SyntaxError. The
// loose ones (LooseStringEnd, LooseNumberEnd, LooseValueEnd, and
// ByteClasses.LooseString, which sorts a string's bytes as it goes) read
// text that may not be JSON, for the masker, which must end on anything:
// they never fail and always advance. On valid JSON the two agree, and string
// content as Unescape decodes it is what encoding/json decodes (FuzzLexer
// holds them to encoding/json).

// MaxDepth is encoding/json's nesting limit: Compact's, as json.Valid's.
const MaxDepth = 10000

// A SyntaxError is a token that is not JSON: what is wrong, at which
// offset of the input.
type SyntaxError struct {
	Msg    string // "invalid escape", "unterminated string", ...
	Offset int
}

func (e *SyntaxError) Error() string { return e.Msg + " at offset " + strconv.Itoa(e.Offset) }

// The strict scanners' faults. The internal scanners return one of these
// (or "") and its offset, so that a reader that only asks whether a token
// is valid (ValidNumber) allocates nothing.
const (
	errNumber      = "invalid number"
	errLeadingZero = "invalid number: leading zero"
	errFraction    = "invalid number: digits expected after '.'"
	errExponent    = "invalid number: digits expected in exponent"
	errControl     = "control character in string"
	errEscape      = "invalid escape"
	errUEscape     = "invalid \\u escape"
	errUnterm      = "unterminated string"
	errLiteral     = "invalid literal"
)

func fault(msg string, off int) *SyntaxError {
	if msg == "" {
		return nil
	}
	return &SyntaxError{Msg: msg, Offset: off}
}

// IsSpace reports whether c is JSON whitespace: space, tab, LF or CR.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the offset of the first byte at or after src[i] that
// is not whitespace, len(src) if there is none.
func SkipSpace(src []byte, i int) int {
	for i < len(src) && IsSpace(src[i]) {
		i++
	}
	return i
}

// NumberEnd returns the end of the number token that starts at src[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, no digit after a
// leading zero. A fault is reported at the first byte that breaks it.
func NumberEnd[T string | []byte](src T, i int) (int, *SyntaxError) {
	end, msg := numberEnd(src, i)
	return end, fault(msg, end)
}

// numberEnd is NumberEnd without the allocation: on a fault, msg says
// which and end is its offset.
func numberEnd[T string | []byte](s T, i int) (end int, msg string) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
		if i < len(s) && isDigit(s[i]) {
			return i, errLeadingZero
		}
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return i, errNumber
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == d {
			return i, errFraction
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == d {
			return i, errExponent
		}
	}
	return i, ""
}

// StringFlags says what a string token holds besides plain printable
// ASCII.
type StringFlags uint8

const (
	// Escaped: a backslash escape; the content needs Unescape.
	Escaped StringFlags = 1 << iota
	// NonASCII: a byte above 0x7F, which StringEnd does not check (nor
	// does json.Valid; encoding/json decodes invalid UTF-8 as U+FFFD).
	NonASCII
)

// StringEnd returns the end of the string token whose opening quote is
// src[i] (one past its closing quote) and what it holds. It refuses
// control characters and escapes other than \" \\ \/ \b \f \n \r \t and
// \u with four hex digits. Its content, src[i+1:end-1], is as written:
// Unescape decodes it.
func StringEnd(src []byte, i int) (end int, flags StringFlags, err *SyntaxError) {
	j := i + 1
	for {
		k := indexSpecial(src[j:])
		if k < 0 {
			return len(src), flags, fault(errUnterm, len(src))
		}
		j += k
		switch c := src[j]; {
		case c == '"':
			return j + 1, flags, nil
		case c == '\\':
			flags |= Escaped
			j++
			if j >= len(src) {
				return len(src), flags, fault(errUnterm, len(src))
			}
			switch src[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(src, j+1); !ok {
					return j, flags, fault(errUEscape, j)
				}
				j += 4
			default:
				return j, flags, fault(errEscape, j)
			}
		case c < 0x20:
			return j, flags, fault(errControl, j)
		default: // c >= utf8.RuneSelf
			flags |= NonASCII
		}
		j++
	}
}

// indexSpecial returns the index of the first byte of s that is not a
// plainByte, -1 if there is none.
func indexSpecial(s []byte) int {
	for k, c := range s {
		if !plainByte[c] {
			return k
		}
	}
	return -1
}

// plainByte: string content that takes no second look, printable ASCII
// other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// LiteralEnd returns the end of the literal true, false or null that
// starts at src[i] (chosen by its first byte).
func LiteralEnd(src []byte, i int) (int, *SyntaxError) {
	end, msg := literalEnd(src, i)
	return end, fault(msg, i)
}

func literalEnd(src []byte, i int) (int, string) {
	var lit string
	switch {
	case i >= len(src):
		return i, errLiteral
	case src[i] == 't':
		lit = "true"
	case src[i] == 'f':
		lit = "false"
	case src[i] == 'n':
		lit = "null"
	default:
		return i, errLiteral
	}
	if len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
		return i, errLiteral
	}
	return i + len(lit), ""
}

// Unescape appends to dst the content of a string token (without its
// quotes) with its escapes decoded as encoding/json decodes them: a
// surrogate pair is one character, a lone surrogate U+FFFD. Raw bytes are
// copied as they are, invalid UTF-8 included (a strict reader checks it
// first). It never fails: on content StringEnd refuses, a malformed \u
// escape is kept as "\u", any other backslash gives the byte after it, and
// a backslash at the end is kept.
func Unescape(dst, content []byte) []byte {
	for i := 0; i < len(content); {
		j := i
		for j < len(content) && content[j] != '\\' {
			j++
		}
		dst = append(dst, content[i:j]...)
		if j >= len(content) {
			break
		}
		var n int
		dst, n = UnescapeOne(dst, content, j)
		i = j + n
	}
	return dst
}

// UnescapeOne appends the decoding of the escape at content[i] (a
// backslash) as Unescape does, and returns the number of bytes it took:
// 12 for a surrogate pair, 6 for any other \uXXXX, 2 for the rest (and a
// malformed escape), 1 for a backslash at the end.
func UnescapeOne(dst, content []byte, i int) ([]byte, int) {
	if i+1 >= len(content) {
		return append(dst, '\\'), 1
	}
	switch c := content[i+1]; c {
	case 'u':
		r, ok := hex4(content, i+2)
		if !ok {
			return append(dst, '\\', 'u'), 2
		}
		if utf16.IsSurrogate(r) {
			if i+7 < len(content) && content[i+6] == '\\' && content[i+7] == 'u' {
				if r2, ok := hex4(content, i+8); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						return utf8.AppendRune(dst, d), 12
					}
				}
			}
			return utf8.AppendRune(dst, utf8.RuneError), 6
		}
		return utf8.AppendRune(dst, r), 6
	case 'b':
		return append(dst, '\b'), 2
	case 'f':
		return append(dst, '\f'), 2
	case 'n':
		return append(dst, '\n'), 2
	case 'r':
		return append(dst, '\r'), 2
	case 't':
		return append(dst, '\t'), 2
	default: // \" \\ \/ and anything else
		return append(dst, c), 2
	}
}

// hex4 decodes the four hex digits of a \uXXXX escape at s[i:]; ok is
// false when there are not four.
func hex4(s []byte, i int) (_ rune, ok bool) {
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

// LooseStringEnd returns the end of the string token whose opening quote
// is src[i]: one past the next quote not escaped by a backslash, len(src)
// if there is none. It checks nothing else.
func LooseStringEnd(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	return len(src)
}

// ByteClasses sorts the bytes of string content for a reader that needs
// to know what a string holds (the decision log masker: digits, letters,
// non-ASCII) from the lexer's one pass over it. A byte's class is a set
// of the reader's bits (below EscapeClass), or Counted.
type ByteClasses struct{ t [256]uint8 }

const (
	// EscapeClass is in the classes of content with a backslash escape.
	EscapeClass uint8 = 0x20
	// Counted bytes are counted, not added to the classes.
	Counted uint8 = 0x40

	clsQuote     uint8 = 0x80 // the lexer's own
	clsBackslash uint8 = 0x81
)

// NewByteClasses makes the table of class; it panics if class gives a
// byte anything but a set of bits below EscapeClass, or Counted.
func NewByteClasses(class func(c byte) uint8) *ByteClasses {
	var t ByteClasses
	for c := range 256 {
		cls := class(byte(c))
		if cls >= EscapeClass && cls != Counted {
			panic("jsonw: byte class " + strconv.Itoa(int(cls)) + " is reserved")
		}
		t.t[c] = cls
	}
	t.t['"'], t.t['\\'] = clsQuote, clsBackslash
	return &t
}

// LooseString is LooseStringEnd(src, i) that also sorts the content in
// the same pass: classes is the union of its bytes' classes (EscapeClass
// for a backslash escape, whose second byte is not sorted), counted the
// number of its bytes of class Counted.
func (t *ByteClasses) LooseString(src []byte, i int) (end int, classes uint8, counted int) {
	for j := i + 1; j < len(src); j++ {
		switch cls := t.t[src[j]]; cls {
		case clsQuote:
			return j + 1, classes, counted
		case clsBackslash:
			classes |= EscapeClass
			j++
		case Counted:
			counted++
		default:
			classes |= cls
		}
	}
	return len(src), classes, counted
}

// LooseNumberEnd returns the end of the run of number bytes (digits, + -
// . e E) that starts at src[i], at least i+1.
func LooseNumberEnd(src []byte, i int) int {
	j := i + 1
	for j < len(src) && isNumberByte(src[j]) {
		j++
	}
	return j
}

func isNumberByte(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// LooseValueEnd returns the end of the value that starts at src[i] (i <
// len(src)): a string (LooseStringEnd), a container (its brackets counted
// outside strings, whichever kind closes it), or anything else up to the
// next delimiter, whitespace or quote. It always advances.
func LooseValueEnd(src []byte, i int) int {
	switch src[i] {
	case '"':
		return LooseStringEnd(src, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '"':
				j = LooseStringEnd(src, j) - 1
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// StringContent returns the content of a string token as StringEnd or
// LooseStringEnd delimit it: tok without its quotes. An unterminated one
// (LooseStringEnd at the end of the input) has no closing quote to drop.
func StringContent(tok []byte) []byte {
	if len(tok) >= 2 && tok[len(tok)-1] == '"' {
		return tok[1 : len(tok)-1]
	}
	return tok[1:]
}
