package state

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
)

// FuzzCanonicalListValue checks the list value normaliser against netip
// (the reference for addresses and ranges) both ways: what it accepts is
// canonical (a fixed point), stored under a key that parses back to it,
// covers exactly the addresses the operator wrote, and is what a lookup of
// the same spelling finds; and every address or masked range netip reads
// (no zone, not too wide) is accepted.
func FuzzCanonicalListValue(f *testing.F) {
	for _, seed := range []struct {
		list, kind uint8
		value      string
	}{
		{1, 3, "1.2.3.4"}, {1, 3, "::ffff:1.2.3.4"}, {1, 3, "2001:DB8::1"}, {1, 3, "fe80::1%eth0"},
		{1, 3, "999.1.1.1"}, {1, 3, "10.0.0.0/8"}, {2, 3, "10.0.0.0/8"}, {1, 3, "10.1.2.3/8"},
		{1, 3, "::ffff:10.0.0.0/104"}, {1, 3, "::ffff:0:0/95"}, {3, 3, "2001:db8::/48"}, {1, 3, "0.0.0.0/0"},
		{1, 3, "1.2.3.4/32"}, {1, 3, "01.2.3.4"}, {1, 3, "1.2.3.4/08"},
		{1, 4, "411111"}, {1, 4, "4111111111111111"}, {1, 4, "41111"}, {1, 4, "４１１１１１"},
		{1, 1, "u-1"}, {1, 1, "u-1\x00"}, {1, 2, "d-\ufffd"}, {1, 2, strings.Repeat("d", 129)}, {1, 1, "\xff"},
		{0, 1, "u"}, {1, 9, "u"},
	} {
		f.Add(seed.list, seed.kind, seed.value)
	}
	f.Fuzz(func(t *testing.T, l, k uint8, value string) {
		list, kind := pdp.ListKind(l), pdp.SubjectKind(k)
		c, err := CanonicalListValue(list, kind, value)
		if list < pdp.ListBlock || list > pdp.ListVIP || kind < pdp.SubjectUID || kind > pdp.SubjectCardBIN {
			if err == nil {
				t.Fatalf("list %d kind %d accepted", l, k)
			}
			return
		}
		if err != nil {
			if e := pdp.AsError(err); e.Field == "" || e.Code != pdp.CodeInvalidValue {
				t.Fatalf("%q: error %v names no field", value, err)
			}
			if kind == pdp.SubjectCardBIN && len(value) >= 6 && strings.Contains(err.Error(), value) {
				t.Fatalf("the error repeats the refused value: %v", err)
			}
			checkRefusal(t, list, kind, value)
			return
		}
		if c2, err := CanonicalListValue(list, kind, c); err != nil || c2 != c {
			t.Fatalf("%q → %q → %q, %v: not a fixed point", value, c, c2, err)
		}
		if gl, gk, gv, ok := parseListKey(listKey(list, kind, c)); !ok || gl != list || gk != kind || gv != c {
			t.Fatalf("key of %q parses as %v %v %q", c, gl, gk, gv)
		}
		switch kind {
		case pdp.SubjectUID, pdp.SubjectDevice:
			if c != value || c == "" || len(c) > MaxIdentLen || !utf8.ValidString(c) || strings.ContainsFunc(c, badIdentRune) {
				t.Fatalf("%q accepted as %q", value, c)
			}
		case pdp.SubjectCardBIN:
			if c != value || !isBIN(c) {
				t.Fatalf("%q accepted as a BIN", value)
			}
		case pdp.SubjectIP:
			checkIP(t, list, value, c)
		}
	})
}

// checkIP checks an accepted IP value against netip.
func checkIP(t *testing.T, list pdp.ListKind, value, c string) {
	if !isRange(value) {
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" || c != a.Unmap().String() || isRange(c) {
			t.Fatalf("%q accepted as %q (netip: %v %v)", value, c, a, err)
		}
		// The lookup of the same spelling finds the stored one.
		if _, rc, ok := requestIP(value); !ok || rc != c {
			t.Fatalf("lookup of %q is %q, stored %q", value, rc, c)
		}
		return
	}
	p, err := netip.ParsePrefix(value)
	if err != nil {
		t.Fatalf("%q accepted as %q; netip: %v", value, c, err)
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Masked() != p {
		t.Fatalf("%q has host bits, accepted as %q", value, c)
	}
	if p.IsSingleIP() {
		if c != p.Addr().String() {
			t.Fatalf("%q accepted as %q", value, c)
		}
		return
	}
	q, err := netip.ParsePrefix(c)
	if err != nil || q != p || q.String() != c || q.Bits() < minBits(list, q.Addr().Is4()) {
		t.Fatalf("%q stored as %q (%v), covering another range than %v", value, c, err, p)
	}
}

