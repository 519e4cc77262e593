package admin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// jsonRaw writes s as a JSON string with its bytes as they are (invalid
// UTF-8 included: encoding/json would replace it), escaping only what JSON
// requires.
func jsonRaw(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzListValueAgreesWithDecoder: a list takes a uid, device id or card
// BIN exactly when a decide request can carry it (a value no request can
// carry would block nothing, silently), and an IP address when a request
// can carry it, in the spelling the decoder gives the request's (zones
// aside: a list refuses them, the lookup ignores them).
func FuzzListValueAgreesWithDecoder(f *testing.F) {
	for _, seed := range []struct {
		kind  uint8
		value string
	}{
		{1, "u-1"}, {1, "u-1\x00"}, {1, "\ufffd"}, {1, "\xff"}, {1, strings.Repeat("u", 129)}, {1, "u\u0085"},
		{2, "d-77"}, {2, "d\x7f"}, {3, "1.2.3.4"}, {3, "::FFFF:1.2.3.4"}, {3, "999.1.1.1"}, {3, "fe80::1%eth0"},
		{3, "10.0.0.0/8"}, {4, "411111"}, {4, "4111111111111111"}, {4, "41111"}, {4, "４１１１１１"},
	} {
		f.Add(seed.kind, seed.value)
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	lim := request.Limits{MaxDepth: 16, MaxAmount: 1e9}
	f.Fuzz(func(t *testing.T, k uint8, value string) {
		kind := pdp.SubjectKind(k%4 + 1)
		v := jsonRaw(value)
		var body string
		switch kind {
		case pdp.SubjectUID:
			body = `{"stage":"login","uid":` + v + `}`
		case pdp.SubjectDevice:
			body = `{"stage":"login","uid":"u","device":{"id":` + v + `}}`
		case pdp.SubjectIP:
			body = `{"stage":"login","uid":"u","device":{"ip":` + v + `}}`
		case pdp.SubjectCardBIN:
			body = `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"currency":"CNY","card_bin":` + v + `}}`
		}
		in, derr := request.DecodeRequest([]byte(body), now, lim)
		c, lerr := state.CanonicalListValue(pdp.ListBlock, kind, value)
		switch kind {
		case pdp.SubjectUID, pdp.SubjectDevice, pdp.SubjectCardBIN:
			if value == "" && kind != pdp.SubjectUID {
				return // an absent value: nothing to look up
			}
			if (derr == nil) != (lerr == nil) {
				t.Fatalf("%s %q: decoder %v, list %v", kind, value, derr, lerr)
			}
		case pdp.SubjectIP:
			if derr != nil || value == "" {
				if lerr == nil && !strings.Contains(value, "/") {
					t.Fatalf("ip %q: on a list, but no request carries it: %v", value, derr)
				}
				return
			}
			if strings.Contains(in.Req.Device.IP, "%") {
				if lerr == nil {
					t.Fatalf("ip %q with a zone on a list", value)
				}
				return
			}
			if lerr != nil || c != in.Req.Device.IP {
				t.Fatalf("ip %q: the decoder gives %q, the list %q (%v)", value, in.Req.Device.IP, c, lerr)
			}
		}
	})
}
