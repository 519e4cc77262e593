package pdp

import (
	"fmt"
	"math"
	"sort"
)

// Rates converts money between currencies so that limits, spend and
// thresholds compare like with like: Rates holds the value of one unit of
// each currency in a common base unit (the policy data's "rates": CNY 1,
// USD 7.1, ...).
//
// The sidecar hands the policy every amount in base units (the request's
// amount as input.derived.amount_base, velocity sums, the day's spend,
// account limits), so that a threshold has one value whatever the
// currency. A currency the table lacks is never valued as zero but
// strictly, as the table's most or least valuable currency, whichever
// makes the comparison stricter: an amount that is compared with a
// threshold or adds to a spend is valued high (ToBase), a cap is valued low
// (CapToBase). A nil *Rates (a policy without a rate table) converts
// nothing: amounts keep their own units.
type Rates struct {
	rate     map[string]float64
	min, max float64
	base     string
}

// NewRates validates a rate table: ISO 4217-shaped codes (three upper-case
// letters) to positive finite numbers. An empty table is nil.
func NewRates(m map[string]float64) (*Rates, error) {
	if len(m) == 0 {
		return nil, nil
	}
	r := &Rates{rate: make(map[string]float64, len(m)), min: math.Inf(1), max: 0}
	codes := make([]string, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		v := m[c]
		if len(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' || c[2] > 'Z' {
			return nil, fmt.Errorf("rates: %q is not a currency code (three upper-case letters)", c)
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("rates: %s is %v, want a positive number", c, v)
		}
		r.rate[c] = v
		r.min, r.max = math.Min(r.min, v), math.Max(r.max, v)
		if v == 1 {
			r.base = c
		}
	}
	return r, nil
}

// Known reports whether the table has a rate for cur.
func (r *Rates) Known(cur string) bool {
	if r == nil {
		return false
	}
	_, ok := r.rate[cur]
	return ok
}

// high is cur's rate, or the highest rate when it has none.
func (r *Rates) high(cur string) float64 {
	if v, ok := r.rate[cur]; ok {
		return v
	}
	return r.max
}

// low is cur's rate, or the lowest rate when it has none.
func (r *Rates) low(cur string) float64 {
	if v, ok := r.rate[cur]; ok {
		return v
	}
	return r.min
}

// Base is the base currency: the one whose rate is 1 ("" when none is).
func (r *Rates) Base() string {
	if r == nil {
		return ""
	}
	return r.base
}

// ToBase is amount of cur in base units, for an amount that is compared
// with a threshold or adds to a sum or a spend: a currency without a rate
// counts as the most valuable one.
func (r *Rates) ToBase(amount float64, cur string) float64 {
	if r == nil {
		return amount
	}
	return amount * r.high(cur)
}

// CapToBase is a cap of amount in cur, in base units: a currency without a
// rate counts as the least valuable one, so the cap comes out small.
func (r *Rates) CapToBase(amount float64, cur string) float64 {
	if r == nil {
		return amount
	}
	return amount * r.low(cur)
}

// CoverIn is the amount of cur a cap must hold to cover base units: the
// inverse of CapToBase (a currency without a rate counts as the least
// valuable one, so the amount comes out large enough).
func (r *Rates) CoverIn(base float64, cur string) float64 {
	if r == nil {
		return base
	}
	return base / r.low(cur)
}

// CanonicalCurrency is cur in the one spelling every surface stores and
// compares: three ASCII letters, upper case ("usd" → "USD"). ok is false
// for anything else ("€", "US$", "   "), which is refused, never stored:
// an amount in a currency spelled two ways would be valued two ways.
func CanonicalCurrency(cur string) (_ string, ok bool) {
	if len(cur) != 3 {
		return "", false
	}
	var b [3]byte
	for i := 0; i < 3; i++ {
		c := cur[i]
		switch {
		case c >= 'A' && c <= 'Z':
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		default:
			return "", false
		}
		b[i] = c
	}
	if string(b[:]) == cur {
		return cur, true
	}
	return string(b[:]), true
}
