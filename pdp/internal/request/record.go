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

	"github.com/riskpdp/riskpdp/pdp"
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
// dst (on error, dst unchanged). It still builds some terms and allocates:
// call it off the decision path (the decision log does, in its writer).
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
	return strconv.AppendFloat(b, f, 'f', -1, 64), nil
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
	var e enrichmentJSON
	dec := json.NewDecoder(bytes.NewReader(enrichment))
	dec.DisallowUnknownFields() // a field this version cannot replay is an error, not a silent gap
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("enrichment: %w", err)
	}
	e.apply(in)
	return in, nil
}

// enrichmentJSON mirrors the additions object; the round-trip test keeps
// it in step with enrichSchema.
type enrichmentJSON struct {
	Derived *struct {
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
	} `json:"derived"`
	DeviceNew  *bool `json:"device_new"`
	Reputation *struct {
		UID     reputationJSON `json:"uid"`
		Device  reputationJSON `json:"device"`
		IP      reputationJSON `json:"ip"`
		CardBIN reputationJSON `json:"card_bin"`
	} `json:"reputation"`
	Velocity *struct {
		UID          windowJSON `json:"uid"`
		Device       windowJSON `json:"device"`
		IP           windowJSON `json:"ip"`
		UIDDevices1h uint32     `json:"uid_devices_1h"`
		DeviceUIDs1h uint32     `json:"device_uids_1h"`
		Spent24h     float64    `json:"spent_24h"`
		Attempts1m   uint32     `json:"attempts_1m"`
		Attempts1h   uint32     `json:"attempts_1h"`
		UIDMethods   uint32     `json:"uid_methods_1h"`
		PurchaseMeth uint32     `json:"purchase_methods_1h"`
		InstrUIDs    uint32     `json:"instrument_uids_1h"`
		UIDInstrs    uint32     `json:"uid_instruments_1h"`
		Failures     struct {
			Payment1h  uint32 `json:"payment_1h"`
			Payment24h uint32 `json:"payment_24h"`
			PIN1h      uint32 `json:"pin_1h"`
			PIN24h     uint32 `json:"pin_24h"`
			Login1h    uint32 `json:"login_1h"`
			Login24h   uint32 `json:"login_24h"`
		} `json:"failures"`
	} `json:"velocity"`
	Verification *struct {
		Status      string   `json:"status"`
		ChallengeID string   `json:"challenge_id"`
		Methods     []string `json:"methods"`
		Passed      []string `json:"passed"`
	} `json:"verification"`
	AccountState *struct {
		Frozen          bool      `json:"frozen"`
		FreezeKind      string    `json:"freeze_kind"`
		FrozenUntil     time.Time `json:"frozen_until"`
		StageRestricted bool      `json:"stage_restricted"`
		Restricted      []string  `json:"restricted"`
		Probation       bool      `json:"probation"`
		ProbationUntil  time.Time `json:"probation_until"`
		EverFrozen      bool      `json:"ever_frozen"`
		KnownDevices    int       `json:"known_devices"`
		ProfileChanges  int       `json:"profile_changes_7d"`
		Freezes24h      int       `json:"freezes_24h"`
		NewDests24h     int       `json:"new_destinations_24h"`
		Flags24h        int       `json:"flags_24h"`
		Limit           *struct {
			DailyAmount float64 `json:"daily_amount"`
			MaxAmount   float64 `json:"max_amount"`
			Currency    string  `json:"currency"`
		} `json:"limit"`
	} `json:"account_state"`
	StateUnknown      []string        `json:"state_unknown"`
	ScoresUnavailable map[string]bool `json:"scores_unavailable"`
	Scores            map[string]struct {
		Score   float64  `json:"score"`
		Reasons []string `json:"reasons"`
	} `json:"scores"`
}

type reputationJSON struct {
	Blocked bool `json:"blocked"`
	Allowed bool `json:"allowed"`
	VIP     bool `json:"vip"`
}

type windowJSON struct {
	Count1m   uint32  `json:"count_1m"`
	Count1h   uint32  `json:"count_1h"`
	Count24h  uint32  `json:"count_24h"`
	Amount1m  float64 `json:"amount_1m"`
	Amount1h  float64 `json:"amount_1h"`
	Amount24h float64 `json:"amount_24h"`
	Logins1h  uint32  `json:"logins_1h"`
}

