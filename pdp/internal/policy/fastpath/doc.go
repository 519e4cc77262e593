// Package fastpath evaluates a policy set's specialized rules without
// OPA's evaluator: a program compiled once per load from the rules partial
// evaluation left, run on each request's input.
//
// The policy package (pdp/internal/policy) uses it through a small
// interface:
//
//	Compile                  a Program from the compiled specialized rules, or why not
//	Program.Eval             the Result for one input, as OPA's evaluator would give it
//	Program.Hits             the hits set for one input, as OPA's evaluator binds it
//	Program.ProofInputs      the inputs the proof at load runs it and OPA's evaluator on
//
// The policy package decides whether a program serves: it checks it on the
// smoke requests and proves it on ProofInputs against OPA's evaluator on
// the policy as written at every load, re-evaluates with OPA whatever the
// program fails on, and watches a sample of its answers in production.
// Hits are read into a Result by package hits, as OPA's answers are.
//
// The files by concern:
//
//	fast.go                  the compiler: the fragment, operands, memoized calls, native comparisons
//	fast_index.go            the rule index: equality, membership, numeric and substring guards
//	fast_eval.go             evaluation: candidates, steps, built-in calls
//	fast_const.go            calls prepared from their constant operands
//	substrings.go            the Aho–Corasick scan for lists of literals
//	prove_facts.go           what a program compares the input with
//	prove_inputs.go          the proof's inputs built from it
//	shape.go, breaks.go      for tests: what the compiler made, and breaking it as a bug would
package fastpath
