package pii

import (
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// SecretKey reports whether a JSON object key names a secret: a password,
// PIN, CVV, one-time code, card number, expiry, magnetic-stripe data, an
// identity number, in English, Chinese or pinyin, however it is spelled
// (see the package documentation for the rules). A key that names a fact
// about a secret ("password_reset_at", "pin_failures_1h", "cvv_checked")
// is not secret. Any length is looked at. An ASCII key holding none of the
// letter triples a secret's name starts with is answered without folding
// and without allocating.
func SecretKey(key string) bool {
	if quickClean(key) {
		return false
	}
	kb := keyBufs.Get().(*keyBuf)
	defer keyBufs.Put(kb)
	f := &kb.f
	f.reset(false)
	f.fold(key)
	if f.secretKey() {
		return true
	}
	if !f.hasLeet() {
		return false
	}
	alt := &kb.alt
	alt.reset(false)
	f.leetForm(alt)
	return alt.secretKey()
}

// keyBuf is the scratch space of SecretKey: the folded key and its
// look-alike reading, reused through keyBufs (appending to a slice field
// makes Go's escape analysis move any stack array behind it to the heap).
type keyBuf struct{ f, alt folded }

var keyBufs = sync.Pool{New: func() any { return new(keyBuf) }}

// MayNameSecret is the cheap test SecretKey and Scanner.Secrets start
// with: false means s is ASCII and holds no name of a secret.
func MayNameSecret(s string) bool { return !quickClean(s) }

// SecretKeyBytes is SecretKey for a key held in bytes; it does not keep
// them.
func SecretKeyBytes(key []byte) bool {
	return SecretKey(unsafe.String(unsafe.SliceData(key), len(key)))
}

// leetDigits are digits that stand for letters between letters
// ("p4ssw0rd").
var leetDigits = [10]byte{'o', 'i', 0, 'e', 'a', 's', 0, 't', 'b', 0}

// hasLeet reports whether the key has digits standing between letters
// ("p4ssw0rd") or '@' / '$' between letters.
func (f *folded) hasLeet() bool {
	b := f.b
	for _, m := range f.leet {
		if m.at > 0 && m.at < len(b) && isLetterByte(b[m.at-1]) && isLetterByte(b[m.at]) {
			return true
		}
	}
	for i := 0; i < len(b); i++ {
		if f.leetRun(i) > i || f.twoFA(i) {
			return true
		}
	}
	return false
}

// twoFA reports whether b[i] is the 2 of a word "2fa" (two-factor), which
// reads as "tfa": a vocabulary term cannot start with a digit. A digit
// before it ("12fa") or a letter after it ("2fast") is no such word.
func (f *folded) twoFA(i int) bool {
	b := f.b
	return b[i] == '2' && i+3 <= len(b) && b[i+1] == 'f' && b[i+2] == 'a' &&
		(i == 0 || !isDigitByte(b[i-1])) && (i+3 == len(b) || f.isBound(i+3) || !isLetterByte(b[i+3]))
}

// leetForm writes into a the key with those digits read as the letters
// they imitate and '@' / '$' as a / s, glued to the letters around them,
// and a "2fa" as "tfa".
func (f *folded) leetForm(a *folded) {
	b := f.b
	marks := f.leet
	glued := false // b[i] continues the word a digit run or mark was read into
	for i := 0; i < len(b); {
		for len(marks) > 0 && marks[0].at < i {
			marks = marks[1:]
		}
		for len(marks) > 0 && marks[0].at == i && i > 0 && isLetterByte(b[i-1]) && isLetterByte(b[i]) {
			c := byte('a')
			if marks[0].c == '$' {
				c = 's'
			}
			a.b = append(a.b, c)
			marks = marks[1:]
			glued = true
		}
		if j := f.leetRun(i); j > i {
			for ; i < j; i++ {
				a.b = append(a.b, leetDigits[b[i]-'0'])
			}
			glued = true
			continue
		}
		if i > 0 && f.isBound(i) && !glued {
			a.setBound(len(a.b))
		}
		c := b[i]
		if f.twoFA(i) {
			c = 't' // glued to the "fa" after it
		}
		glued = c != b[i]
		a.b = append(a.b, c)
		i++
	}
}

// leetRun returns the end of a run of digits that all imitate letters
// starting at b[i] between two letters, with no separator on either side,
// or i when there is none.
func (f *folded) leetRun(i int) int {
	b := f.b
	if i == 0 || !isLetterByte(b[i-1]) || !isDigitByte(b[i]) || f.sepAt(i) {
		return i
	}
	j := i
	for j < len(b) && isDigitByte(b[j]) {
		if leetDigits[b[j]-'0'] == 0 {
			return i
		}
		j++
	}
	if j == i || j == len(b) || !isLetterByte(b[j]) || f.sepAt(j) {
		return i
	}
	return j
}

func isDigitByte(c byte) bool  { return c >= '0' && c <= '9' }
func isLetterByte(c byte) bool { return c >= 'a' && c <= 'z' }

// Verdicts on one occurrence of a term.
const (
	noMatch = iota // not a name of the secret here ("spin", "opinion")
	neutral        // names a fact about the secret ("password_reset_at")
	isSecret
)

// secretKey reports whether any occurrence of a term in the folded key
// names the secret.
func (f *folded) secretKey() bool {
	found := false
	f.occurrences(func(t *term, a, e int) bool {
		if !t.textOnly && f.judge(t, a, e, false) == isSecret {
			found = true
			return false
		}
		return true
	})
	return found
}

// occurrences calls fn for every occurrence of a term in f.b, left to
// right, until fn returns false.
func (f *folded) occurrences(fn func(t *term, a, e int) bool) {
	b := f.b
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf {
			if c < 0xC0 {
				continue // inside a character
			}
			r, _ := utf8.DecodeRune(b[i:])
			for _, k := range hanTermIndex[r] {
				t := &hanTermList[k]
				if strings.HasPrefix(unsafe.String(unsafe.SliceData(b[i:]), len(b)-i), t.s) {
					if !fn(t, i, i+len(t.s)) {
						return
					}
				}
			}
			continue
		}
		if i+1 >= len(b) || !isLetterByte(c) {
			continue
		}
		for _, k := range termIndex[pairIndex(c, b[i+1])] {
			t := &termList[k]
			if len(t.s) <= len(b)-i && string(b[i:i+len(t.s)]) == t.s {
				if !fn(t, i, i+len(t.s)) {
					return
				}
			}
		}
	}
}

