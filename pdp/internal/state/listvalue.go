package state

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
)

// List values. A value that no request can ever carry blocks nothing,
// silently; so the Store refuses it (ErrInvalid, with a *pdp.Error naming
// the field "value") instead of storing it, and stores every value that
// can match in one spelling, the one the request decoder produces:
//
//	uid, device  1 to MaxIdentLen bytes of UTF-8 without control
//	             characters (U+0000–U+001F, U+007F) or U+FFFD (what a lone
//	             UTF-16 surrogate escape decodes to): the request
//	             decoder's rule for these fields (pdp/internal/request ident)
//	ip           an IPv4 or IPv6 address, v4-mapped IPv6 unmapped
//	             (::ffff:1.2.3.4 is 1.2.3.4), IPv6 in RFC 5952 form (lower
//	             case, zeros compressed), no zone; or a range in CIDR
//	             notation, stored masked-form only (10.1.2.3/8 is refused,
//	             not silently widened: the operator meant one of two
//	             things), a v4-mapped range (::ffff:10.0.0.0/104) as its
//	             IPv4 range, a /32 or /128 as its address; and no wider
//	             than MinBlockBits4/6 (block) or MinExemptBits4/6 (allow,
//	             vip)
//	card_bin     6 to 8 ASCII digits: the first digits of a card, never a
//	             card number; an entry matches every request BIN it is a
//	             prefix of (411111 matches 41111111)
//
// Error messages never repeat the value (it may be a card number).

// MaxIdentLen bounds uid and device values, as the request decoder does.
const MaxIdentLen = 128

// The widest IP ranges a list takes. A block wider than /8 (IPv4) or /16
// (IPv6) would deny a sizeable part of the Internet on one call; an
// exemption (allow, vip) wider than /16 or /48 would exempt a provider's
// customers rather than a network the operator knows.
const (
	MinBlockBits4  = 8
	MinBlockBits6  = 16
	MinExemptBits4 = 16
	MinExemptBits6 = 48
)

// BIN lengths: the request decoder's card_bin rule.
const (
	minBIN = 6
	maxBIN = 8
)

func invalidValue(format string, args ...any) error {
	return invalidField("value", format, args...)
}

// invalidField is an ErrInvalid that carries a *pdp.Error for field, so
// the operator API answers 400 naming the field.
func invalidField(field, format string, args ...any) error {
	return &fieldError{pdp.Errorf(pdp.CodeInvalidValue, field, format, args...)}
}

type fieldError struct{ e *pdp.Error }

func (f *fieldError) Error() string   { return ErrInvalid.Error() + ": " + f.e.Error() }
func (f *fieldError) Unwrap() []error { return []error{ErrInvalid, f.e} }

// CanonicalListValue checks value for an entry of list and kind and
// returns its canonical spelling (see List values above). The error wraps
// ErrInvalid and a *pdp.Error for the field "value".
func CanonicalListValue(list pdp.ListKind, kind pdp.SubjectKind, value string) (string, error) {
	if list < pdp.ListBlock || list > pdp.ListVIP {
		return "", invalidField("list", "must be block, allow or vip")
	}
	switch kind {
	case pdp.SubjectUID, pdp.SubjectDevice:
		if err := checkIdent(value); err != nil {
			return "", err
		}
		return value, nil
	case pdp.SubjectIP:
		return canonicalIPEntry(list, value)
	case pdp.SubjectCardBIN:
		if !isBIN(value) {
			return "", invalidValue("a card_bin entry must be the first 6 to 8 digits of a card, not a card number")
		}
		return value, nil
	}
	return "", invalidField("kind", "must be uid, device, ip or card_bin")
}

func checkIdent(value string) error {
	switch {
	case value == "":
		return invalidValue("must not be empty")
	case len(value) > MaxIdentLen:
		return invalidValue("longer than %d bytes: no request can carry it", MaxIdentLen)
	case !utf8.ValidString(value):
		return invalidValue("must be UTF-8")
	case strings.ContainsFunc(value, badIdentRune):
		return invalidValue("must not contain control characters or U+FFFD (a lone surrogate): no request can carry it")
	}
	return nil
}

// badIdentRune is what the request decoder refuses in identifiers.
func badIdentRune(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }

func isBIN(s string) bool {
	if len(s) < minBIN || len(s) > maxBIN {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalIPEntry parses an address or a CIDR range for list.
func canonicalIPEntry(list pdp.ListKind, value string) (string, error) {
	if len(value) > 64 {
		return "", invalidValue("longer than 64 bytes: not an IP address or range")
	}
	if !strings.Contains(value, "/") {
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", invalidValue("must be an IPv4 or IPv6 address (1.2.3.4, 2001:db8::1) or a range in CIDR notation (10.0.0.0/8)")
		}
		if a.Zone() != "" {
			return "", invalidValue("must not carry an IPv6 zone (%%name): requests never do")
		}
		return a.Unmap().String(), nil
	}
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return "", invalidValue("must be a range in CIDR notation such as 10.0.0.0/8 or 2001:db8::/32 (no zone)")
	}
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		if bits < 96 {
			return "", invalidValue("a v4-mapped IPv6 range must be /96 or longer (it is written as its IPv4 range)")
		}
		p = netip.PrefixFrom(a.Unmap(), bits-96)
		a, bits = p.Addr(), p.Bits()
	}
	if m := p.Masked(); m != p {
		return "", invalidValue("the range has host bits set: write it as %s (or name the address alone)", m)
	}
	if bits == a.BitLen() {
		return a.String(), nil // a /32 or /128 is one address
	}
	min := minBits(list, a.Is4())
	if bits < min {
		family := "IPv6"
		if a.Is4() {
			family = "IPv4"
		}
		return "", invalidValue("an %s range on the %s list must be /%d or longer", family, list, min)
	}
	return p.String(), nil
}

// minBits is the shortest prefix length list takes.
func minBits(list pdp.ListKind, v4 bool) int {
	switch {
	case list == pdp.ListBlock && v4:
		return MinBlockBits4
	case list == pdp.ListBlock:
		return MinBlockBits6
	case v4:
		return MinExemptBits4
	}
	return MinExemptBits6
}

// requestIP parses the IP of a request for a lookup: the address without
// zone, v4-mapped unmapped, and its canonical spelling (value itself when
// it is canonical already, as the request decoder makes it: no
// allocation).
func requestIP(value string) (netip.Addr, string, bool) {
	a, err := netip.ParseAddr(value)
	if err != nil {
		return netip.Addr{}, "", false
	}
	a = a.Unmap().WithZone("")
	var buf [64]byte
	if b := a.AppendTo(buf[:0]); string(b) != value {
		value = string(b)
	}
	return a, value, true
}
