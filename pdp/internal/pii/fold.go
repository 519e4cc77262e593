package pii

import (
	"sort"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Folding. A key or a text is reduced to the characters that carry its
// meaning, with the places where words start:
//
//   - each character is decomposed by compatibility (NFKD, the mapping NFKC
//     also applies: fullwidth ｃ, mathematical 𝐩, circled ⓟ, ligatures ﬁ
//     become c, p, p, fi), and combining marks, format characters and
//     other default-ignorable code points (zero-width space and joiners,
//     soft hyphen, word joiner, BOM, variation selectors, Hangul fillers)
//     are dropped without a trace: "cv\u200bv" is "cvv";
//   - Cyrillic, Greek, Armenian and Latin small-capital look-alikes of
//     Latin letters become those letters (homoglyphs below), ß becomes ss;
//   - letters are lower-cased; decimal digits of any script (Unicode Nd:
//     Arabic-Indic ٤, Devanagari ४, fullwidth ４) become 0-9;
//   - everything else (punctuation, spaces, symbols) is a separator and is
//     dropped, leaving a word boundary.
//
// A word also starts at a camelCase hump ("pinValue" → pin|value,
// "SMSCode" → sms|code), between letters and digits ("cvv2" → cvv|2), and
// where the script changes (Latin, Chinese, other letters).

// Character classes of folded characters.
const (
	clNone uint8 = iota
	clLower
	clUpper
	clDigit
	clHan
	clOther // letters of other scripts
)

// folded is the folded form of a key or a text.
type folded struct {
	b []byte // lower-case a-z, 0-9 and other letters (UTF-8)
	// bound has bit i set when a word starts at b[i] (i > 0; b[0] always
	// starts one); seps when a separator stood before b[i].
	bound, seps []uint64
	// srcEnd[i] is the offset in the source just past the character b[i]
	// came from (text mode only).
	srcEnd []int32
	text   bool

	// leet records, in key mode, where a '@' or '$' stood between two
	// letters (position in b, the byte), for the look-alike pass.
	leet []leetMark

	prev     uint8 // class of the last character
	upperRun int   // upper-case letters just emitted
	sep      bool  // a separator since the last character

	factDone bool // lastFact is known (lastFactAt)
	lastFact int
}

type leetMark struct {
	at int
	c  byte
}

// reset empties f for a new source, keeping its storage.
func (f *folded) reset(text bool) {
	f.b, f.bound, f.seps, f.srcEnd, f.leet = f.b[:0], f.bound[:0], f.seps[:0], f.srcEnd[:0], f.leet[:0]
	f.text, f.prev, f.upperRun, f.sep = text, clNone, 0, false
	f.factDone = false
}

// isBound reports whether a word starts at i (0 and len(b) count).
func (f *folded) isBound(i int) bool {
	if i <= 0 || i >= len(f.b) {
		return true
	}
	return i>>6 < len(f.bound) && f.bound[i>>6]&(1<<(i&63)) != 0
}

func (f *folded) setBound(i int) {
	for i>>6 >= len(f.bound) {
		f.bound = append(f.bound, 0)
	}
	f.bound[i>>6] |= 1 << (i & 63)
}

// sepAt reports whether a separator stood before b[i].
func (f *folded) sepAt(i int) bool {
	return i>>6 < len(f.seps) && f.seps[i>>6]&(1<<(i&63)) != 0
}

// wordEnd returns the end of the word holding b[i-1] (the next boundary at
// or after i).
func (f *folded) wordEnd(i int) int {
	for i < len(f.b) && !f.isBound(i) {
		i++
	}
	return i
}

func script(cl uint8) uint8 {
	if cl == clUpper {
		return clLower
	}
	return cl
}

// before decides whether a word starts at the character about to be
// appended, of class cl.
func (f *folded) before(cl uint8) {
	n := len(f.b)
	if n > 0 {
		if f.sep {
			for n>>6 >= len(f.seps) {
				f.seps = append(f.seps, 0)
			}
			f.seps[n>>6] |= 1 << (n & 63)
		}
		switch {
		case f.sep, script(cl) != script(f.prev):
			f.setBound(n)
		case cl == clUpper && f.prev == clLower:
			f.setBound(n)
		case cl == clLower && f.prev == clUpper && f.upperRun >= 2:
			// "SMSCode": the last capital starts the next word.
			f.setBound(n - 1)
		}
	}
	if cl == clUpper {
		f.upperRun++
	} else {
		f.upperRun = 0
	}
	f.prev, f.sep = cl, false
}

func (f *folded) emit(c byte, cl uint8, end int) {
	f.before(cl)
	f.b = append(f.b, c)
	if f.text {
		f.srcEnd = append(f.srcEnd, int32(end))
	}
}

func (f *folded) emitRune(r rune, cl uint8, end int) {
	f.before(cl)
	n := len(f.b)
	f.b = utf8.AppendRune(f.b, r)
	if f.text {
		for ; n < len(f.b); n++ {
			f.srcEnd = append(f.srcEnd, int32(end))
		}
	}
}

// separator notes a separator; c is its byte when ASCII (0 otherwise).
func (f *folded) separator(c byte) {
	if !f.text && (c == '@' || c == '$') && (f.prev == clLower || f.prev == clUpper) {
		f.leet = append(f.leet, leetMark{at: len(f.b), c: c})
	}
	f.sep = true
}

// addASCII folds one ASCII byte that ends at src offset end.
func (f *folded) addASCII(c byte, end int) {
	switch {
	case c >= 'a' && c <= 'z':
		f.emit(c, clLower, end)
	case c >= 'A' && c <= 'Z':
		f.emit(c+'a'-'A', clUpper, end)
	case c >= '0' && c <= '9':
		f.emit(c, clDigit, end)
	default:
		f.separator(c)
	}
}

// fold appends the folded form of s.
func (f *folded) fold(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			f.addASCII(c, i+1)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		end := i + size
		if r == utf8.RuneError && size == 1 {
			f.separator(0)
			i++
			continue
		}
		if r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF {
			// CJK unified ideographs: letters, no decomposition.
			f.emitRune(r, clHan, end)
			i = end
			continue
		}
		dec := norm.NFKD.PropertiesString(s[i:]).Decomposition()
		if len(dec) == 0 {
			f.addRune(r, end)
		} else {
			for j := 0; j < len(dec); {
				dr, n := utf8.DecodeRune(dec[j:])
				f.addRune(dr, end)
				j += n
			}
		}
		i = end
	}
}

