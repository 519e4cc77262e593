// Package request decodes a decision request into the policy input, and
// encodes and decodes what the sidecar adds to it, for the decision log and
// replay.
//
// DecodeRequest is a strict one-pass decoder from the request body to the
// policy input (OPA ast terms, built directly from the bytes on
// pdp/internal/jsonw's lexer: jsonast.go):
// the request schema, reserved fields, secret-looking keys, card and
// identity numbers (secrets.go), bounded depth, duplicate keys. The derived
// facts (account age, hours since a sensitive change, ...) come from the
// request; the enrichment the decision service adds (reputation, velocity,
// verification, account state, plugin scores) has one schema, enrich.go,
// from which the policy input's terms, the log's JSON (AppendEnrichment)
// and its reading back (ReplayInput) are all derived. DecodeStrict and
// CheckJSON hold the other endpoints' small JSON bodies to the same rules;
// DecodeDataRequest decodes the Data API's body. InputRing keeps the last
// logged inputs for the policy set's proof at load.
//
// The package uses OPA's ast package for the terms it builds, and nothing
// else of OPA: compiling and evaluating policies is pdp/internal/policy's.
package request
