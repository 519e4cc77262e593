package request

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// parser is a strict, single-pass JSON decoder that builds OPA ast terms
// directly from the request body, so the policy input costs one walk over the
// bytes instead of JSON → Go values → ast (ast.ValueFromReader).
//
// It accepts exactly RFC 8259 JSON (checked by a differential fuzz target
// against encoding/json) and, on top of it, enforces the sidecar's rules:
// bounded depth, no duplicate keys, no secret-looking keys, no card or
// identity numbers in free-form keys and values (secrets.go). Errors carry
// the JSON path of the offending field.
type parser struct {
	buf      []byte
	pos      int
	depth    int
	maxDepth int
	// path is the stack of keys and indices from the root to the value
	// being parsed; it is rendered only when an error occurs.
	path []pathElem
	// scan looks for card and identity numbers in free-form values
	// (identifier fields are not scanned: see ident).
	scan pii.Scanner
	// unescaped is the scratch space of strings with escapes.
	unescaped []byte
}

func (p *parser) err(code pdp.ErrorCode, format string, args ...any) *pdp.Error {
	return pdp.Errorf(code, p.field(), format, args...)
}

// syntaxErr reports malformed JSON at the current offset.
func (p *parser) syntaxErr(what string) *pdp.Error {
	return pdp.Errorf(pdp.CodeMalformedJSON, p.field(), "%s at offset %d", what, p.pos)
}

// pathElem is an object key, or an array index when idx >= 0.
type pathElem struct {
	key string
	idx int
}

// field renders the current path as a.b[2].c. A card or identity number
// or a secret written in a key is masked as the log would mask it: an
// error must not echo one back to the caller or into a log.
func (p *parser) field() string {
	var b strings.Builder
	for _, e := range p.path {
		if e.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.idx))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.scan.Masked(e.key))
	}
	return b.String()
}

func (p *parser) pushKey(k string) { p.path = append(p.path, pathElem{key: k, idx: -1}) }
func (p *parser) pushIdx(i int)    { p.path = append(p.path, pathElem{idx: i}) }
func (p *parser) pop()             { p.path = p.path[:len(p.path)-1] }

func (p *parser) skipWS() { p.pos = jsonw.SkipSpace(p.buf, p.pos) }

// lexErr reports a token the lexer refused, at the offset it names.
func (p *parser) lexErr(e *jsonw.SyntaxError) *pdp.Error {
	p.pos = e.Offset
	return p.syntaxErr(e.Msg)
}

// peek returns the next non-space byte without consuming it, 0 at the end.
func (p *parser) peek() byte {
	p.skipWS()
	if p.pos >= len(p.buf) {
		return 0
	}
	return p.buf[p.pos]
}

func (p *parser) expect(c byte) *pdp.Error {
	if p.peek() != c {
		if p.pos >= len(p.buf) {
			return p.syntaxErr("unexpected end of input")
		}
		return p.syntaxErr("expected '" + string(c) + "'")
	}
	p.pos++
	return nil
}

// end checks that only whitespace follows the top-level value.
func (p *parser) end() *pdp.Error {
	if p.skipWS(); p.pos < len(p.buf) {
		return p.syntaxErr("unexpected data after the top-level value")
	}
	return nil
}