// addRune folds one decomposed character.
func (f *folded) addRune(r rune, end int) {
	if r < utf8.RuneSelf {
		f.addASCII(byte(r), end)
		return
	}
	if ignorable(r) {
		return
	}
	if r == 'ß' || r == 'ẞ' {
		cl := clLower
		if r == 'ẞ' {
			cl = clUpper
		}
		f.emit('s', cl, end)
		f.emit('s', clLower, end)
		return
	}
	if c, ok := homoglyphs[r]; ok {
		cl := clLower
		if unicode.IsUpper(r) {
			cl = clUpper
		}
		f.emit(c, cl, end)
		return
	}
	if v, ok := DigitValue(r); ok {
		f.emit('0'+v, clDigit, end)
		return
	}
	if !unicode.IsLetter(r) {
		f.separator(0)
		return
	}
	cl := clLower
	if unicode.IsUpper(r) || unicode.IsTitle(r) {
		cl = clUpper
	}
	lr := unicode.ToLower(r)
	if c, ok := homoglyphs[lr]; ok {
		f.emit(c, cl, end)
		return
	}
	if lr < utf8.RuneSelf {
		f.emit(byte(lr), cl, end)
		return
	}
	if unicode.Is(unicode.Han, r) {
		f.emitRune(r, clHan, end)
		return
	}
	f.emitRune(lr, clOther, end)
}

// ignorable reports whether r is invisible and carries no meaning between
// letters: combining marks, format characters (zero-width space and
// joiners, soft hyphen, bidi controls, BOM, tags) and the other
// default-ignorable code points (Hangul fillers, combining grapheme
// joiner).
func ignorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point)
}