func (w windowJSON) counts() pdp.WindowCounts {
	return pdp.WindowCounts{Count1m: w.Count1m, Count1h: w.Count1h, Count24h: w.Count24h,
		Amount1m: w.Amount1m, Amount1h: w.Amount1h, Amount24h: w.Amount24h, Logins1h: w.Logins1h}
}

func (r reputationJSON) reputation() pdp.Reputation {
	return pdp.Reputation{Blocked: r.Blocked, Allowed: r.Allowed, VIP: r.VIP}
}

// apply sets in's derived facts and enrichment from e.
func (e *enrichmentJSON) apply(in *Input) {
	if d := e.Derived; d != nil {
		in.Derived = Derived{AccountAgeDays: d.AccountAgeDays, SensitiveChangeHours: d.SensitiveChangeHours,
			IPForeign: d.IPForeign, IPDomestic: d.IPDomestic, CrossBorder: d.CrossBorder, DeviceKnown: d.DeviceKnown, VIP: d.VIP,
			DestinationNew: d.DestinationNew,
			AmountBase:     in.Derived.AmountBase} // a record without one: the amount
		if d.AmountBase != nil {
			in.Derived.AmountBase = *d.AmountBase
		}
	}
	if e.DeviceNew != nil {
		in.setDeviceNew(*e.DeviceNew)
	}
	en := &in.Enrich
	if r := e.Reputation; r != nil {
		en.HasReputation = true
		en.Reputation = [4]pdp.Reputation{r.UID.reputation(), r.Device.reputation(), r.IP.reputation(), r.CardBIN.reputation()}
	}
	if v := e.Velocity; v != nil {
		en.Velocity = &pdp.Velocity{UID: v.UID.counts(), Device: v.Device.counts(), IP: v.IP.counts(),
			UIDDevices1h: v.UIDDevices1h, DeviceUIDs1h: v.DeviceUIDs1h, Spent24h: v.Spent24h,
			Attempts1m: v.Attempts1m, Attempts1h: v.Attempts1h,
			UIDMethods1h: v.UIDMethods, PurchaseMethods1h: v.PurchaseMeth, InstrumentUIDs1h: v.InstrUIDs, UIDInstruments1h: v.UIDInstrs,
			Failures: pdp.Failures{Payment1h: v.Failures.Payment1h, Payment24h: v.Failures.Payment24h,
				PIN1h: v.Failures.PIN1h, PIN24h: v.Failures.PIN24h, Login1h: v.Failures.Login1h, Login24h: v.Failures.Login24h}}
	}
	if v := e.Verification; v != nil {
		en.Verification = VerificationView{Status: v.Status, ChallengeID: v.ChallengeID, Methods: v.Methods, Passed: v.Passed}
	}
	if a := e.AccountState; a != nil {
		av := &AccountView{Frozen: a.Frozen, FreezeKind: a.FreezeKind, FrozenUntil: a.FrozenUntil,
			StageRestricted: a.StageRestricted, Restricted: a.Restricted, Probation: a.Probation,
			ProbationUntil: a.ProbationUntil, EverFrozen: a.EverFrozen, KnownDevices: a.KnownDevices,
			ProfileChanges7d: a.ProfileChanges, Freezes24h: a.Freezes24h, NewDestinations24h: a.NewDests24h, Flags24h: a.Flags24h}
		if l := a.Limit; l != nil {
			av.DailyAmount, av.MaxAmount, av.LimitCurrency = l.DailyAmount, l.MaxAmount, l.Currency
		}
		en.Account = av
	}
	en.Unknown = e.StateUnknown
	for name, ok := range e.ScoresUnavailable {
		if ok {
			en.Unavailable = append(en.Unavailable, name)
		}
	}
	slices.Sort(en.Unavailable)
	for name, s := range e.Scores {
		en.Scores = append(en.Scores, Score{Plugin: name, Score: s.Score, Reasons: s.Reasons})
	}
	// The policy sees scores as an object: order does not matter, sorting
	// keeps the replay deterministic.
	slices.SortFunc(en.Scores, func(a, b Score) int { return strings.Compare(a.Plugin, b.Plugin) })
}
