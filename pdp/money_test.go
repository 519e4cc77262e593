package pdp

import "testing"

func TestCanonicalCurrency(t *testing.T) {
	for in, want := range map[string]string{"CNY": "CNY", "usd": "USD", "Eur": "EUR", "XYZ": "XYZ"} {
		if got, ok := CanonicalCurrency(in); !ok || got != want {
			t.Errorf("CanonicalCurrency(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "US", "USDT", "€", "US$", "   ", "1$x", "ÀBC", "U\x00D", "ＵＳＤ"} {
		if got, ok := CanonicalCurrency(in); ok {
			t.Errorf("CanonicalCurrency(%q) = %q, accepted", in, got)
		}
	}
}
