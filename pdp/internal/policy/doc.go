// Package policy compiles, reloads and evaluates the sidecar's Rego policy
// sets with the OPA Go library.
//
// It owns the loading and compiling of policy sets, their atomic hot
// reload and the evaluation itself; the fast path (package fastpath) and
// the reading of the decision document (package hits) are its own
// packages.
// The policy input it evaluates (OPA ast terms) is decoded, and encoded for
// the log, by pdp/internal/request; no other OPA type leaves this package.
//
// A policy set is compiled once and replaced as a whole: a reload parses and
// compiles the new set, checks its data (the package's data_errors rule)
// and its calls on constant arguments (check.go), and smoke-evaluates it
// (one request per stage) before an atomic pointer swap makes it current; a
// set that fails any step is rejected and the previous one keeps serving.
// Its fast path (package fastpath) serves only after it answered as OPA's
// evaluator on the policy as written on inputs built from its own
// constants and on the last logged inputs (prove.go).
//
// The files by concern:
//
//	policyset.go, engine.go      loading, compiling, reloading; Evaluate
//	eval.go, watchdog.go         OPA's evaluator, the evaluation deadline
//	specialize.go, errorder.go   the decision package specialized by partial evaluation
//	check.go                     policy data and constant calls checked at load
//	result.go                    Result and the evaluators' names (package hits reads hits into it)
//	data.go, logpolicy.go        the Data API, the log policy (system.log)
//	rates.go                     rate and message tables read from the policy data
//	watch.go                     the production watch: sampled re-evaluation, divergence
//	prove.go                     the fast path's proof against OPA's evaluator at every load
//
// The fast path is package fastpath: fastpath.Compile (a program from the
// compiled specialized rules), Program.Eval (the Result for one input),
// Program.Hits (its hits set, compared with OPA's at load) and
// Program.ProofInputs (the inputs prove runs it and OPA's evaluator on).
// The hits the decision package gives, and the Result both evaluators
// read them into, are package hits.
package policy
