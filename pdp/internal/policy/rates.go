package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

// The decision package may define `rates`, an object of currency code →
// value of one unit in a common base unit (the reference policy:
// `rates := config.rates`). The sidecar reads it once per policy set, when
// the set is prepared, and converts with it so that the policy compares
// like with like: velocity sums and spend are kept in base units and
// handed to the policy in the request's currency, and a limit set in one
// currency caps a request in another (pdp.Rates). A malformed table
// refuses the policy set; no table means no conversion.

// loadRates evaluates data.<pkg>.rates on ps, without input.
func (e *Engine) loadRates(ps *policySet) (*pdp.Rates, error) {
	q, err := ps.dataQuery(e.opts.Package + "/rates")
	if err != nil {
		return nil, fmt.Errorf("rates: %w", err)
	}
	t, err := e.evalTerm(context.Background(), ps, q, nil, time.Now())
	if errors.Is(err, ErrUndefined) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rates: %w", err)
	}
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("rates: want an object of currency → number, got %s", ast.ValueName(t.Value))
	}
	m := make(map[string]float64, obj.Len())
	err = obj.Iter(func(k, v *ast.Term) error {
		code, ok := k.Value.(ast.String)
		n, isNum := v.Value.(ast.Number)
		if !ok || !isNum {
			return fmt.Errorf("rates: %v: %v is not a number", k, v)
		}
		f, _ := n.Float64()
		m[string(code)] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pdp.NewRates(m)
}

// Rates is the rate table of the serving policy set (nil: none).
func (e *Engine) Rates() *pdp.Rates {
	if ps := e.cur.Load(); ps != nil {
		return ps.rates
	}
	return nil
}

// The decision package may define `messages`: the user-facing texts by
// locale and situation (pdp.Messages; the reference policy: `messages :=
// config.messages`), read once per policy set like rates. A malformed
// table refuses the set.

// loadMessages evaluates data.<pkg>.messages on ps, without input.
func (e *Engine) loadMessages(ps *policySet) (*pdp.Messages, error) {
	q, err := ps.dataQuery(e.opts.Package + "/messages")
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	t, err := e.evalTerm(context.Background(), ps, q, nil, time.Now())
	if errors.Is(err, ErrUndefined) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	v, err := ast.JSON(t.Value)
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("messages: want an object of locale → {situation: text}")
	}
	m := make(map[string]map[string]string, len(raw))
	for loc, x := range raw {
		ts, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("messages.%s: want an object of situation → text", loc)
		}
		m[loc] = make(map[string]string, len(ts))
		for sit, t := range ts {
			s, ok := t.(string)
			if !ok {
				return nil, fmt.Errorf("messages.%s.%s: want a string", loc, sit)
			}
			m[loc][sit] = s
		}
	}
	return pdp.NewMessages(m)
}

// Messages are the user-facing texts of the serving policy set (nil: the
// configured ones only).
func (e *Engine) Messages() *pdp.Messages {
	if ps := e.cur.Load(); ps != nil {
		return ps.messages
	}
	return nil
}