// judge decides what the occurrence b[a:e] of t means. In text mode only
// the word right after it can make it a fact ("pin 1234 was reset" still
// holds a PIN). It costs O(1) apart from lastFactAt's one pass, so that a
// long key of repeated names stays linear.
func (f *folded) judge(t *term, a, e int, text bool) int {
	han := t.s[0] >= utf8.RuneSelf
	inWord := han
	if t.strong {
		inWord = true
		for i := a + 1; i < e; i++ {
			if f.isBound(i) {
				inWord = false // "pass_word": whole words only
				break
			}
		}
	}
	if !f.isBound(a) && !inWord {
		ws := f.wordStartNear(a)
		if ws < 0 || !concatOf(f.b[ws:a], modifierList) {
			return noMatch
		}
	}
	end := e
	if !f.isBound(e) {
		end = f.wordEndNear(e)
		restEnd := end
		if end < 0 {
			restEnd = min(len(f.b), e+maxPiece)
		}
		rest := f.b[e:restEnd]
		switch {
		case han && hasHanFactPrefix(rest), !han && startsWithFact(rest):
			return neutral
		case !inWord && (end < 0 || !concatOf(rest, valueList)):
			return noMatch
		}
	}
	if text {
		if end >= 0 && f.factAt(end, true) {
			return neutral
		}
		return isSecret
	}
	if f.lastFactAt() >= e {
		return neutral
	}
	return isSecret
}

// maxPiece bounds the glued remainders judge looks at: longer ones are
// never modifiers or value pieces.
const maxPiece = 63

// wordStartNear returns the start of the word holding b[i], or -1 if it is
// more than maxPiece bytes before i.
func (f *folded) wordStartNear(i int) int {
	for k := 0; k <= maxPiece && i-k >= 0; k++ {
		if f.isBound(i - k) {
			return i - k
		}
	}
	return -1
}

// wordEndNear returns the end of the word holding b[i-1], or -1 if it is
// more than maxPiece bytes after i.
func (f *folded) wordEndNear(i int) int {
	for k := 0; k <= maxPiece && i+k <= len(f.b); k++ {
		if f.isBound(i + k) {
			return i + k
		}
	}
	return -1
}

