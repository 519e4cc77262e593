package pdp

import (
	"testing"
	"time"
)

// The probation a temporary freeze leaves says what was released: the
// policy's rule, or the operator's reason for a freeze of theirs (which
// has no rule: the probation read "released: ").
func TestProbationAfterAFreezeSaysWhy(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		f    Freeze
		want string
	}{
		{Freeze{Rule: "high_frequency", Actor: Actor{Operator: "pdp", Reason: "high_frequency"}}, "released: high_frequency"},
		{Freeze{Actor: Actor{Operator: "alice", Reason: "suspicious login"}}, "released: suspicious login"},
		{Freeze{Actor: Actor{Operator: "alice"}}, "released: temporary freeze"},
	} {
		c.f.Kind, c.f.Since, c.f.Until, c.f.ProbationAfter = FreezeTemporary, at, at.Add(time.Minute), 24*time.Hour
		a := AccountState{Freezes: []Freeze{c.f}}
		p := a.ProbationAt(at.Add(time.Hour))
		if !p.Active(at.Add(time.Hour)) || p.Reason != c.want {
			t.Errorf("%+v: probation %+v, want reason %q", c.f, p, c.want)
		}
	}
}
