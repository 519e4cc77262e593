package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// LogPolicyHook returns the decision log hook that applies the policy's
// package system.log, as OPA does: drop removes the event, mask removes or
// replaces fields. Paths may point below /input and /enrichment (the
// request as sent and what the sidecar added), into objects; upsert sets a
// key of an object that exists. A mask the hook cannot apply is an error:
// the log counts it and writes the record with its built-in masking only.
// It runs in the log's writer goroutine.
func LogPolicyHook(eng *policy.Engine) func(*decisionlog.Record) error {
	return func(r *decisionlog.Record) error {
		if !eng.HasLogPolicy() {
			return nil
		}
		event, err := json.Marshal(r)
		if err != nil {
			return err
		}
		lp, err := eng.EvalLogPolicy(context.Background(), event, r.Timestamp)
		if err != nil {
			return fmt.Errorf("system.log policy: %w", err)
		}
		if lp.Drop {
			return decisionlog.ErrDrop
		}
		if len(lp.Mask) > 0 {
			return applyMask(r, lp.Mask)
		}
		return nil
	}
}

// maskOp is one entry of the mask rule.
type maskOp struct {
	op    string // remove or upsert
	path  []string
	value any
}

func parseMaskOp(m any) (maskOp, error) {
	var op maskOp
	var path string
	switch m := m.(type) {
	case string:
		op.op, path = "remove", m
	case map[string]any:
		op.op, _ = m["op"].(string)
		path, _ = m["path"].(string)
		op.value = m["value"]
		if op.op != "remove" && op.op != "upsert" {
			return op, fmt.Errorf("mask %v: op must be remove or upsert", m)
		}
	default:
		return op, fmt.Errorf("mask entry %v: want a JSON pointer or an object", m)
	}
	if !strings.HasPrefix(path, "/") {
		return op, fmt.Errorf("mask path %q is not a JSON pointer", path)
	}
	for _, t := range strings.Split(path[1:], "/") {
		op.path = append(op.path, strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~"))
	}
	if len(op.path) < 2 || (op.path[0] != "input" && op.path[0] != "enrichment") {
		return op, fmt.Errorf("mask path %q: only fields below /input and /enrichment can be masked", path)
	}
	return op, nil
}

// applyMask applies the mask entries to r's input and enrichment.
func applyMask(r *decisionlog.Record, entries []any) error {
	docs := map[string]*json.RawMessage{"input": &r.Input, "enrichment": &r.Enrichment}
	decoded := map[string]map[string]any{}
	for _, e := range entries {
		op, err := parseMaskOp(e)
		if err != nil {
			return err
		}
		doc, ok := decoded[op.path[0]]
		if !ok {
			raw := *docs[op.path[0]]
			if len(raw) == 0 {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				return fmt.Errorf("mask: %s is not a JSON object: %w", op.path[0], err)
			}
			decoded[op.path[0]] = doc
		}
		obj := doc
		for _, k := range op.path[1 : len(op.path)-1] {
			next, ok := obj[k].(map[string]any)
			if !ok {
				obj = nil
				break
			}
			obj = next
		}
		if obj == nil {
			continue // nothing there to mask
		}
		last := op.path[len(op.path)-1]
		if op.op == "remove" {
			delete(obj, last)
		} else {
			obj[last] = op.value
		}
	}
	for name, doc := range decoded {
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		*docs[name] = b
	}
	return nil
}
