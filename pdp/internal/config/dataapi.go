package config

import "strings"

// DataAPI configures OPA's Data API (POST /v1/data/{path}) on the decision
// listener. It answers with the same input as /v1/decide: the request in
// "input" is decoded as a decide request (reserved fields and secrets
// refused), enriched with the risk state, velocity and plugin scores
// (read-only: nothing is counted and no obligation is carried out), and
// the query is recorded in the decision log. By default it serves only
// the rules of the decision package (data.<package>.<rule>) whose value
// depends on the input: its data (thresholds, lists of keywords), the
// rules that only name data (th, rates, methods) and everything outside
// it are not readable.
type DataAPI struct {
	// Expose lists further slash-separated paths below data that the Data
	// API serves, each with everything below it: "riskpdp/config" exposes
	// the thresholds, "" (or "/") the whole data tree. A query of an
	// exposed path may come without an input. Default none.
	Expose []string `yaml:"expose"`
}

// DataPath normalizes a slash-separated data path: no leading, trailing or
// repeated slashes.
func DataPath(p string) string {
	parts := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
	return strings.Join(parts, "/")
}

func (c Config) validateDataAPI(bad func(field, format string, args ...any)) {
	for _, p := range c.DataAPI.Expose {
		if strings.ContainsAny(p, " \t\n\\") || strings.Contains(p, "..") {
			bad("data_api.expose", "%q is not a slash-separated data path", p)
		}
	}
}

// Explain configures explanations (POST /v1/decide?explain=true on a
// loopback connection, `pdp explain`): read-only evaluations that show the
// policy input, the rules that fired and the plugins' scores.
type Explain struct {
	// Log records every explanation in the decision log, as a query on
	// <package>/explain (the input, the enrichment, the outcome and the
	// rules that fired; no decision). Default false: an explanation
	// decides nothing, and operators' questions stay out of the log.
	Log bool `yaml:"log"`
}
