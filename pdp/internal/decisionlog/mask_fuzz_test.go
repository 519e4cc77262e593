package decisionlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// FuzzMaskJSON feeds arbitrary bytes to the masker. It must never panic; on
// valid JSON its output must be valid JSON holding no card or identity
// number, in one value or split across neighbouring ones (by the tests'
// own detector, findCard), no secret-keyed value other than "***", null,
// true or false, and nothing more to mask (masking it again changes
// nothing).
func FuzzMaskJSON(f *testing.F) {
	for _, s := range []string{
		`{"note":"4111 1111 1111 1111","password":"x"}`,
		`{"a":[{"b":["５５００-0000-0000-0004"]}],"pin":1234,"n":4111111111111111}`,
		`["\u0034111111111111111","4111\u00201111\u00201111\u00201111"]`,
		`{"sms\u005fcode":{"x":[1,"2"]},"ok":"2345678 4111111111111111"}`,
		`"4111111111111111 5500000000000004"`,
		`{"decision_id":"41111111-1111-1111-4111-111111111111"}`,
		`{"c":["4111","1111","1111","1111"],"d":{"a":4111,"b":1111,"c":1111,"d":1111}}`,
		`{"note":"my password is hunter2, 验证码是123456, id 11010519491231002X","ｃｖｖ":"1"}`,
		`["٤١١١.١١١١.١١١١.١١١١","04111111111111111","4111,1111;1111:1111"]`,
		`{"unterminated":"4111111111111111`, `{]"`, `"\`, `-`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Add(typicalLine(f))

	f.Fuzz(func(t *testing.T, in []byte) {
		var m masker
		out, changed := m.mask(nil, in, false)
		if !changed {
			out = in
		}
		m.mask(nil, in, true) // record mode must not panic either
		if !json.Valid(in) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("valid JSON in, invalid out:\n in %q\nout %q", in, out)
		}
		if c := findCard(t, out); c != "" {
			t.Fatalf("card %s left in %q (from %q)", c, out, in)
		}
		checkSecretsMasked(t, out)
		var m2 masker
		if again, changed := m2.mask(nil, out, false); changed && !bytes.Equal(again, out) {
			t.Fatalf("masking again changed\n %q\nto\n %q", out, again)
		}
	})
}

// checkSecretsMasked walks the JSON tokens of doc and fails if a key that
// looks secret (and was not itself rewritten by card masking) has a value
// other than "***", null, true or false.
func checkSecretsMasked(t *testing.T, doc []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var walk func() json.Token
	walk = func() json.Token {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
			for dec.More() {
				if d == '{' {
					kt, err := dec.Token()
					if err != nil {
						t.Fatalf("key: %v", err)
					}
					key := kt.(string)
					v := walk()
					if pii.SecretKey(key) && !strings.Contains(key, "*") {
						switch v {
						case "***", nil, true, false:
						default:
							t.Fatalf("secret key %q kept %v in %s", key, v, doc)
						}
					}
					continue
				}
				walk()
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				t.Fatalf("close: %v", err)
			}
			return d
		}
		return tok
	}
	walk()
}

// FuzzMaskMemo holds the writer's masker, which remembers the last
// record's tokens (the positional memo) and short strings, to a fresh
// one: whatever it masked before, masking cur gives the same bytes.
func FuzzMaskMemo(f *testing.F) {
	typical, leaky := typicalLine(f), mustMarshal(f, leakyRecord(0))
	f.Add(typical, leaky)
	f.Add(leaky, typical)
	f.Add(mustMarshal(f, typicalRecord(1)), mustMarshal(f, typicalRecord(2)))
	f.Add([]byte(`{"note":"4111","pin_1h":2,"a":["x"]}`), []byte(`{"note":"4111111111111111","pin":2,"a":["4111 1111 1111 1111"]}`))
	f.Add([]byte(`{"trace_id":"x","span_id":"4111111111111111"}`), []byte(`{"trace_id":"4111111111111111","span_id":"x"}`))
	f.Add([]byte(`{"c":["4111","1111","1111","x"]}`), []byte(`{"c":["4111","1111","1111","1111"]}`))
	f.Add([]byte(`{"a":"x","b":"y"}`), []byte(`{"a":"x\"","b":"y"}`))
	f.Fuzz(func(t *testing.T, prev, cur []byte) {
		for _, record := range []bool{false, true} {
			warm, fresh := masker{memo: new(memoTable)}, masker{}
			warm.mask(nil, prev, record)
			warm.mask(nil, cur, record)
			warm.mask(nil, prev, record)
			got, gotChanged := warm.mask(nil, cur, record)
			want, wantChanged := fresh.mask(nil, cur, record)
			if gotChanged != wantChanged || !bytes.Equal(got, want) {
				t.Fatalf("record=%v: after %q, masking %q gave\n %q (changed %v)\nwant\n %q (changed %v)",
					record, prev, cur, got, gotChanged, want, wantChanged)
			}
		}
	})
}

func mustMarshal(tb testing.TB, r *Record) []byte {
	tb.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The memo's table keeps one string per slot: a string is known only if
// its very bytes were remembered with that verdict, whatever else took
// the slots since (far more strings than slots, all colliding).
func TestMemoExact(t *testing.T) {
	m := masker{memo: new(memoTable)}
	for i := range 20 * memoSlots {
		m.remember([]byte(fmt.Sprintf("clean-%d", i)), memoClean)
	}
	held := 0
	for i := range 20 * memoSlots {
		s := []byte(fmt.Sprintf("clean-%d", i))
		if m.known(s, memoClean) {
			held++
		}
		if m.known(s, memoSecretKey) || m.known(s, memoPlainKey) {
			t.Fatalf("%q known with a verdict it was never given", s)
		}
		if m.known([]byte(fmt.Sprintf("other-%d", i)), memoClean) {
			t.Fatalf("other-%d known, never remembered", i)
		}
	}
	if held == 0 || held > memoSlots {
		t.Errorf("%d strings held by %d slots", held, memoSlots)
	}
	long := bytes.Repeat([]byte("a"), memoMaxLen+1)
	m.remember(long, memoClean)
	if m.known(long, memoClean) {
		t.Error("a string longer than memoMaxLen was remembered")
	}
	var none masker // MaskJSON's: no table, nothing remembered
	none.remember([]byte("x"), memoClean)
	if none.known([]byte("x"), memoClean) {
		t.Error("a masker without a table remembered")
	}
}
