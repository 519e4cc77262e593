package jsonw

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// token is one token the walker found: its first byte ('"', '0' for a
// number, 't' for a literal, '{' or '[' for a whole container) and its
// span.
type token struct {
	kind       byte
	start, end int
}

// walker is the JSON grammar on the lexer's tokens, the least a strict
// reader adds to them: it records every token, containers included.
type walker struct {
	src   []byte
	toks  []token
	depth int
}

func (w *walker) value(i int) (int, bool) {
	src := w.src
	i = SkipSpace(src, i)
	if i >= len(src) {
		return i, false
	}
	start := i
	switch c := src[i]; {
	case c == '{' || c == '[':
		if w.depth++; w.depth > MaxDepth {
			return i, false
		}
		i = SkipSpace(src, i+1)
		if i < len(src) && src[i] == c+2 {
			i++
		} else {
			for {
				if c == '{' {
					if i = SkipSpace(src, i); i >= len(src) || src[i] != '"' {
						return i, false
					}
					end, _, err := StringEnd(src, i)
					if err != nil {
						return i, false
					}
					w.toks = append(w.toks, token{'"', i, end})
					if i = SkipSpace(src, end); i >= len(src) || src[i] != ':' {
						return i, false
					}
					i++
				}
				var ok bool
				if i, ok = w.value(i); !ok {
					return i, false
				}
				if i = SkipSpace(src, i); i >= len(src) {
					return i, false
				}
				if src[i] == ',' {
					i++
					continue
				}
				if src[i] != c+2 {
					return i, false
				}
				i++
				break
			}
		}
		w.depth--
		w.toks = append(w.toks, token{c, start, i})
		return i, true
	case c == '"':
		end, _, err := StringEnd(src, i)
		if err != nil {
			return i, false
		}
		w.toks = append(w.toks, token{'"', i, end})
		return end, true
	case c == '-' || isDigit(c):
		end, err := NumberEnd(src, i)
		if err != nil {
			return i, false
		}
		w.toks = append(w.toks, token{'0', i, end})
		return end, true
	default:
		end, err := LiteralEnd(src, i)
		if err != nil {
			return i, false
		}
		w.toks = append(w.toks, token{'t', i, end})
		return end, true
	}
}

var testClasses = NewByteClasses(func(c byte) uint8 {
	switch {
	case isDigit(c):
		return Counted
	case c >= utf8.RuneSelf:
		return 1
	}
	return 2
})

