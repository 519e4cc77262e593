package request

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// The policy's input is the caller's request plus what the sidecar added:
// the derived facts, device.new when the sidecar worked it out, and the
// enrichment. The decision log keeps the request as sent and the additions
// as one JSON object (AppendEnrichment); `pdp replay` puts the two back
// together (ReplayInput) and evaluates exactly the input the live policy
// saw.
//
// The additions object holds the keys the policy reads under input:
//
//	{"derived": {...}, "device_new": true, "reputation": {...},
//	 "velocity": {...}, "verification": {...}, "account_state": {...},
//	 "scores": {...}}
//
// "device_new" is present only when the sidecar set input.device.new (the
// caller did not send it); the enrichment keys only when the sidecar had
// them (state, velocity, plugins on).

// AppendEnrichment appends the JSON object of the sidecar's additions to
// dst (on error, dst unchanged), as compact JSON: the decision log copies
// it without checking it (decisionlog.Record.EnrichmentCompact;
// TestAppendEnrichmentMatchesTerms and FuzzReplayInput hold it to that).
// Numbers, booleans, strings, lists and
// times are written from their Go values (field.put); scores, the rarer
// scores_unavailable and unknown, and the known_devices count still
// allocate: call it off the decision path (the decision log does, in its
// writer).
func (in *Input) AppendEnrichment(dst []byte) ([]byte, error) {
	// input.derived as derivedTerm builds it, its keys in order.
	d := &in.Derived
	b := append(dst, `{"derived":{"account_age_days":`...)
	b, err := appendNum(b, d.AccountAgeDays)
	if err != nil {
		return dst, err
	}
	if b, err = appendNum(append(b, `,"amount_base":`...), d.AmountBase); err != nil {
		return dst, err
	}
	b = strconv.AppendBool(append(b, `,"cross_border":`...), d.CrossBorder)
	b = strconv.AppendBool(append(b, `,"destination_new":`...), d.DestinationNew)
	b = strconv.AppendBool(append(b, `,"device_known":`...), d.DeviceKnown)
	b = strconv.AppendBool(append(b, `,"ip_domestic":`...), d.IPDomestic)
	b = strconv.AppendBool(append(b, `,"ip_foreign":`...), d.IPForeign)
	b = strconv.AppendBool(append(b, `,"money":`...), in.Req.Stage.NeedsTxn())
	b = strconv.AppendBool(append(b, `,"outflow":`...), in.outflow())
	if b, err = appendNum(append(b, `,"sensitive_change_hours":`...), d.SensitiveChangeHours); err != nil {
		return dst, err
	}
	b = strconv.AppendBool(append(b, `,"vip":`...), d.VIP)
	b = append(b, '}')
	if in.deviceNewSet {
		b = append(b, `,"device_new":`...)
		b = strconv.AppendBool(b, in.Req.Device.New.IsTrue())
	}
	if b, err = in.appendFields(b, enrichSchema, false); err != nil {
		return dst, err
	}
	return append(b, '}'), nil
}

