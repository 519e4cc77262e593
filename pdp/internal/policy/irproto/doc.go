// Package irproto is an experiment (issue 16, point 5): an evaluator over
// OPA's intermediate representation, the plan OPA's planner makes of a
// query (package github.com/open-policy-agent/opa/v1/ir; the same IR OPA's
// WebAssembly compiler consumes). It plans the engine's reference hits rule
// over a policy set and interprets the plan's blocks and statements, calling
// OPA's built-ins through topdown. The binary does not use it; RESULTS.md
// records what it measured against the engine's fast path and topdown.
package irproto