// checkRefusal: what netip reads as an address without zone, or as a
// masked range no wider than the list takes, must not be refused.
func checkRefusal(t *testing.T, list pdp.ListKind, kind pdp.SubjectKind, value string) {
	if kind != pdp.SubjectIP || len(value) > 64 {
		return
	}
	if a, err := netip.ParseAddr(value); err == nil && a.Zone() == "" {
		t.Fatalf("address %q refused", value)
	}
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Masked() == p && (p.IsSingleIP() || p.Bits() >= minBits(list, p.Addr().Is4())) {
		t.Fatalf("range %q refused", value)
	}
}

// Each refusal, with its reason in the message (never the value).
func TestCanonicalListValueRefusals(t *testing.T) {
	for _, tt := range []struct {
		list  pdp.ListKind
		kind  pdp.SubjectKind
		value string
		why   string
	}{
		{pdp.ListBlock, pdp.SubjectIP, "999.1.1.1", "IPv4 or IPv6 address"},
		{pdp.ListBlock, pdp.SubjectIP, "7.7.7", "IPv4 or IPv6 address"},
		{pdp.ListBlock, pdp.SubjectIP, " 1.2.3.4", "IPv4 or IPv6 address"},
		{pdp.ListBlock, pdp.SubjectIP, "01.2.3.4", "IPv4 or IPv6 address"},
		{pdp.ListBlock, pdp.SubjectIP, "fe80::1%eth0", "zone"},
		{pdp.ListBlock, pdp.SubjectIP, "fe80::/64%eth0", "CIDR"},
		{pdp.ListBlock, pdp.SubjectIP, "10.0.0.0/33", "CIDR"},
		{pdp.ListBlock, pdp.SubjectIP, "192.0.2.0/", "CIDR"},
		{pdp.ListBlock, pdp.SubjectIP, "10.1.2.3/8", "10.0.0.0/8"},
		{pdp.ListBlock, pdp.SubjectIP, "::ffff:10.1.2.3/104", "10.0.0.0/8"},
		{pdp.ListBlock, pdp.SubjectIP, "::ffff:0:0/95", "/96"},
		{pdp.ListBlock, pdp.SubjectIP, "0.0.0.0/0", "/8 or longer"},
		{pdp.ListBlock, pdp.SubjectIP, "8.0.0.0/7", "/8 or longer"},
		{pdp.ListBlock, pdp.SubjectIP, "::/0", "/16 or longer"},
		{pdp.ListBlock, pdp.SubjectIP, "2000::/3", "/16 or longer"},
		{pdp.ListAllow, pdp.SubjectIP, "10.0.0.0/15", "/16 or longer"},
		{pdp.ListVIP, pdp.SubjectIP, "0.0.0.0/0", "/16 or longer"},
		{pdp.ListAllow, pdp.SubjectIP, "2001:db8::/47", "/48 or longer"},
		{pdp.ListBlock, pdp.SubjectIP, strings.Repeat("1", 65), "64 bytes"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "4111111111111111", "not a card number"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "41111", "6 to 8 digits"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "411111111", "6 to 8 digits"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "4111a1", "6 to 8 digits"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "４１１１１１", "6 to 8 digits"},
		{pdp.ListBlock, pdp.SubjectCardBIN, "411111 ", "6 to 8 digits"},
		{pdp.ListBlock, pdp.SubjectUID, "", "empty"},
		{pdp.ListBlock, pdp.SubjectUID, strings.Repeat("u", 129), "longer than 128"},
		{pdp.ListBlock, pdp.SubjectUID, "u-1\x00", "control"},
		{pdp.ListBlock, pdp.SubjectUID, "u\n1", "control"},
		{pdp.ListBlock, pdp.SubjectUID, "u-1\x7f", "control"},
		{pdp.ListBlock, pdp.SubjectDevice, "d-\ufffd", "U+FFFD"},
		{pdp.ListBlock, pdp.SubjectDevice, "d-\xff", "UTF-8"},
	} {
		_, err := CanonicalListValue(tt.list, tt.kind, tt.value)
		e := pdp.AsError(err)
		if err == nil || e.Field != "value" || e.Code != pdp.CodeInvalidValue || !strings.Contains(e.Message, tt.why) {
			t.Errorf("%s/%s/%q: %v (want %q)", tt.list, tt.kind, tt.value, err, tt.why)
		}
		if len(tt.value) > 3 && strings.Contains(e.Message, tt.value) {
			t.Errorf("%s/%s/%q: the message repeats the value: %s", tt.list, tt.kind, tt.value, e.Message)
		}
	}
	// The widest ranges each list takes are accepted.
	for _, tt := range []struct {
		list  pdp.ListKind
		value string
	}{
		{pdp.ListBlock, "10.0.0.0/8"}, {pdp.ListBlock, "2001::/16"},
		{pdp.ListAllow, "10.0.0.0/16"}, {pdp.ListVIP, "2001:db8:1::/48"},
	} {
		if c, err := CanonicalListValue(tt.list, pdp.SubjectIP, tt.value); err != nil || c != tt.value {
			t.Errorf("%s %s: %q %v", tt.list, tt.value, c, err)
		}
	}
}