// appendFields writes the members of fs present in the input, as
// fieldTerm builds them, straight to JSON (no object terms in between),
// each preceded by a comma unless first.
func (in *Input) appendFields(b []byte, fs []field, first bool) ([]byte, error) {
	var err error
	for i := range fs {
		f := &fs[i]
		if f.present != nil && !f.present(in) {
			continue
		}
		if f.put != nil {
			mark := len(b)
			if !first {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, string(f.name.Value.(ast.String)))
			b = append(b, ':')
			var ok bool
			if b, ok = f.put(in, b); !ok {
				b = b[:mark]
				continue
			}
			first = false
			continue
		}
		var leaf *ast.Term
		if f.get != nil && f.num == nil {
			if leaf = f.get(in); leaf == nil {
				continue
			}
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonw.AppendString(b, string(f.name.Value.(ast.String)))
		b = append(b, ':')
		switch {
		case f.num != nil:
			b, err = appendNum(b, f.num(in))
		case leaf != nil:
			b, err = appendValue(b, leaf.Value)
		case f.sub == nil: // scores
			b, err = in.appendScores(b)
		default:
			b = append(b, '{')
			if b, err = in.appendFields(b, f.sub, true); err == nil {
				b = append(b, '}')
			}
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// appendNum writes a numeric leaf as its term (floatTerm) would be written.
func appendNum(b []byte, f float64) ([]byte, error) {
	f = numValue(f)
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return b, fmt.Errorf("number %v is not a JSON number", f)
	case isInt(f):
		return strconv.AppendInt(b, int64(f), 10), nil
	}
	b, _ = jsonw.AppendFloat(b, f)
	return b, nil
}

// appendScores writes input.scores as scoresTerm builds it: plugins in name
// order, each {"reasons": [...], "score": n} (an object's keys in order).
// Plugin names are unique (a set refuses duplicates; replay reads a map).
func (in *Input) appendScores(b []byte) ([]byte, error) {
	order := make([]int, len(in.Enrich.Scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(in.Enrich.Scores[x].Plugin, in.Enrich.Scores[y].Plugin) })
	b = append(b, '{')
	var err error
	for n, i := range order {
		sc := &in.Enrich.Scores[i]
		if n > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, sc.Plugin)
		b = append(b, `:{"reasons":[`...)
		for j, r := range sc.Reasons {
			if j > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, r)
		}
		b = append(b, `],"score":`...)
		if b, err = appendNum(b, sc.Score); err != nil {
			return b, err
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// ReplayInput rebuilds the policy input of a logged decision: body is the
// request as logged, at the decision time, enrichment what AppendEnrichment
// wrote (empty: the request alone). Derived facts come from the record, not
// recomputed, since some depend on state the replay does not have (the
// time of the latest sensitive change).
func ReplayInput(body []byte, at time.Time, enrichment []byte, lim Limits) (*Input, error) {
	in, err := DecodeRequest(body, at, lim)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(enrichment)) == 0 || bytes.Equal(bytes.TrimSpace(enrichment), []byte("null")) {
		return in, nil
	}
	var members map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(enrichment)).Decode(&members); err != nil {
		return nil, fmt.Errorf("enrichment: %w", err)
	}
	if err := in.readAdditions(members); err != nil {
		return nil, fmt.Errorf("enrichment: %w", err)
	}
	return in, nil
}

// derivedJSON is input.derived as AppendEnrichment writes it.
type derivedJSON struct {
	AccountAgeDays       float64  `json:"account_age_days"`
	AmountBase           *float64 `json:"amount_base"`
	SensitiveChangeHours float64  `json:"sensitive_change_hours"`
	IPForeign            bool     `json:"ip_foreign"`
	IPDomestic           bool     `json:"ip_domestic"`
	CrossBorder          bool     `json:"cross_border"`
	DeviceKnown          bool     `json:"device_known"`
	DestinationNew       bool     `json:"destination_new"`
	Money                bool     `json:"money"`   // from the stage
	Outflow              bool     `json:"outflow"` // from the stage
	VIP                  bool     `json:"vip"`
}

// readAdditions sets in's derived facts, device.new and enrichment from
// the members of the additions object. The enrichment is read by walking
// enrichSchema, as it was written; a key this version cannot replay is an
// error, not a silent gap.
func (in *Input) readAdditions(members map[string]json.RawMessage) error {
	for _, key := range sortedKeys(members) {
		raw := members[key]
		switch {
		case strings.EqualFold(key, "derived"):
			var d *derivedJSON
			if err := decodeKnown(raw, &d); err != nil {
				return fmt.Errorf("derived: %w", err)
			}
			if d != nil {
				in.Derived = Derived{AccountAgeDays: d.AccountAgeDays, SensitiveChangeHours: d.SensitiveChangeHours,
					IPForeign: d.IPForeign, IPDomestic: d.IPDomestic, CrossBorder: d.CrossBorder, DeviceKnown: d.DeviceKnown, VIP: d.VIP,
					DestinationNew: d.DestinationNew,
					AmountBase:     in.Derived.AmountBase} // a record without one: the amount
				if d.AmountBase != nil {
					in.Derived.AmountBase = *d.AmountBase
				}
			}
		case strings.EqualFold(key, "device_new"):
			var n *bool
			if err := json.Unmarshal(raw, &n); err != nil {
				return fmt.Errorf("device_new: %w", err)
			}
			if n != nil {
				in.setDeviceNew(*n)
			}
		default:
			if err := in.readField(enrichSchema, key, raw, ""); err != nil {
				return err
			}
		}
	}
	// The policy sees scores as an object: order does not matter, sorting
	// keeps the replay deterministic.
	slices.SortFunc(in.Enrich.Scores, func(a, b Score) int { return strings.Compare(a.Plugin, b.Plugin) })
	return nil
}

// readField reads the member key of an object of fields (at path, "" for
// the top level) from its JSON.
func (in *Input) readField(fields []field, key string, raw json.RawMessage, path string) error {
	f := namedField(fields, key)
	if f == nil {
		return fmt.Errorf("%sjson: unknown field %q", path, key)
	}
	path += string(f.name.Value.(ast.String))
	var err error
	switch {
	case f.read != nil:
		err = f.read(in, raw)
	case f.dst != nil:
		err = json.Unmarshal(raw, f.dst(in))
	default:
		var members map[string]json.RawMessage
		if err = json.Unmarshal(raw, &members); err != nil || members == nil { // null: absent
			break
		}
		if f.open != nil {
			f.open(in)
		}
		for _, k := range sortedKeys(members) {
			if err := in.readField(f.sub, k, members[k], path+"."); err != nil {
				return err
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// namedField finds the field a JSON key names: its name, else one equal
// under case folding (as encoding/json matches keys to struct fields).
func namedField(fields []field, key string) *field {
	for i := range fields {
		if string(fields[i].name.Value.(ast.String)) == key {
			return &fields[i]
		}
	}
	for i := range fields {
		if strings.EqualFold(string(fields[i].name.Value.(ast.String)), key) {
			return &fields[i]
		}
	}
	return nil
}

// readScores reads input.scores, {plugin: {"score": n, "reasons": [...]}}.
func readScores(in *Input, raw json.RawMessage) error {
	var scores map[string]struct {
		Score   float64  `json:"score"`
		Reasons []string `json:"reasons"`
	}
	if err := decodeKnown(raw, &scores); err != nil {
		return err
	}
	in.Enrich.Scores = in.Enrich.Scores[:0]
	for name, s := range scores {
		in.Enrich.Scores = append(in.Enrich.Scores, Score{Plugin: name, Score: s.Score, Reasons: s.Reasons})
	}
	return nil
}

// readUnavailable reads input.scores_unavailable, {plugin: true}.
func readUnavailable(in *Input, raw json.RawMessage) error {
	var names map[string]bool
	if err := json.Unmarshal(raw, &names); err != nil {
		return err
	}
	in.Enrich.Unavailable = in.Enrich.Unavailable[:0]
	for name, ok := range names {
		if ok {
			in.Enrich.Unavailable = append(in.Enrich.Unavailable, name)
		}
	}
	slices.Sort(in.Enrich.Unavailable)
	return nil
}

// decodeKnown decodes raw into v, refusing fields v does not have.
func decodeKnown(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// sortedKeys are m's keys in order: the first error a logged input has is
// the same at every replay.
func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
