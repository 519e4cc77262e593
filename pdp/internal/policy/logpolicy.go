package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The decision log policy. As in OPA, a policy set may define package
// system.log with two rules evaluated on every decision log event (the
// record as logged, with its input) before it is written:
//
//	drop if { ... }            # true: the event is not logged
//	mask contains "/input/x"   # JSON pointers to remove
//	mask contains {"op": "upsert", "path": "/input/y", "value": "***"}
//
// The sidecar's own masking (card numbers, secret-looking keys) applies
// afterwards whatever these rules say.

var logPolicyRef = ast.MustParseRef("data.system.log")

// LogPolicy is what package system.log says about one event.
type LogPolicy struct {
	Drop bool
	// Mask holds the entries of the mask rule: JSON pointer strings, or
	// objects with "op" (remove, upsert), "path" and "value".
	Mask []any
}

// HasLogPolicy reports whether the serving policy set defines package
// system.log.
func (e *Engine) HasLogPolicy() bool {
	ps := e.cur.Load()
	return ps != nil && len(ps.compiler.GetRulesWithPrefix(logPolicyRef)) > 0
}

// EvalLogPolicy evaluates package system.log on event (a JSON object).
// Without the package it returns the zero LogPolicy.
func (e *Engine) EvalLogPolicy(ctx context.Context, event []byte, now time.Time) (LogPolicy, error) {
	ps := e.cur.Load()
	if ps == nil {
		return LogPolicy{}, ErrNoPolicy
	}
	if len(ps.compiler.GetRulesWithPrefix(logPolicyRef)) == 0 {
		return LogPolicy{}, nil
	}
	input, err := ast.ParseTerm(string(event))
	if err != nil {
		return LogPolicy{}, fmt.Errorf("log event: %w", err)
	}
	query, err := ps.dataQuery("system/log")
	if err != nil {
		return LogPolicy{}, err
	}
	t, err := e.evalTerm(ctx, ps, query, input, now)
	if errors.Is(err, ErrUndefined) {
		return LogPolicy{}, nil
	}
	if err != nil {
		return LogPolicy{}, err
	}
	var doc struct {
		Drop bool  `json:"drop"`
		Mask []any `json:"mask"`
	}
	v, err := ast.JSON(t.Value)
	if err != nil {
		return LogPolicy{}, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return LogPolicy{}, err
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return LogPolicy{}, fmt.Errorf("package system.log: drop must be a boolean and mask a set: %w", err)
	}
	return LogPolicy{Drop: doc.Drop, Mask: doc.Mask}, nil
}
