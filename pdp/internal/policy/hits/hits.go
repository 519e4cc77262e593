// Package hits is the contract between a decision package and the
// sidecar: the rules it reads from the package, gathered into one hits set
// of [name, value] pairs, and the typed Result it reads them into.
//
// OPA's evaluator (pdp/internal/policy) and the fast path
// (pdp/internal/policy/fastpath) both produce hits; this package is where
// both turn them into a Result, so that the two answer alike by
// construction.
package hits

// The sidecar reads a decision package (data.riskpdp by default) through one
// generated rule, hits: a set of [name, value] pairs gathered from the
// package's rules. Reading one set costs one rule-index lookup instead of one
// per rule, and it is where the optimizer plugs in.
//
// The rules the sidecar reads from the package:
var (
	// ReasonSets are partial sets: every element is a hit.
	ReasonSets = []string{"deny", "step_up", "obligations"}
	// CompleteRules are optional complete rules: their value is a hit.
	CompleteRules = []string{"outcome", "reasons", "warning", "limit", "methods", "decision"}
)

const (
	// OptimizedPkg holds hits specialized by partial evaluation;
	// ReferencePkg holds hits read straight from the package. Both are
	// compiled; the second is the fallback and the yardstick. PartialNS
	// is the namespace of the support rules partial evaluation writes.
	OptimizedPkg = "__pdp_optimized"
	ReferencePkg = "__pdp_reference"
	PartialNS    = "__pdp_partial"
)
