package decide

import (
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func TestDecodeEvent(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ev, uid, err := DecodeEvent([]byte(`{"uid":"u-1","kind":"phone_change","at":"2026-11-22T09:00:00Z","device_id":"d"}`), now)
	if err != nil || uid != "u-1" || ev.Kind != "phone_change" || !ev.At.Equal(now.Add(-time.Hour)) || ev.DeviceID != "d" {
		t.Fatalf("%+v %s %v", ev, uid, err)
	}
	if ev, _, _ := DecodeEvent([]byte(`{"uid":"u","kind":"pin_failed"}`), now); !ev.At.Equal(now) {
		t.Fatal("at does not default to now")
	}
	for body, field := range map[string]string{
		`{"kind":"pin_failed"}`:                                       "uid",
		`{"uid":"u"}`:                                                 "kind",
		`{"uid":"u","kind":"teleport"}`:                               "kind",
		`{"uid":"u","kind":"pin_failed","at":"yesterday"}`:            "at",
		`{"uid":"u","kind":"pin_failed","at":"2027-01-01T00:00:00Z"}`: "at",
		`{"uid":"u","kind":"pin_failed","pin":"1234"}`:                "pin",
		`{"uid":"u","kind":"pin_failed","extra":1}`:                   "extra",
		`{"uid":7,"kind":"pin_failed"}`:                               "uid",
	} {
		_, _, err := DecodeEvent([]byte(body), now)
		if e := pdp.AsError(err); err == nil || e.Field != field {
			t.Errorf("%s: %v (want field %s)", body, err, field)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"uid":"u","kind":"pin_failed"}`))
	f.Add([]byte(`{"uid":"u","kind":"phone_change","at":"2026-11-22T09:00:00Z"}`))
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, uid, err := DecodeEvent(b, now)
		if err == nil && (uid == "" || ev.Kind == "" || ev.At.After(now.Add(maxEventSkew))) {
			t.Fatalf("accepted an invalid event: %+v %q", ev, uid)
		}
	})
}
