package server

import (
	"strconv"

	"github.com/riskpdp/riskpdp/pdp"
)

// appendDecision encodes the decide response (see README "Decision API").
func appendDecision(b []byte, d *pdp.Decision) []byte {
	b = append(b, `{"decision_id":`...)
	b = appendString(b, d.ID)
	if d.RequestID != "" {
		b = appendKey(b, "request_id", false)
		b = appendString(b, d.RequestID)
	}
	b = appendKey(b, "outcome", false)
	b = appendString(b, d.Outcome.String())
	b = appendKey(b, "reasons", false)
	b = appendStrings(b, d.Reasons)
	if d.StepUp != nil {
		b = append(b, `,"step_up":{"methods":`...)
		b = appendStrings(b, d.StepUp.Methods)
		if d.StepUp.ChallengeID != "" {
			b = appendKey(b, "challenge_id", false)
			b = appendString(b, d.StepUp.ChallengeID)
			b = appendKey(b, "expires_at", false)
			b = appendTime(b, d.StepUp.ExpiresAt)
		}
		b = append(b, '}')
	}
	b = appendKey(b, "message", false)
	b = appendString(b, d.Message)
	if d.Warning != nil {
		b = append(b, `,"warning":{"code":`...)
		b = appendString(b, d.Warning.Code)
		b = appendKey(b, "message", false)
		b = appendString(b, d.Warning.Message)
		b = append(b, '}')
	}
	if d.Limit != nil {
		b = append(b, `,"limit":`...)
		b = appendLimit(b, d.Limit)
	}
	if d.Fallback {
		b = append(b, `,"fallback":true`...)
	}
	b = appendKey(b, "policy_revision", false)
	b = appendString(b, d.PolicyRevision)
	b = appendKey(b, "took_us", false)
	b = strconv.AppendInt(b, d.Took.Microseconds(), 10)
	return append(b, '}')
}

func appendLimit(b []byte, l *pdp.Limit) []byte {
	b = append(b, '{')
	first := true
	if l.MaxAmount > 0 {
		b = appendKey(b, "max_amount", first)
		b = appendFloat(b, l.MaxAmount)
		first = false
	}
	if l.DailyAmount > 0 {
		b = appendKey(b, "daily_amount", first)
		b = appendFloat(b, l.DailyAmount)
		first = false
	}
	if l.Currency != "" {
		b = appendKey(b, "currency", first)
		b = appendString(b, l.Currency)
		first = false
	}
	if !l.Until.IsZero() {
		b = appendKey(b, "until", first)
		b = appendTime(b, l.Until)
	}
	return append(b, '}')
}

// appendError encodes {"error": {"code", "message", "field"}}.
func appendError(b []byte, e *pdp.Error) []byte {
	b = append(b, `{"error":{"code":`...)
	b = appendString(b, string(e.Code))
	b = appendKey(b, "message", false)
	b = appendString(b, e.Message)
	if e.Field != "" {
		b = appendKey(b, "field", false)
		b = appendString(b, e.Field)
	}
	return append(b, '}', '}')
}