// FuzzLexer holds the lexer to encoding/json: the grammar on its tokens
// accepts exactly what json.Valid does; a string's content as Unescape
// decodes it is what json.Unmarshal gives (invalid UTF-8 aside, which
// Unescape keeps and encoding/json turns into U+FFFD); and on valid JSON
// the loose scanners end every token where the strict ones do. On any
// input the loose scanners advance and stay in bounds, and Unescape does
// not panic.
func FuzzLexer(f *testing.F) {
	for _, s := range []string{
		` {"a" : [1, -2.5e+3, true, false, null, "x\u00e9\n\\"], "b": {}} `, `[]`, `""`, `0`, `-0.0e0`, `1E-07`,
		`"\ud83d\ude00 \ud800 \udc00\ud800x \ud800\u0041 \u00"`, `"\"\\\/\b\f\n\r\t"`, "\"caf\xc3\xa9 \xff\xfe\"",
		`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `-01`, `tru`, `nul`, `falsey`, `"\x"`, "\"\x01\"", `"\u12"`, `"\u12G4"`,
		`"abc`, `"abc\`, `"\"`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":"b"}}`, `[[[[`, `{]"`, `"\`, "\xff", "\"\xff\"",
		`{"card":"4111 1111 1111 1111","n":4111111111111111,"id":"\u0034\u0031"}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(sampleRecord))
	f.Fuzz(func(t *testing.T, in []byte) {
		// Any input: the loose scanners advance and stay in bounds.
		for i := range min(len(in), 64) {
			if end := LooseValueEnd(in, i); end <= i || end > len(in) {
				t.Fatalf("LooseValueEnd(%q, %d) = %d", in, i, end)
			}
			if end := LooseNumberEnd(in, i); end <= i || end > len(in) {
				t.Fatalf("LooseNumberEnd(%q, %d) = %d", in, i, end)
			}
			if in[i] == '"' {
				end := LooseStringEnd(in, i)
				if end <= i || end > len(in) {
					t.Fatalf("LooseStringEnd(%q, %d) = %d", in, i, end)
				}
				if end2, _, _ := testClasses.LooseString(in, i); end2 != end {
					t.Fatalf("ByteClasses.LooseString(%q, %d) ends at %d, LooseStringEnd at %d", in, i, end2, end)
				}
				_ = Unescape(nil, StringContent(in[i:end]))
			}
		}
		w := walker{src: in}
		end, ok := w.value(0)
		ok = ok && SkipSpace(in, end) == len(in)
		if valid := json.Valid(in); ok != valid {
			t.Fatalf("lexer grammar %v, json.Valid %v: %q", ok, valid, in)
		}
		if !ok {
			return
		}
		for _, tk := range w.toks {
			if end := LooseValueEnd(in, tk.start); end != tk.end {
				t.Fatalf("LooseValueEnd ends %q at %d, the strict scanners at %d", in[tk.start:], end, tk.end)
			}
			switch tk.kind {
			case '0':
				if end := LooseNumberEnd(in, tk.start); end != tk.end {
					t.Fatalf("LooseNumberEnd ends %q at %d, NumberEnd at %d", in[tk.start:], end, tk.end)
				}
			case '"':
				checkString(t, in, tk.start, tk.end)
			}
		}
	})
}

// checkString checks the valid string token in[start:end].
func checkString(t *testing.T, in []byte, start, end int) {
	t.Helper()
	tok := in[start:end]
	if e := LooseStringEnd(in, start); e != end {
		t.Fatalf("LooseStringEnd ends %q at %d, StringEnd at %d", in[start:], e, end)
	}
	e, classes, counted := testClasses.LooseString(in, start)
	raw := StringContent(tok)
	if e != end || classes&EscapeClass != 0 != (strings.IndexByte(string(raw), '\\') >= 0) {
		t.Fatalf("ByteClasses.LooseString(%q) = %d, %#x", tok, e, classes)
	}
	digits := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
		} else if isDigit(raw[i]) {
			digits++
		}
	}
	if counted != digits {
		t.Fatalf("ByteClasses.LooseString(%q) counted %d digits, want %d", tok, counted, digits)
	}
	_, flags, _ := StringEnd(in, start)
	if got, want := flags&Escaped != 0, strings.IndexByte(string(raw), '\\') >= 0; got != want {
		t.Fatalf("StringEnd(%q): Escaped %v", tok, got)
	}
	if got, want := flags&NonASCII != 0, strings.IndexFunc(string(raw), func(r rune) bool { return r >= utf8.RuneSelf }) >= 0; got != want {
		t.Fatalf("StringEnd(%q): NonASCII %v", tok, got)
	}
	var want string
	if err := json.Unmarshal(tok, &want); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", tok, err)
	}
	got := Unescape([]byte("prefix"), raw)
	if !strings.HasPrefix(string(got), "prefix") {
		t.Fatalf("Unescape overwrote dst: %q", got)
	}
	// encoding/json writes each byte of invalid UTF-8 as U+FFFD, as
	// converting to runes does.
	if s := string([]rune(string(got[len("prefix"):]))); s != want {
		t.Fatalf("Unescape(%q) = %q, json.Unmarshal %q", raw, s, want)
	}
}

// TestSyntaxErrors pins the faults and offsets the strict scanners report
// (the request decoder shows them to callers).
func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		in, msg string
		off     int
	}{
		{`"ab`, "unterminated string", 3},
		{`"ab\`, "unterminated string", 4},
		{"\"a\x01\"", "control character in string", 2},
		{`"a\x"`, "invalid escape", 3},
		{`"a\u12"`, "invalid \\u escape", 3},
		{`01`, "invalid number: leading zero", 1},
		{`-x`, "invalid number", 1},
		{`1.e5`, "invalid number: digits expected after '.'", 2},
		{`1e+`, "invalid number: digits expected in exponent", 3},
		{`nul`, "invalid literal", 0},
		{`trUe`, "invalid literal", 0},
	} {
		var err *SyntaxError
		switch tc.in[0] {
		case '"':
			_, _, err = StringEnd([]byte(tc.in), 0)
		case 'n', 't':
			_, err = LiteralEnd([]byte(tc.in), 0)
		default:
			_, err = NumberEnd([]byte(tc.in), 0)
		}
		if err == nil || err.Msg != tc.msg || err.Offset != tc.off {
			t.Errorf("%q: %v, want %s at offset %d", tc.in, err, tc.msg, tc.off)
		}
	}
}

func TestNewByteClassesReserved(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("EscapeClass accepted as a reader's class")
		}
	}()
	NewByteClasses(func(byte) uint8 { return EscapeClass })
}
