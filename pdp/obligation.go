package pdp

import "time"

// ObligationType names an action the policy asks the sidecar to carry out.
type ObligationType string

// The obligations the sidecar knows how to execute.
const (
	// ObligationFreeze freezes the UID (kind temporary, review or permanent).
	ObligationFreeze ObligationType = "freeze"
	// ObligationRestrict restricts some functions (grey freeze).
	ObligationRestrict ObligationType = "restrict"
	// ObligationLimit sets a short-term limit.
	ObligationLimit ObligationType = "limit"
	// ObligationProbation starts a probation period.
	ObligationProbation ObligationType = "probation"
	// ObligationFlag flags the case for follow-up ("key tracking").
	ObligationFlag ObligationType = "flag"
)

// Obligation is one action returned by the policy.
type Obligation struct {
	Type ObligationType
	// Kind refines the type: the freeze kind (temporary, review,
	// permanent) or the flag name.
	Kind string
	// Duration bounds a temporary freeze, a restriction, a limit or a
	// probation; zero means the type's default.
	Duration time.Duration
	// Functions are the stages a restriction denies (grey freeze).
	Functions []Stage
	// Limit is the limit to set (ObligationLimit).
	Limit *Limit
	// Probation is the probation a temporary freeze leaves behind when it
	// lifts itself (zero: none).
	Probation time.Duration
	// Reason is the internal reason code recorded with the action.
	Reason string
}
