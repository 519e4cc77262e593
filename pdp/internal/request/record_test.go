package request

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// fullEnrichment sets every field of the enrichment schema to a value
// other than its zero.
func fullEnrichment(in *Input, now time.Time) {
	in.SetDeviceKnown(false)
	in.NoteSensitiveChange(now.Add(-90 * time.Minute))
	in.Enrich = Enrichment{
		HasReputation: true,
		Reputation:    [4]pdp.Reputation{{Blocked: true}, {Allowed: true}, {VIP: true}, {Blocked: true, VIP: true}},
		Velocity: &pdp.Velocity{
			UID:          pdp.WindowCounts{Count1m: 1, Count1h: 2, Count24h: 3, Amount1m: 4.5, Amount1h: 6899.75, Amount24h: 7, Logins1h: 8},
			Device:       pdp.WindowCounts{Count1m: 9, Count1h: 10, Count24h: 11, Amount1m: 12, Amount1h: 13, Amount24h: 14, Logins1h: 15},
			IP:           pdp.WindowCounts{Count1m: 16, Count1h: 17, Count24h: 18, Amount1m: 19, Amount1h: 20, Amount24h: 21, Logins1h: 22},
			UIDDevices1h: 3, DeviceUIDs1h: 4, Spent24h: 999.99, Attempts1m: 3, Attempts1h: 9, UIDMethods1h: 2, PurchaseMethods1h: 3, InstrumentUIDs1h: 4, UIDInstruments1h: 5,
			Failures: pdp.Failures{Payment1h: 1, Payment24h: 2, PIN1h: 3, PIN24h: 4, Login1h: 5, Login24h: 6},
		},
		Verification: VerificationView{Status: "pending", ChallengeID: "c1.x", Methods: []string{"face", "sms"}, Passed: []string{"sms"}},
		Account: &AccountView{Frozen: true, FreezeKind: "temporary", FrozenUntil: now.Add(time.Hour).Truncate(time.Second),
			StageRestricted: true, Restricted: []string{"withdrawal"}, Probation: true, ProbationUntil: now.Add(48 * time.Hour).Truncate(time.Second),
			DailyAmount: 1000, MaxAmount: 500.5, LimitCurrency: "CNY", EverFrozen: true, KnownDevices: 2, ProfileChanges7d: 3, Freezes24h: 1},
		Scores:      []Score{{Plugin: "fraud_model", Score: 0.97, Reasons: []string{"model_score_high"}}, {Plugin: "device_risk", Score: 0.1, Reasons: []string{}}},
		Unknown:     []string{"verification"},
		Unavailable: []string{"habit_deviation"},
	}
}

