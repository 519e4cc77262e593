package pdp

import "fmt"

// Outcome is the disposition of a decision. The zero value is not a valid
// outcome, so a forgotten assignment can never read as Allow.
type Outcome uint8

// The three outcomes, from the source SOP (000 §2.2).
const (
	// Allow releases the operation directly (low risk).
	Allow Outcome = iota + 1
	// StepUp releases the operation only after a passed verification
	// (face, SMS, ...): conditional release, medium risk.
	StepUp
	// Deny keeps the operation blocked (high risk).
	Deny
)

// NumOutcomes bounds arrays indexed by Outcome (index 0 is unused).
const NumOutcomes = 4

var outcomeNames = [NumOutcomes]string{"", "allow", "step_up", "deny"}

// String returns the wire name of o ("allow", "step_up", "deny").
func (o Outcome) String() string {
	if o.Valid() {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Valid reports whether o is one of the three outcomes.
func (o Outcome) Valid() bool { return o >= Allow && o <= Deny }

// ParseOutcome maps a wire name to its Outcome.
func ParseOutcome(s string) (Outcome, bool) {
	switch s {
	case "allow":
		return Allow, true
	case "step_up":
		return StepUp, true
	case "deny":
		return Deny, true
	}
	return 0, false
}

// Stricter returns the stricter of a and b (deny > step_up > allow).
func Stricter(a, b Outcome) Outcome {
	if a > b {
		return a
	}
	return b
}

// MarshalText encodes o as its wire name.
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("invalid outcome %d", uint8(o))
	}
	return []byte(o.String()), nil
}

// UnmarshalText decodes a wire name.
func (o *Outcome) UnmarshalText(b []byte) error {
	v, ok := ParseOutcome(string(b))
	if !ok {
		return fmt.Errorf("unknown outcome %q", b)
	}
	*o = v
	return nil
}
