package sim

import (
	"encoding/json"
	"math"
)

// The wire shapes of the calls (README "Decision API"). Field order is
// fixed by the structs, so a body is the same bytes for the same seed.
type (
	wireDevice struct {
		ID        string `json:"id"`
		IP        string `json:"ip,omitempty"`
		IPCountry string `json:"ip_country,omitempty"`
		OS        string `json:"os,omitempty"`
		Proxy     bool   `json:"proxy,omitempty"`
		Emulator  bool   `json:"emulator,omitempty"`
	}
	wireTxn struct {
		ID       string  `json:"id"`
		Amount   float64 `json:"amount"`
		Currency string  `json:"currency"`
		// OrderID links a payment to its order: one purchase.
		OrderID        string `json:"order_id,omitempty"`
		Category       string `json:"category,omitempty"`
		Merchant       string `json:"merchant,omitempty"`
		PaymentMethod  string `json:"payment_method,omitempty"`
		ShipCountry    string `json:"ship_country,omitempty"`
		CardBIN        string `json:"card_bin,omitempty"`
		Instrument     string `json:"instrument,omitempty"`
		Purpose        string `json:"purpose,omitempty"`
		DestinationNew *bool  `json:"destination_new,omitempty"`
	}
	wireAccount struct {
		HomeCountry string `json:"home_country"`
		CreatedAt   string `json:"created_at"`
	}
	wireContext struct {
		UserStatement      string `json:"user_statement,omitempty"`
		ThirdPartyGuidance bool   `json:"third_party_guidance,omitempty"`
		RemoteAssistance   bool   `json:"remote_assistance,omitempty"`
	}
	wireRequest struct {
		RequestID   string       `json:"request_id"`
		ChallengeID string       `json:"challenge_id,omitempty"`
		Stage       string       `json:"stage"`
		UID         string       `json:"uid"`
		Device      wireDevice   `json:"device"`
		Txn         *wireTxn     `json:"txn,omitempty"`
		Account     wireAccount  `json:"account"`
		Context     *wireContext `json:"context,omitempty"`
	}
	// wireEvent is a body of POST /v1/events; its time is the sidecar's
	// now (the call is made when the event happens).
	wireEvent struct {
		UID      string `json:"uid"`
		Kind     string `json:"kind"`
		DeviceID string `json:"device_id,omitempty"`
	}
	// wireOutcome is a body of POST /v1/outcomes: what became of an
	// allowed money movement, reported when it settles.
	wireOutcome struct {
		UID      string  `json:"uid"`
		TxnID    string  `json:"txn_id"`
		Status   string  `json:"status"`
		Amount   float64 `json:"amount"`
		Currency string  `json:"currency"`
	}
)

func (w *wireRequest) body() []byte { return mustJSON(w) }

func (w *wireEvent) body() []byte { return mustJSON(w) }

func (w *wireOutcome) body() []byte { return mustJSON(w) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sim: " + err.Error()) // plain structs of strings and finite numbers
	}
	return b
}

// inCurrency converts an amount in CNY to currency, rounded to cents
// (at least one cent), and returns it with its CNY value at Rates.
func inCurrency(cny float64, currency string) (amount, valued float64) {
	amount = math.Max(0.01, math.Round(cny/Rates[currency]*100)/100)
	return amount, amount * Rates[currency]
}

func boolPtr(b bool) *bool { return &b }
