// Package jsonw is the sidecar's one JSON toolkit, without reflection: a
// writer and a lexer. The writer appends JSON values to byte slices for
// every hand-written encoder of the sidecar (the HTTP API's answers, the
// decision log record, the policy input additions) in one number format
// and one time format, both encoding/json's (without HTML escaping; times
// in UTC), so what a reader decodes is what encoding/json would have
// written. The lexer (lex.go) scans tokens for the sidecar's JSON readers
// (the strict request decoder, the decision log masker, and Compact, which
// validates and compacts raw JSON as json.Valid and json.Compact do, in
// one pass), so that they agree on what a token is. Fuzz targets hold
// both to encoding/json.
package jsonw

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string as encoding/json writes it
// without HTML escaping: '"', '\\' and control characters escaped, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendFloat appends f as encoding/json writes a float64. NaN and ±Inf,
// which JSON cannot hold, become null and ok is false.
func AppendFloat(b []byte, f float64) (_ []byte, ok bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...), false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// AppendStrings appends ss as encoding/json writes a []string: null when
// ss is nil.
func AppendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

// AppendTime appends t in UTC as encoding/json writes a time.Time (RFC
// 3339 with nanoseconds, trailing zeros dropped, "Z"): the sidecar's one
// time format, in its API answers and its decision log alike. A time
// encoding/json refuses (a year outside 0-9999 in UTC) becomes null and ok
// is false.
func AppendTime(b []byte, t time.Time) (_ []byte, ok bool) {
	out, err := t.UTC().AppendText(append(b, '"'))
	if err != nil {
		return append(b, "null"...), false
	}
	return append(out, '"'), true
}

// The instants a store of the sidecar keeps, and so writes: RFC 3339 has
// years 0000 to 9999 and no others (encoding/json refuses the rest, and
// AppendTime writes null for them), and the stores (pdp/internal/state's records,
// the journal) read the zero time.Time as "none". A time outside is
// clamped into [MinTime, MaxTime] rather than refused, at the one place
// that knows why: ClampTime. MinTime is the first instant after the zero
// time, so that clamping never turns a time into "none".
var (
	MinTime = time.Time{}.Add(1)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// ClampTime returns t, or the nearer of MinTime and MaxTime when t is
// non-zero and outside them. AppendTime never fails on its result.
func ClampTime(t time.Time) time.Time {
	switch {
	case t.IsZero():
	case t.Before(MinTime):
		return MinTime
	case t.After(MaxTime):
		return MaxTime
	}
	return t
}

// FormatTime returns ClampTime(t) as AppendTime writes it, without the
// quotes: the one time format for a time that goes into a string field.
func FormatTime(t time.Time) string {
	b, _ := ClampTime(t).UTC().AppendText(make([]byte, 0, len(time.RFC3339Nano)))
	return string(b)
}

// ValidNumber reports whether s is a JSON number literal (NumberEnd).
func ValidNumber(s string) bool {
	end, msg := numberEnd(s, 0)
	return msg == "" && end == len(s)
}
