package request

import "github.com/open-policy-agent/opa/v1/ast"

// internedKey is a schema key with its shared term.
type internedKey struct {
	s string
	t *ast.Term
}

// knownKeys are the keys of the request schema (and common context keys):
// the decoder returns them without allocating.
var knownKeys = map[string]internedKey{}

func init() {
	for _, k := range []string{
		"request_id", "challenge_id", "locale", "stage", "uid", "device", "txn", "account", "context", "input",
		"id", "ip", "ip_country", "new", "emulator", "rooted", "proxy", "os", "model", "app_version",
		"amount", "currency", "category", "order_id", "instrument", "merchant", "payment_method", "ship_country", "card_bin",
		"purpose", "destination_new", "home_country", "created_at", "vip", "recent_changes",
		"kind", "at", "channel", "user_statement", "third_party_guidance", "remote_assistance",
	} {
		knownKeys[k] = internedKey{s: k, t: ast.StringTerm(k)}
	}
}
