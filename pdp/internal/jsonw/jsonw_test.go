package jsonw

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func marshal(v any) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t", "\x00\x1f\x7f", "\xff\xfe", "line\u2028para\u2029", "<&>", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), marshal(s); got != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-7, 1e21, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-6, 999999999999999999999,
		math.Nextafter(1e-6, 0), math.Nextafter(1e21, 0), -1e21, 1e20, 0.1, 100, 1e6, 12345678.9, 5e-324, 1.7976931348623157e308} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		got, ok := AppendFloat(nil, x)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if ok || string(got) != "null" {
				t.Fatalf("AppendFloat(%v) = %s, %v", x, got, ok)
			}
			return
		}
		if want := marshal(x); string(got) != want || !ok {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json %s", x, got, want)
		}
	})
}

func TestAppendStrings(t *testing.T) {
	for _, ss := range [][]string{nil, {}, {""}, {"a", "b\"\x00", "\xff"}} {
		if got, want := string(AppendStrings(nil, ss)), marshal(ss); got != want {
			t.Errorf("AppendStrings(%q) = %s, encoding/json %s", ss, got, want)
		}
	}
}

// FuzzAppendTime holds AppendTime to encoding/json writing the same
// instant in UTC, from any instant in any fixed offset (up to ±26 h).
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0), int32(0))
	f.Add(int64(1764980067), int64(170000000), int32(8*3600))
	f.Add(int64(-62135596800), int64(0), int32(3600))        // year 1 in UTC+1: year 0 in UTC
	f.Add(int64(-62167219200), int64(0), int32(3600))        // year 0 in UTC+1: year -1 in UTC
	f.Add(int64(253402300799), int64(999999999), int32(-60)) // 9999-12-31 in UTC-1m: 10000 in UTC
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int32) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("z", int(offset%(26*3600))))
		got, ok := AppendTime([]byte("x"), tm)
		want, err := json.Marshal(tm.UTC())
		if err != nil {
			if ok || string(got) != "xnull" {
				t.Fatalf("AppendTime(%v) = %s, %v; encoding/json: %v", tm, got, ok, err)
			}
			return
		}
		if !ok || string(got) != "x"+string(want) {
			t.Fatalf("AppendTime(%v) = %s, encoding/json %s", tm, got, want)
		}
	})
}

func FuzzValidNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "01", "1.", ".5", "1e5", "1E+5", "-1.25e-3", "NaN", "Inf", "0x10", "1_000", "", "-", "1e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidNumber(s), json.Valid([]byte(s)) && strings.TrimLeft(s, "-0123456789.eE+") == "" && s != "" && s[len(s)-1] != ' '; got != want {
			t.Fatalf("ValidNumber(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzFormatTime: FormatTime writes what AppendTime writes, unquoted,
// for a time in [MinTime, MaxTime], and clamps any other non-zero time to
// the nearer bound; what it writes reads back as the clamped instant.
func FuzzFormatTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1764980067), int64(170000000))
	f.Add(int64(-62135596800), int64(0))         // the zero time: kept
	f.Add(int64(-62135596800), int64(1))         // MinTime
	f.Add(int64(-62167219200), int64(0))         // year 0: clamped to MinTime
	f.Add(int64(253402300799), int64(999999999)) // MaxTime
	f.Add(int64(253402300800), int64(0))         // year 10000: clamped to MaxTime
	f.Add(int64(-1<<62), int64(0))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		c := ClampTime(tm)
		switch {
		case tm.IsZero() || !tm.Before(MinTime) && !tm.After(MaxTime):
			if !c.Equal(tm) {
				t.Fatalf("ClampTime(%v) = %v", tm, c)
			}
		case tm.Before(MinTime) && !c.Equal(MinTime), tm.After(MaxTime) && !c.Equal(MaxTime):
			t.Fatalf("ClampTime(%v) = %v", tm, c)
		}
		s := FormatTime(tm)
		q, ok := AppendTime(nil, c)
		if !ok || `"`+s+`"` != string(q) {
			t.Fatalf("FormatTime(%v) = %s, AppendTime of the clamped time %s", tm, s, q)
		}
		if back, err := time.Parse(time.RFC3339Nano, s); err != nil || !back.Equal(c) {
			t.Fatalf("FormatTime(%v) = %s reads back as %v, %v", tm, s, back, err)
		}
	})
}