// DigitValue returns the value of a decimal digit of any script (Unicode
// category Nd): '4', '٤' (Arabic-Indic), '४' (Devanagari), '４'
// (fullwidth). Nd digits come in blocks of ten from zero.
func DigitValue(r rune) (byte, bool) {
	if r >= '0' && r <= '9' {
		return byte(r - '0'), true
	}
	if r < 0x660 || !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	return byte((r - ndBlockStart(r)) % 10), true
}

// ndBlockStart returns the first code point of the Nd range holding r.
func ndBlockStart(r rune) rune {
	if r <= 0xFFFF {
		rs := unicode.Nd.R16
		i := sort.Search(len(rs), func(i int) bool { return rune(rs[i].Hi) >= r })
		return rune(rs[i].Lo)
	}
	rs := unicode.Nd.R32
	i := sort.Search(len(rs), func(i int) bool { return rune(rs[i].Hi) >= r })
	return rune(rs[i].Lo)
}

// homoglyphs map letters that look like Latin ones to them (after
// compatibility decomposition, which already handles fullwidth and
// mathematical forms). From Unicode's confusables, the letters an
// attacker can type: Cyrillic, Greek, Armenian, IPA and small capitals.
var homoglyphs = map[rune]byte{
	// Cyrillic
	'а': 'a', 'А': 'a', 'в': 'b', 'В': 'b', 'ь': 'b', 'с': 'c', 'С': 'c', 'ԁ': 'd', 'Ԁ': 'd',
	'е': 'e', 'Е': 'e', 'ҽ': 'e', 'г': 'r', 'һ': 'h', 'Һ': 'h', 'н': 'h', 'Н': 'h', 'і': 'i', 'І': 'i',
	'ӏ': 'l', 'Ӏ': 'l', 'ј': 'j', 'Ј': 'j', 'к': 'k', 'К': 'k', 'м': 'm', 'М': 'm', 'п': 'n',
	'о': 'o', 'О': 'o', 'р': 'p', 'Р': 'p', 'ԛ': 'q', 'Ԛ': 'q', 'ѕ': 's', 'Ѕ': 's', 'т': 't', 'Т': 't',
	'и': 'u', 'џ': 'u', 'ѵ': 'v', 'Ѵ': 'v', 'ԝ': 'w', 'Ԝ': 'w', 'х': 'x', 'Х': 'x', 'у': 'y', 'У': 'y',
	'ү': 'y', 'Ү': 'y',
	// Greek
	'α': 'a', 'Α': 'a', 'β': 'b', 'Β': 'b', 'ϲ': 'c', 'Ϲ': 'c', 'ε': 'e', 'Ε': 'e', 'η': 'n', 'Η': 'h',
	'ι': 'i', 'Ι': 'i', 'ϳ': 'j', 'Ϳ': 'j', 'κ': 'k', 'Κ': 'k', 'Μ': 'm', 'ν': 'v', 'Ν': 'n', 'ο': 'o',
	'Ο': 'o', 'ρ': 'p', 'Ρ': 'p', 'τ': 't', 'Τ': 't', 'υ': 'u', 'Υ': 'y', 'χ': 'x', 'Χ': 'x', 'ω': 'w',
	'Ζ': 'z', 'μ': 'u', 'γ': 'y',
	// Armenian
	'օ': 'o', 'Օ': 'o', 'ո': 'n', 'ս': 'u', 'հ': 'h', 'ց': 'g', 'զ': 'q',
	// Latin letters outside ASCII that read as ASCII ones
	'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɡ': 'g', 'ɩ': 'i', 'ʋ': 'u', 'ø': 'o', 'Ø': 'o', 'đ': 'd', 'Đ': 'd',
	'ł': 'l', 'Ł': 'l', 'ħ': 'h', 'ŧ': 't', 'ƀ': 'b', 'ɨ': 'i',
	// small capitals
	'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ꜰ': 'f', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j',
	'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't', 'ᴜ': 'u',
	'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z',
}