// factAt reports whether the word starting at b[i] names a fact: a fact
// word, a number and a time unit ("1h"), a Chinese fact (at its start in
// text mode, anywhere in it otherwise).
func (f *folded) factAt(i int, text bool) bool {
	if i >= len(f.b) {
		return false
	}
	j := f.wordEndNear(i + 1)
	if j < 0 {
		return false
	}
	w := f.b[i:j]
	switch {
	case w[0] >= utf8.RuneSelf:
		return hasHanFactPrefix(f.b[i:])
	case isDigitByte(w[0]):
		if j < len(f.b) && isLetterByte(f.b[j]) {
			k := f.wordEndNear(j + 1)
			return k > 0 && windowUnitSet[string(f.b[j:k])] // "pin_1h": a time window
		}
		return false
	}
	return isFactWord(w)
}

// lastFactAt returns where the last fact of the key starts (a fact word,
// a time window, a Chinese fact anywhere), -1 if none; computed once.
func (f *folded) lastFactAt() int {
	if f.factDone {
		return f.lastFact
	}
	f.factDone, f.lastFact = true, -1
	b := f.b
	for i := 0; i < len(b); {
		j := f.wordEnd(i + 1)
		if b[i] >= utf8.RuneSelf {
			for k := i; k < j; k++ {
				if b[k] >= 0xC0 && hasHanFactPrefix(b[k:j]) {
					f.lastFact = k
				}
			}
		} else if f.factAt(i, false) {
			f.lastFact = i
		}
		i = j
	}
	return f.lastFact
}

func isFactWord(w []byte) bool { return startsWithFact(w) }

// startsWithFact reports whether w is a fact word, or starts with one of
// four letters or more ("resetat", "checked").
func startsWithFact(w []byte) bool {
	if factSet[string(w)] {
		return true
	}
	if len(w) < 4 {
		return false
	}
	for _, fw := range longFacts[pairIndex(w[0], w[1])] {
		if len(w) >= len(fw) && string(w[:len(fw)]) == fw {
			return true
		}
	}
	return false
}

func hasHanFactPrefix(w []byte) bool {
	r, _ := utf8.DecodeRune(w)
	s := unsafe.String(unsafe.SliceData(w), len(w))
	for _, h := range hanFactIndex[r] {
		if strings.HasPrefix(s, h) {
			return true
		}
	}
	return false
}

// concatOf reports whether s is one or more pieces of list glued together
// (empty s is not).
func concatOf(s []byte, list []string) bool {
	n := len(s)
	if n == 0 || n > 63 {
		return false
	}
	var reach uint64 = 1 // bit i: s[:i] is made of pieces
	for i := 0; i < n; i++ {
		if reach&(1<<i) == 0 {
			continue
		}
		for _, p := range list {
			if len(p) <= n-i && string(s[i:i+len(p)]) == p {
				reach |= 1 << (i + len(p))
			}
		}
	}
	return reach&(1<<n) != 0
}

// quickClean reports whether an ASCII key certainly names no secret: its
// letters, read together with separators and digits skipped, hold none
// of the first three letters of a term (nor the two of "pw"), and no
// digit, '@' or '$' stands between two letters (leetForm), separators
// apart: they vanish in the folded key ("c @v" reads "c@v", which may be
// "cav"). Most keys stop here. One table lookup per byte and one bit test
// per letter.
func quickClean(s string) bool {
	var a, b uint32 // the last two letters, 1-26 (0: none)
	afterLetter, between := false, false
	for i := 0; i < len(s); i++ {
		switch c := asciiClass[s[i]]; {
		case c == 0: // a separator: gone from the folded key
		case c <= 26:
			if between {
				return false
			}
			k := (a*27+b)*27 + uint32(c)
			if startTriples[k>>6]&(1<<(k&63)) != 0 {
				return false
			}
			a, b, afterLetter = b, uint32(c), true
		case c == classLeet:
			between = afterLetter
			if s[i] == '2' {
				a, b = 0, 't'-'a'+1 // "2fa" reads as "tfa" (folded.twoFA)
			}
		default: // not ASCII
			return false
		}
	}
	return true
}

// asciiClass sorts bytes for quickClean: letters 1-26 (either case),
// classLeet for digits, '@' and '$', classHigh for bytes ≥ 0x80, 0 for
// separators.
const (
	classLeet = 27
	classHigh = 28
)

var asciiClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z':
			t[c] = uint8(c-'a') + 1
		case c >= 'A' && c <= 'Z':
			t[c] = uint8(c-'A') + 1
		case c >= '0' && c <= '9' || c == '@' || c == '$':
			t[c] = classLeet
		case c >= utf8.RuneSelf:
			t[c] = classHigh
		}
	}
	return t
}()