// TestEnrichmentRoundTrip: what AppendEnrichment writes, ReplayInput reads
// back to the same policy input, for a fully populated enrichment and for
// the generated ones of the differential test. A schema field the replay
// does not know fails here (DisallowUnknownFields), and a schema field
// fullEnrichment does not set fails the completeness check.
func TestEnrichmentRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	body := `{"stage":"payment","uid":"u-1","device":{"id":"d-1","ip_country":"US"},"txn":{"id":"t-1","amount":700,"currency":"CNY"},"account":{"home_country":"CN","created_at":"2026-01-01T00:00:00Z"}}`
	in, err := DecodeRequest([]byte(body), now, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	fullEnrichment(in, now)
	var missing []string
	var walk func(prefix string, fs []field)
	walk = func(prefix string, fs []field) {
		for i := range fs {
			f := &fs[i]
			name := prefix + string(f.name.Value.(ast.String))
			if f.present != nil && !f.present(in) {
				missing = append(missing, name)
				continue
			}
			if f.get != nil && f.get(in) == nil {
				missing = append(missing, name)
			}
			walk(name+".", f.sub)
		}
	}
	walk("", enrichSchema)
	if len(missing) > 0 {
		t.Fatalf("fullEnrichment leaves %v unset: set them so the round trip covers them", missing)
	}
	roundTrip(t, body, in)

	for seed := range uint64(300) {
		body := GenRequest(seed)
		in, err := DecodeRequest([]byte(body), now, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		GenEnrichment(seed, in)
		roundTrip(t, body, in)
	}
}

func roundTrip(t *testing.T, body string, in *Input) {
	t.Helper()
	js, err := in.AppendEnrichment(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReplayInput([]byte(body), in.Now, js, testLimits)
	if err != nil {
		t.Fatalf("%s\n%s: %v", body, js, err)
	}
	if got, want := back.Term(), in.Term(); got.Value.Compare(want.Value) != 0 {
		t.Fatalf("round trip of %s\n%s\n got  %v\n want %v", body, js, got, want)
	}
}

func TestReplayInputErrors(t *testing.T) {
	now := time.Now()
	body := []byte(`{"stage":"login","uid":"u-1"}`)
	for _, enr := range []string{``, `null`, ` `} {
		if _, err := ReplayInput(body, now, []byte(enr), testLimits); err != nil {
			t.Errorf("enrichment %q: %v", enr, err)
		}
	}
	for enr, want := range map[string]string{
		`{"velocity":{"uid":{"count_1m":-1}}}`: "count_1m",
		`{"unknown_section":{}}`:               "unknown_section",
		`{"derived":`:                          "unexpected EOF",
		`[]`:                                   "cannot unmarshal array",
	} {
		if _, err := ReplayInput(body, now, []byte(enr), testLimits); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("enrichment %s: err %v, want it to mention %q", enr, err, want)
		}
	}
	if _, err := ReplayInput([]byte(`{"stage":"launch","uid":"u"}`), now, nil, testLimits); err == nil {
		t.Error("a request the decoder refuses replays")
	}
}

func FuzzReplayInput(f *testing.F) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	in, _ := DecodeRequest([]byte(`{"stage":"login","uid":"u-1"}`), now, testLimits)
	fullEnrichment(in, now)
	js, _ := in.AppendEnrichment(nil)
	f.Add([]byte(`{"stage":"login","uid":"u-1"}`), js)
	f.Add([]byte(`{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"currency":"CNY"}}`), []byte(`{"scores":{"m":{"score":1e308}}}`))
	f.Fuzz(func(t *testing.T, body, enr []byte) {
		in, err := ReplayInput(body, now, enr, testLimits)
		if err != nil {
			return
		}
		// Whatever replays must re-encode and replay to the same input.
		js, err := in.AppendEnrichment(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		checkCompact(t, js)
		back, err := ReplayInput(body, now, js, testLimits)
		if err != nil {
			t.Fatalf("replay of the re-encoding %s: %v", js, err)
		}
		if back.Term().Value.Compare(in.Term().Value) != 0 {
			t.Fatalf("not stable:\n%v\n%v", back.Term(), in.Term())
		}
	})
}

// checkCompact fails unless js is valid JSON already compact, as the
// decision log takes AppendEnrichment's output (it copies it unchecked).
func checkCompact(t *testing.T, js []byte) {
	t.Helper()
	c, err := jsonw.Compact(nil, js)
	if err != nil || !bytes.Equal(c, js) {
		t.Fatalf("not compact JSON (%v): %s", err, js)
	}
}

// TestAppendEnrichmentMatchesTerms: the directly written additions are the
// policy input's terms as JSON (ast.JSON, then encoding/json), number text
// included, over generated enrichments.
func TestAppendEnrichmentMatchesTerms(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for seed := uint64(0); seed < 400; seed++ {
		in, err := DecodeRequest([]byte(GenRequest(seed)), now, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		if seed%50 == 0 {
			fullEnrichment(in, now)
		} else {
			GenEnrichment(seed, in)
		}
		if in.Enrich.Velocity != nil && seed%3 == 0 {
			in.Enrich.Velocity.UID.Amount1h = []float64{1e15 + 0.5, -0.0000004, 123.4567894, 2e20}[seed/3%4]
		}
		got, err := in.AppendEnrichment(nil)
		if err != nil {
			t.Fatal(err)
		}
		checkCompact(t, got)
		pairs := append([][2]*ast.Term{{keyDerived, in.derivedTerm()}}, in.enrichPairs()...)
		if in.deviceNewSet {
			pairs = append(pairs, [2]*ast.Term{ast.StringTerm("device_new"), ast.BooleanTerm(in.Req.Device.New.IsTrue())})
		}
		v, err := ast.JSON(ast.NewObject(pairs...))
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		for _, x := range []struct {
			b []byte
			v *any
		}{{got, &g}, {want, &w}} {
			d := json.NewDecoder(bytes.NewReader(x.b))
			d.UseNumber()
			if err := d.Decode(x.v); err != nil {
				t.Fatalf("seed %d: %v in %s", seed, err, x.b)
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("seed %d:\n got  %s\n want %s", seed, got, want)
		}
	}
}

// TestVelocityJSONIsThePolicysNames: pdp.Velocity marshals (the operator
// API's account view) with the names the policy reads under
// input.velocity, every field of them.
func TestVelocityJSONIsThePolicysNames(t *testing.T) {
	in := &Input{}
	fullEnrichment(in, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	js, err := in.AppendEnrichment(nil)
	if err != nil {
		t.Fatal(err)
	}
	var enrichment struct{ Velocity map[string]any }
	if err := json.Unmarshal(js, &enrichment); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(in.Enrich.Velocity)
	if err != nil {
		t.Fatal(err)
	}
	var marshalled map[string]any
	if err := json.Unmarshal(b, &marshalled); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(marshalled, enrichment.Velocity) {
		t.Errorf("json.Marshal(pdp.Velocity) = %s\nthe policy's input.velocity = %v", b, enrichment.Velocity)
	}
}

// TestEnrichmentPutMatchesGet: the leaves written straight from their Go
// values (field.put) are byte for byte what their terms (field.get) are
// written as, over generated enrichments, empty and zero values included.
func TestEnrichmentPutMatchesGet(t *testing.T) {
	var withoutPut func(fs []field) []field
	withoutPut = func(fs []field) []field {
		out := slices.Clone(fs)
		for i := range out {
			out[i].put, out[i].sub = nil, withoutPut(out[i].sub)
		}
		return out
	}
	terms := withoutPut(enrichSchema)
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	puts := 0
	for seed := uint64(0); seed < 400; seed++ {
		in, err := DecodeRequest([]byte(GenRequest(seed)), now, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		switch seed % 50 {
		case 0:
			fullEnrichment(in, now)
		case 1: // as decoded: nothing added
		default:
			GenEnrichment(seed, in)
		}
		if in.Enrich.Account != nil && seed%4 == 0 {
			in.Enrich.Account.Restricted = []string{"q\"uote", "\u2028", "<&>"}
		}
		got, err := in.appendFields(nil, enrichSchema, true)
		if err != nil {
			t.Fatal(err)
		}
		want, err := in.appendFields(nil, terms, true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d:\n got  %s\n want %s", seed, got, want)
		}
		puts += bytes.Count(got, []byte(`"restricted":`))
	}
	if puts == 0 {
		t.Fatal("no generated enrichment had a leaf written by put")
	}
}
