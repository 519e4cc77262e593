// Package piiref is a reference implementation of package pii's rules,
// for tests only: written from the rules as documented, by brute force and
// with the standard library's and golang.org/x/text's own tables, not
// from pii's code. Tests hold pii, the request decoder and the decision
// log's masker to it.
package piiref

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/riskpdp/riskpdp/pdp"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// group is a run of digits and what precedes and follows it.
type group struct {
	digits []byte
	sep    string // the separators before it
	x      bool   // an X right after it, alone
}

// Number tries every window of every run of digit groups of s (mask: the
// decision log's rules, else the decoder's) and returns the first card or
// resident identity number as ASCII digits (X last), "" if none. A
// canonical UUID holds none (the log's exemption).
func Number(s string, mask bool) string {
	if uuidRE.MatchString(s) {
		return ""
	}
	rs := []rune(s)
	var runs [][]group
	var run []group
	var sep []rune
	inGroup := false
	endRun := func() {
		if len(run) > 0 {
			runs = append(runs, run)
		}
		run, sep, inGroup = nil, nil, false
	}
	for i, r := range rs {
		switch {
		case IsDigit(r):
			if !inGroup {
				run = append(run, group{sep: string(sep)})
				sep, inGroup = nil, true
			}
			g := &run[len(run)-1]
			g.digits = append(g.digits, DigitValue(r))
		case Invisible(r):
		case unicode.IsLetter(r) || unicode.IsNumber(r) ||
			!mask && strings.ContainsRune(",;:，；：、﹐﹔﹕", r):
			if inGroup && strings.ContainsRune("xXｘＸ", r) && (i+1 == len(rs) || !unicode.IsLetter(rs[i+1]) && !unicode.IsNumber(rs[i+1])) {
				run[len(run)-1].x = true
			}
			endRun()
		default:
			inGroup = false
			sep = append(sep, r)
		}
	}
	endRun()
	for _, run := range runs {
		for st := range run {
			var d []byte
			same, wide := true, true
			for e := st; e < len(run); e++ {
				d = append(d, run[e].digits...)
				if e > st+1 && sepKind(run[e].sep) != sepKind(run[st+1].sep) {
					same = false
				}
				wide = wide && len(run[e].digits) >= 3
				if len(bytes.TrimLeft(d, "\x00")) > 19 && len(d) > 18 {
					break
				}
				if e > st && !same && !(mask && wide) {
					continue
				}
				sig := bytes.TrimLeft(d, "\x00")
				switch {
				case len(sig) >= 13 && len(sig) <= 19 && pdp.IsCardNumber(sig):
					return digitString(sig)
				case len(d) == 18 && pdp.IsResidentID(d, false):
					return digitString(d)
				case len(d) == 17 && run[e].x && pdp.IsResidentID(d, true):
					return digitString(d) + "X"
				}
			}
		}
	}
	return ""
}

// Invisible reports whether r is dropped without a trace: marks, format
// characters, default-ignorable code points.
func Invisible(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point)
}

// sepKind is what a separator run counts as: whitespace and dashes of any
// kind drop out, fullwidth forms are their ASCII selves.
func sepKind(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '−':
			return -1
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == '。':
			return '.'
		}
		return r
	}, s)
}

// IsDigit reports whether r is a digit as numbers are read: a decimal
// digit (Nd) or a character whose NFKD form is one ASCII digit (⁴, ④).
func IsDigit(r rune) bool {
	if unicode.Is(unicode.Nd, r) {
		return true
	}
	d := norm.NFKD.String(string(r))
	return len(d) == 1 && d[0] >= '0' && d[0] <= '9'
}

// DigitValue is the value of a digit (IsDigit): for Nd, which come in
// blocks of ten from zero, r's distance from the start of its unicode.Nd
// range, modulo 10; otherwise its NFKD form's.
func DigitValue(r rune) byte {
	if !unicode.Is(unicode.Nd, r) {
		return norm.NFKD.String(string(r))[0] - '0'
	}
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return byte((r - rune(rg.Lo)) % 10)
		}
	}
	panic("piiref: not a digit")
}

// Digits returns the digits of s (IsDigit), any script, as ASCII.
func Digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if IsDigit(r) {
			b.WriteByte('0' + DigitValue(r))
		}
	}
	return b.String()
}

func digitString(d []byte) string {
	b := make([]byte, len(d))
	for i, v := range d {
		b[i] = '0' + v
	}
	return string(b)
}

// Node is a JSON value with its members in order (keys dropped).
type Node struct {
	Scalar    any
	Container bool
	Kids      []Node
}

// Parse reads one JSON value, numbers as json.Number.
func Parse(doc []byte) (Node, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	return readNode(dec)
}

func readNode(dec *json.Decoder) (Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return Node{}, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return Node{Scalar: tok}, nil
	}
	n := Node{Container: true}
	for dec.More() {
		if d == '{' {
			if _, err := dec.Token(); err != nil { // the key
				return n, err
			}
		}
		k, err := readNode(dec)
		if err != nil {
			return n, err
		}
		n.Kids = append(n.Kids, k)
	}
	_, err = dec.Token() // the closing delimiter
	return n, err
}

// Split returns the first card split across two or more neighbouring
// pieces (strings of digits and spaces, integers) of one object or array
// of n, "" if none.
func Split(n Node) string {
	var row [][]byte
	check := func() string {
		defer func() { row = nil }()
		for st := range row {
			var ds []byte
			for e := st; e < len(row); e++ {
				ds = append(ds, row[e]...)
				sig := bytes.TrimLeft(ds, "\x00")
				if e > st && len(sig) >= 13 && len(sig) <= 19 && pdp.IsCardNumber(sig) {
					return digitString(sig)
				}
			}
		}
		return ""
	}
	for _, k := range n.Kids {
		if p, ok := piece(k.Scalar); ok && !k.Container {
			row = append(row, p)
			continue
		}
		if c := check(); c != "" {
			return c
		}
		if c := Split(k); c != "" {
			return c
		}
	}
	return check()
}

// piece returns the digits of a piece: a string of digits (any script),
// spaces and dashes with at least one digit, or an integer.
func piece(v any) ([]byte, bool) {
	var d []byte
	switch v := v.(type) {
	case string:
		for _, r := range v {
			switch {
			case IsDigit(r):
				d = append(d, DigitValue(r))
			case !unicode.IsSpace(r) && !unicode.Is(unicode.Pd, r) && r != '−':
				return nil, false
			}
		}
		return d, len(d) > 0
	case json.Number:
		s := strings.TrimPrefix(string(v), "-")
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return nil, false
		}
		for _, c := range s {
			d = append(d, byte(c-'0'))
		}
		return d, true
	}
	return nil, false
}

// Squash normalizes a key as the rules say, with the library's own NFKC:
// compatibility forms folded, marks and invisible characters dropped,
// look-alikes read as Latin (the table passed in, pii's data), lower case,
// and everything that is not a letter or a digit removed.
func Squash(key string, homoglyphs func(rune) (byte, bool)) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(key) {
		if Invisible(r) {
			continue
		}
		if r == 'ß' || r == 'ẞ' {
			b.WriteString("ss")
			continue
		}
		if c, ok := homoglyphs(r); ok {
			b.WriteByte(c)
			continue
		}
		if c, ok := homoglyphs(unicode.ToLower(r)); ok && unicode.IsLetter(r) {
			b.WriteByte(c)
			continue
		}
		switch {
		case unicode.Is(unicode.Nd, r):
			b.WriteByte('0' + DigitValue(r))
		case unicode.IsLetter(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