func (p *parser) enter() *pdp.Error {
	p.depth++
	if p.depth > p.maxDepth {
		return p.err(pdp.CodeTooDeep, "nesting deeper than %d levels", p.maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// objectKeys iterates over an object's members: for each key it calls fn
// with the key and its term, and fn must consume the value. It rejects
// duplicate keys; secret-looking keys are the caller's check (see secretKey),
// since schema fields are known not to be secret.
func (p *parser) objectKeys(fn func(key string, kt *ast.Term) *pdp.Error) *pdp.Error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer p.leave()
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	var seen [16]string
	var seenMap map[string]struct{}
	n := 0
	for {
		if p.peek() != '"' {
			return p.syntaxErr("expected a string key")
		}
		key, kt, err := p.key()
		if err != nil {
			return err
		}
		p.pushKey(key)
		if dup := checkDup(key, &seen, &seenMap, n); dup {
			return p.err(pdp.CodeDuplicateKey, "key appears more than once")
		}
		n++
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := fn(key, kt); err != nil {
			return err
		}
		p.pop()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return nil
		default:
			return p.syntaxErr("expected ',' or '}'")
		}
	}
}

// checkDup records key and reports whether it was already seen. Small
// objects use a linear scan over an array on the stack.
func checkDup(key string, seen *[16]string, m *map[string]struct{}, n int) bool {
	if n < len(seen) {
		for _, k := range seen[:n] {
			if k == key {
				return true
			}
		}
		seen[n] = key
		return false
	}
	if *m == nil {
		*m = make(map[string]struct{}, 2*len(seen))
		for _, k := range seen {
			(*m)[k] = struct{}{}
		}
	}
	if _, ok := (*m)[key]; ok {
		return true
	}
	(*m)[key] = struct{}{}
	return false
}

// value parses any JSON value into a term.
func (p *parser) value() (*ast.Term, *pdp.Error) {
	switch c := p.peek(); {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.checkNumbers(s); err != nil {
			return nil, err
		}
		return ast.StringTerm(s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		raw, err := p.number()
		if err != nil {
			return nil, err
		}
		if err := p.checkNumbers(raw); err != nil {
			return nil, err
		}
		t, ok := numberTerm(raw)
		if !ok {
			return nil, p.err(pdp.CodeInvalidValue, "number out of range: must be a finite 64-bit float")
		}
		return t, nil
	case c == 't':
		return ast.InternedTerm(true), p.literal()
	case c == 'f':
		return ast.InternedTerm(false), p.literal()
	case c == 'n':
		return ast.NullTerm(), p.literal()
	case p.pos >= len(p.buf):
		return nil, p.syntaxErr("unexpected end of input")
	default:
		return nil, p.syntaxErr("unexpected character " + strconv.QuoteRune(rune(c)))
	}
}

// numberTerm makes a JSON number literal an OPA number. A literal with an
// exponent is rewritten to its float64 value as jsonw writes numbers
// ("1e2" → "100", "1e-400" → "0", "15e20" → "1.5e+21"), and one beyond
// float64's range is refused (ok false): OPA compares numbers through
// big.Float, which cannot parse an exponent such as
// "5e-999999999999999999" and panics, so such a literal must never reach
// a policy. Literals without an exponent are kept exactly.
func numberTerm(raw string) (*ast.Term, bool) {
	if t := ast.InternedIntNumberTermFromString(raw); t != nil {
		return t, true
	}
	if strings.ContainsAny(raw, "eE") {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, false
		}
		var buf [32]byte
		b, _ := jsonw.AppendFloat(buf[:0], v+0) // v+0: -0 → 0
		return ast.NumberTerm(json.Number(b)), true
	}
	return ast.NumberTerm(json.Number(raw)), true
}

func (p *parser) object() (*ast.Term, *pdp.Error) {
	var pairs [][2]*ast.Term
	err := p.objectKeys(func(key string, kt *ast.Term) *pdp.Error {
		if err := p.secretKey(key); err != nil {
			return err
		}
		v, err := p.value()
		if err != nil {
			return err
		}
		pairs = append(pairs, [2]*ast.Term{kt, v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ast.NewTerm(ast.NewObject(pairs...)), nil
}

func (p *parser) array() (*ast.Term, *pdp.Error) {
	var elems []*ast.Term
	err := p.arrayElems(func(int) *pdp.Error {
		v, err := p.value()
		if err != nil {
			return err
		}
		elems = append(elems, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ast.ArrayTerm(elems...), nil
}

// arrayElems calls fn for each element with its index; fn consumes it.
func (p *parser) arrayElems(fn func(i int) *pdp.Error) *pdp.Error {
	if err := p.expect('['); err != nil {
		return err
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer p.leave()
	if p.peek() == ']' {
		p.pos++
		return nil
	}
	for i := 0; ; i++ {
		p.pushIdx(i)
		if err := fn(i); err != nil {
			return err
		}
		p.pop()
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return nil
		default:
			return p.syntaxErr("expected ',' or ']'")
		}
	}
}

// literal scans true, false or null.
func (p *parser) literal() *pdp.Error {
	end, err := jsonw.LiteralEnd(p.buf, p.pos)
	if err != nil {
		return p.lexErr(err)
	}
	p.pos = end
	return nil
}

// number scans a number (jsonw.NumberEnd: RFC 8259's grammar exactly) and
// returns its text.
func (p *parser) number() (string, *pdp.Error) {
	end, err := jsonw.NumberEnd(p.buf, p.pos)
	if err != nil {
		return "", p.lexErr(err)
	}
	s := string(p.buf[p.pos:end])
	p.pos = end
	return s, nil
}

// key scans an object key. Keys the schema knows are returned interned, with
// a shared term, so the common request costs no allocation per key.
func (p *parser) key() (string, *ast.Term, *pdp.Error) {
	start := p.pos
	end, flags, serr := jsonw.StringEnd(p.buf, start)
	if serr != nil || flags&jsonw.NonASCII != 0 && !utf8.Valid(p.buf[start+1:end-1]) {
		return "", nil, p.strErr(serr, start)
	}
	p.pos = end
	raw := p.buf[start+1 : end-1]
	if flags&jsonw.Escaped == 0 {
		if k, ok := knownKeys[string(raw)]; ok {
			return k.s, k.t, nil
		}
	}
	s := p.content(raw, flags)
	return s, ast.StringTerm(s), nil
}

// secretKey rejects a free-form key that names a secret or holds a card or
// identity number (the error's field shows the number masked: field).
func (p *parser) secretKey(key string) *pdp.Error {
	if isSecretKey(key) {
		return p.err(pdp.CodeSecretField, "secret-looking fields (passwords, PINs, CVV, one-time codes, card numbers and expiry, identity numbers) must never be sent")
	}
	return p.checkNumbers(key)
}

// str scans a string and returns its unescaped value. Without escapes it
// costs one allocation, for the result. The sidecar refuses invalid UTF-8
// (which encoding/json would decode as U+FFFD); escapes decode to valid
// UTF-8, so the raw content is what is checked.
func (p *parser) str() (string, *pdp.Error) {
	if p.peek() != '"' {
		return "", p.expect('"')
	}
	start := p.pos
	end, flags, serr := jsonw.StringEnd(p.buf, start)
	if serr != nil || flags&jsonw.NonASCII != 0 && !utf8.Valid(p.buf[start+1:end-1]) {
		return "", p.strErr(serr, start)
	}
	p.pos = end
	return p.content(p.buf[start+1:end-1], flags), nil
}

// strErr reports the string at start that the lexer refused (serr), or
// else its invalid UTF-8.
func (p *parser) strErr(serr *jsonw.SyntaxError, start int) *pdp.Error {
	if serr != nil {
		return p.lexErr(serr)
	}
	p.pos = start + 1
	return p.syntaxErr("invalid UTF-8 in string")
}

// content returns a string's value from its raw content.
func (p *parser) content(raw []byte, flags jsonw.StringFlags) string {
	if flags&jsonw.Escaped == 0 {
		return string(raw)
	}
	p.unescaped = jsonw.Unescape(p.unescaped[:0], raw)
	return string(p.unescaped)
}
