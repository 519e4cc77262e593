package policy

import "github.com/riskpdp/riskpdp/pdp/internal/policy/hits"

// Result is the typed decision: the decision package's hits read by
// package hits, whichever evaluator produced them (see hits.Result for the
// rules it is built from).
type Result = hits.Result

// Evaluators: the fast program over the specialized rules (package
// fastpath), OPA's evaluator (topdown) over the specialized rules, and
// OPA's evaluator over the policy as written, the yardstick (what opa eval
// and opa test run).
const (
	EvaluatorFast      = hits.EvaluatorFast
	EvaluatorOptimized = hits.EvaluatorOptimized
	EvaluatorOPA       = hits.EvaluatorOPA
)

// DefaultStepUpMethods are used when no step-up reason names a method.
var DefaultStepUpMethods = hits.DefaultStepUpMethods

// ReasonStepUpVerified marks a release after a passed verification.
const ReasonStepUpVerified = hits.ReasonStepUpVerified
