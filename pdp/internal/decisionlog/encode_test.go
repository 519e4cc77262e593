package decisionlog

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// stdEncode is what appendRecord must match: encoding/json, HTML escaping
// off, the record's times in UTC (the sidecar's one time format,
// pdp/internal/jsonw).
func stdEncode(r *Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(inUTC(r)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// inUTC returns a copy of r with its times in UTC.
func inUTC(r *Record) *Record {
	c := *r
	c.Timestamp = c.Timestamp.UTC()
	c.Result = *resultInUTC(&c.Result)
	if c.Shadow != nil {
		c.Shadow = resultInUTC(c.Shadow)
	}
	return &c
}

func resultInUTC(r *Result) *Result {
	c := *r
	if c.Limit != nil {
		l := *c.Limit
		l.Until = l.Until.UTC()
		c.Limit = &l
	}
	return &c
}

func checkEncoding(t *testing.T, r *Record) {
	t.Helper()
	want, err := stdEncode(r)
	if err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	got, bad := appendRecord(nil, r)
	if bad != 0 || !bytes.Equal(got, want) {
		t.Fatalf("bad %d\n got %s\nwant %s", bad, got, want)
	}
}

func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	zone := time.FixedZone("CST", 8*3600)
	for name, r := range map[string]*Record{
		"typical": typicalRecord(1),
		"leaky":   leakyRecord(2),
		"zero":    {},
		"small":   smallRecord(3),
		"everything": {
			Schema: 1, DecisionID: "d", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 600, zone), Path: "p",
			Input: json.RawMessage(" {\n \"a\" : [1, 2.50, \"<&>\"] }\t"), Enrichment: json.RawMessage(`null`),
			Result: Result{Outcome: "deny", Reasons: []string{}, Satisfied: []string{"a"}, Methods: []string{"face"},
				ChallengeID: "c", Warning: "w", Limit: &Limit{DailyAmount: 1e21, Currency: "CNY"},
				Obligations: []Obligation{{Type: "freeze", Kind: "temporary", Duration: "30m", Functions: []string{"withdraw"}}, {}},
				Revision:    "r", PolicyErrors: "e", Evaluator: "opa", Reevaluated: "evaluate: to_number: <&>"},
			Bundles: map[string]Bundle{"b": {}, "a": {Revision: "1"}},
			Labels:  map[string]string{"z": "1", "a": "2", "m": ""},
			Metrics: map[string]int64{"x": -1, "a": math.MaxInt64},
			TraceID: "t", SpanID: "s", RequestID: "q", Stage: "login", UID: "u", TxnID: "x",
			Amount: -0.000000123, Currency: "USD", Outcome: "deny", Fallback: true,
			Shadow: &Result{Outcome: "allow", Limit: &Limit{}},
		},
		"strings": {
			DecisionID: "quote\" back\\ ctl\x00\x01\x1f\b\f\n\r\t del\x7f",
			Path:       "bad utf8 \xff\xfe end \xe2\x82", UID: "seps \u2028 \u2029 <html> & ok ünïcödé 漢字 😀",
			Labels: map[string]string{"\xff": "\u2028"},
		},
		"floats":        {Amount: 1e-7, Result: Result{Limit: &Limit{MaxAmount: 123456789.125, DailyAmount: 1e20}}},
		"negative zero": {Amount: math.Copysign(0, -1)},
	} {
		t.Run(name, func(t *testing.T) { checkEncoding(t, r) })
	}
}

func TestAppendRecordWritesNullForBadValues(t *testing.T) {
	r := &Record{Input: json.RawMessage(`{"a":`), Enrichment: json.RawMessage(`nope`),
		Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Amount: math.NaN(),
		Result: Result{Limit: &Limit{MaxAmount: math.Inf(1)}}}
	got, bad := appendRecord(nil, r)
	if bad != 5 || !json.Valid(got) {
		t.Fatalf("bad %d: %s", bad, got)
	}
	for _, want := range []string{`"input":null`, `"enrichment":null`, `"timestamp":null`, `"amount":null`, `"max_amount":null`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("%s missing from %s", want, got)
		}
	}
}

