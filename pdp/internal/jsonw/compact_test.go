package jsonw

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// sampleRecord is a decision log line as README shows it.
const sampleRecord = `{"schema":1,"decision_id":"01a2","timestamp":"2026-11-22T04:28:02.17Z","path":"riskpdp",
 "input":{"stage":"payment","uid":"u-1001","txn":{"id":"t-9","amount":6800,"currency":"CNY"},"device":{"id":"d-77","ip":"203.0.113.9"}},
 "result":{"outcome":"step_up","reasons":["large_amount","new_device_foreign_ip"],"methods":["face"],"revision":"sha256:38484e446803"},
 "metrics":{"timer_pdp_decide_ns":31000},"amount":6800.5,"outcome":"step_up","fallback":false,"x":null}`

// FuzzCompact holds Compact to encoding/json: it fails exactly when
// json.Valid does, and otherwise gives json.Compact's bytes.
func FuzzCompact(f *testing.F) {
	for _, s := range []string{
		` {"a" : [1, -2.5e+3, true, false, null, "x\u00e9\n\\"], "b": {}} `, `[]`, `""`, `0`, `-0.0e0`, `01`, `1.`, `.5`,
		`{"a":1,}`, `[1,]`, `{"a" 1}`, `tru`, `nul`, `"\x"`, "\"\x01\"", `"\u12"`, `{"a":"b"}}`, `[[[[`, "\xff", "\"\xff\"",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(sampleRecord))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Compact([]byte("prefix"), in)
		if valid := json.Valid(in); (err == nil) != valid {
			t.Fatalf("Compact error %v, json.Valid %v: %q", err, valid, in)
		}
		if err != nil {
			return
		}
		var want bytes.Buffer
		want.WriteString("prefix")
		if err := json.Compact(&want, in); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("\n got %q\nwant %q", got, want.Bytes())
		}
	})
}

func TestCompactDepth(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if _, err := Compact(nil, []byte(deep)); err != nil || !json.Valid([]byte(deep)) {
		t.Fatalf("depth 10000: %v", err)
	}
	deeper := "[" + deep + "]"
	if _, err := Compact(nil, []byte(deeper)); err == nil || json.Valid([]byte(deeper)) {
		t.Fatal("depth 10001 accepted")
	}
}
