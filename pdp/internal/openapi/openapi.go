// Package openapi holds the OpenAPI 3.1 descriptions of the sidecar's two
// HTTP APIs, embedded in the binary and served at GET /openapi.json on
// each API's own listener: decision.json (the decision API: decide, the
// step-up loop, events, outcomes, appeals and the account status, OPA's
// Data API, health and metrics) and operator.json (the operator API and
// the console's session). The files are written by hand; the contract
// test in pdp/internal/cli holds them to a live sidecar's answers.
package openapi

import _ "embed"

//go:embed decision.json
var decision []byte

//go:embed operator.json
var operator []byte

// ContentType is the media type /openapi.json is served with.
const ContentType = "application/json"

// Decision is the description of the decision API (the decision listener's
// /openapi.json). The caller must not modify it.
func Decision() []byte { return decision }

// Operator is the description of the operator API (the operator listener's
// /openapi.json). The caller must not modify it.
func Operator() []byte { return operator }