func TestAppendRecordAllocs(t *testing.T) {
	r := typicalRecord(1)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = appendRecord(buf[:0], r) }); n > 0 {
		t.Fatalf("%v allocations per record", n)
	}
}

// FuzzAppendRecord builds records from arbitrary strings, numbers and raw
// JSON and compares appendRecord with encoding/json wherever the latter
// succeeds; otherwise the output must still be valid JSON.
func FuzzAppendRecord(f *testing.F) {
	f.Add("d", "u\x00\xff\u2028", `{"a":1}`, `[1, 2]`, 12.5, int64(7), int64(1700000000123456789), true)
	f.Add("", "", ``, `nope`, math.Inf(1), int64(-1), int64(-62135596800000000), false)
	f.Add("<&>", "\\\"", " \n{\"k\" : \"\\u00e9\"}\n", `null`, 1e-9, int64(0), int64(0), true)
	f.Fuzz(func(t *testing.T, s1, s2, raw1, raw2 string, amount float64, metric, nanos int64, flag bool) {
		r := &Record{
			Schema: 1, DecisionID: s1, Timestamp: time.Unix(0, nanos).In(time.FixedZone("z", int(metric%50000))),
			Path: s2, Input: json.RawMessage(raw1), Enrichment: json.RawMessage(raw2),
			Result: Result{Outcome: s1, Reasons: []string{s2, s1}, Warning: s2, Evaluator: s2, Reevaluated: s1,
				Limit: &Limit{MaxAmount: amount, Currency: s1}},
			Labels: map[string]string{s1: s2, s2: s1}, Metrics: map[string]int64{s1: metric},
			Bundles: map[string]Bundle{s2: {Revision: s1}}, UID: s2, Amount: amount, Fallback: flag,
		}
		if flag {
			r.Shadow = &r.Result
		}
		got, bad := appendRecord(nil, r)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q", got)
		}
		want, err := stdEncode(r)
		if err != nil {
			if bad == 0 {
				t.Fatalf("encoding/json failed (%v) but nothing was written as null", err)
			}
			return
		}
		if bad != 0 || !bytes.Equal(got, want) {
			t.Fatalf("bad %d\n got %q\nwant %q", bad, got, want)
		}
	})
}

// TestEnrichmentCompact: an enrichment marked compact is copied as it is,
// the line the same as without the mark; one a hook replaced is checked
// and compacted as any other, so the mark cannot carry a hook's
// non-compact or broken JSON into the log.
func TestEnrichmentCompact(t *testing.T) {
	encode := func(hook func(*Record) error, mark bool) (string, uint64) {
		l := Logger{cfg: Config{Hook: hook}}
		r := typicalRecord(1)
		r.DecisionID = "d-1" // typicalRecord's is new on every call
		r.Finish = func(r *Record) {
			r.Enrichment = append(r.Scratch, `{"derived":{"vip":false},"scores":{"m":{"score":0.5}}}`...)
			r.EnrichmentCompact = mark
		}
		line, _ := l.encode(newEncoder(), nil, r)
		return string(line), l.c.encodeErrors.Load()
	}
	plain, _ := encode(nil, false)
	if got, _ := encode(nil, true); got != plain || !strings.Contains(got, `"enrichment":{"derived":{"vip":false},"scores":{"m":{"score":0.5}}},`) {
		t.Fatalf("marked compact:\n got %s\nwant %s", got, plain)
	}
	spaced := func(r *Record) error { r.Enrichment = json.RawMessage("{\"derived\" :\n {\"vip\": true}}"); return nil }
	if got, _ := encode(spaced, true); !strings.Contains(got, `"enrichment":{"derived":{"vip":true}},`) {
		t.Fatalf("a hook's enrichment was not compacted: %s", got)
	}
	broken := func(r *Record) error { r.Enrichment = json.RawMessage(`{"derived":`); return nil }
	if got, bad := encode(broken, true); !strings.Contains(got, `"enrichment":null,`) || bad != 1 {
		t.Fatalf("a hook's broken enrichment: %d encode errors, %s", bad, got)
	}
}
