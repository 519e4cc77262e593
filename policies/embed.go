// Package policies embeds the reference payment-risk policies and their data
// into the pdp binary, so `pdp serve` runs with no files on disk. The same
// files are what `opa test policies/` runs, and what a --policies directory
// replaces.
package policies

import "embed"

// FS holds riskpdp/**: the .rego files, their tests and config/data.json.
//
//go:embed riskpdp
var FS embed.FS
