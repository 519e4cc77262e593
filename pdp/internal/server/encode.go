package server

import (
	"strconv"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// The API's answers are written with jsonw, as the decision log's records
// are: numbers as encoding/json writes a float64, times in UTC as RFC 3339
// with nanoseconds (README "Decision API").

// appendKey appends "key": after a comma unless first.
func appendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendList appends ss as a JSON array: [] when nil, since the API never
// answers null for a list.
func appendList(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, '[', ']')
	}
	return jsonw.AppendStrings(b, ss)
}

// appendFloat appends f as encoding/json does (a NaN or infinity, which
// the API never holds, as null).
func appendFloat(b []byte, f float64) []byte {
	b, _ = jsonw.AppendFloat(b, f)
	return b
}

// appendTime appends t in UTC as encoding/json does (a year outside
// 0-9999, which the API never holds, as null).
func appendTime(b []byte, t time.Time) []byte {
	b, _ = jsonw.AppendTime(b, t)
	return b
}

// appendDecision encodes the decide response (see README "Decision API").
func appendDecision(b []byte, d *pdp.Decision) []byte {
	b = append(b, `{"decision_id":`...)
	b = jsonw.AppendString(b, d.ID)
	if d.RequestID != "" {
		b = appendKey(b, "request_id", false)
		b = jsonw.AppendString(b, d.RequestID)
	}
	b = appendKey(b, "outcome", false)
	b = jsonw.AppendString(b, d.Outcome.String())
	b = appendKey(b, "reasons", false)
	b = appendList(b, d.Reasons)
	if d.StepUp != nil {
		b = append(b, `,"step_up":{"methods":`...)
		b = appendList(b, d.StepUp.Methods)
		if d.StepUp.ChallengeID != "" {
			b = appendKey(b, "challenge_id", false)
			b = jsonw.AppendString(b, d.StepUp.ChallengeID)
			b = appendKey(b, "expires_at", false)
			b = appendTime(b, d.StepUp.ExpiresAt)
		}
		b = append(b, '}')
	}
	b = appendKey(b, "message", false)
	b = jsonw.AppendString(b, d.Message)
	if d.Warning != nil {
		b = append(b, `,"warning":{"code":`...)
		b = jsonw.AppendString(b, d.Warning.Code)
		b = appendKey(b, "message", false)
		b = jsonw.AppendString(b, d.Warning.Message)
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
	b = jsonw.AppendString(b, d.PolicyRevision)
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
		b = jsonw.AppendString(b, l.Currency)
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
	b = jsonw.AppendString(b, string(e.Code))
	b = appendKey(b, "message", false)
	b = jsonw.AppendString(b, e.Message)
	if e.Field != "" {
		b = appendKey(b, "field", false)
		b = jsonw.AppendString(b, e.Field)
	}
	return append(b, '}', '}')
}
