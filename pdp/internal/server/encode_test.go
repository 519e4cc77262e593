package server

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// wireDecision is the decide answer as README "Decision API" documents it,
// for encoding/json: appendDecision must write the same bytes.
type wireDecision struct {
	DecisionID string   `json:"decision_id"`
	RequestID  string   `json:"request_id,omitempty"`
	Outcome    string   `json:"outcome"`
	Reasons    []string `json:"reasons"`
	StepUp     *struct {
		Methods     []string   `json:"methods"`
		ChallengeID string     `json:"challenge_id,omitempty"`
		ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	} `json:"step_up,omitempty"`
	Message string `json:"message"`
	Warning *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"warning,omitempty"`
	Limit *struct {
		MaxAmount   float64    `json:"max_amount,omitempty"`
		DailyAmount float64    `json:"daily_amount,omitempty"`
		Currency    string     `json:"currency,omitempty"`
		Until       *time.Time `json:"until,omitempty"`
	} `json:"limit,omitempty"`
	Fallback       bool   `json:"fallback,omitempty"`
	PolicyRevision string `json:"policy_revision"`
	TookUS         int64  `json:"took_us"`
}

func wire(d *pdp.Decision) *wireDecision {
	w := &wireDecision{DecisionID: d.ID, RequestID: d.RequestID, Outcome: d.Outcome.String(), Reasons: d.Reasons,
		Message: d.Message, Fallback: d.Fallback, PolicyRevision: d.PolicyRevision, TookUS: d.Took.Microseconds()}
	if w.Reasons == nil {
		w.Reasons = []string{}
	}
	if s := d.StepUp; s != nil {
		w.StepUp = &struct {
			Methods     []string   `json:"methods"`
			ChallengeID string     `json:"challenge_id,omitempty"`
			ExpiresAt   *time.Time `json:"expires_at,omitempty"`
		}{Methods: s.Methods, ChallengeID: s.ChallengeID}
		if w.StepUp.Methods == nil {
			w.StepUp.Methods = []string{}
		}
		if s.ChallengeID != "" {
			t := s.ExpiresAt.UTC()
			w.StepUp.ExpiresAt = &t
		}
	}
	if d.Warning != nil {
		w.Warning = &struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}{d.Warning.Code, d.Warning.Message}
	}
	if l := d.Limit; l != nil {
		w.Limit = &struct {
			MaxAmount   float64    `json:"max_amount,omitempty"`
			DailyAmount float64    `json:"daily_amount,omitempty"`
			Currency    string     `json:"currency,omitempty"`
			Until       *time.Time `json:"until,omitempty"`
		}{MaxAmount: max(l.MaxAmount, 0), DailyAmount: max(l.DailyAmount, 0), Currency: l.Currency}
		if !l.Until.IsZero() {
			t := l.Until.UTC()
			w.Limit.Until = &t
		}
	}
	return w
}

// TestAppendDecisionMatchesEncodingJSON: the API's numbers and times are
// encoding/json's, as the decision log's are (one format, pdp/internal/jsonw),
// times in UTC whatever the zone they were made in.
func TestAppendDecisionMatchesEncodingJSON(t *testing.T) {
	zone := time.FixedZone("CST", 8*3600)
	for name, d := range map[string]*pdp.Decision{
		"zero": {},
		"allow": {ID: "d1", Outcome: pdp.Allow, Reasons: []string{"ok"}, Message: "m", PolicyRevision: "r",
			Took: 1234 * time.Microsecond},
		"everything": {ID: "d2", RequestID: "q<&>", Outcome: pdp.StepUp, Reasons: []string{"a\u2028", "\xff"},
			StepUp:  &pdp.StepUpChallenge{Methods: []string{"face"}, ChallengeID: "c", ExpiresAt: time.Date(2026, 12, 6, 22, 14, 27, 0, zone)},
			Message: "quote\" back\\ nl\n", Warning: &pdp.Warning{Code: "w", Message: "x"},
			Limit: &pdp.Limit{MaxAmount: 1e-7, DailyAmount: 1e21, Currency: "CNY",
				Until: time.Date(2026, 1, 2, 3, 4, 5, 600, zone)},
			Fallback: true, PolicyRevision: "sha256:1"},
		"step-up without challenge": {StepUp: &pdp.StepUpChallenge{}},
		"small limit":               {Limit: &pdp.Limit{MaxAmount: 123456789.125, DailyAmount: math.SmallestNonzeroFloat64}},
		"negative limit":            {Limit: &pdp.Limit{MaxAmount: -1, Currency: "USD"}},
	} {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(wire(d)); err != nil {
				t.Fatal(err)
			}
			if got := appendDecision(nil, d); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
				t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
			}
		})
	}
}
