package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

// Result is the typed decision. The policy's decision document is:
//
//	{
//	  "deny":        set of reason entries,   // any entry → deny
//	  "step_up":     set of reason entries,   // any entry → step_up
//	  "methods":     {reason: [method, ...]}, // step-up methods per reason
//	  "outcome":     "allow|step_up|deny",    // optional, can only make it stricter
//	  "reasons":     [code, ...],             // optional extra codes for the log
//	  "obligations": set of obligation objects,
//	  "warning":     "code",                  // optional user-facing warning
//	  "limit":       {...}                    // optional cap to report
//	}
//
// A reason entry is a code string, or an object {"reason": code} with an
// optional "methods" (step_up) or "warning" (deny). Every key is optional;
// an empty document means allow.
//
// The sidecar, not the policy, folds the reason sets into one outcome:
// deny beats step_up beats allow. This keeps the aggregation out of Rego,
// where each extra rule costs microseconds, and it cannot be got wrong.
type Result struct {
	Outcome     pdp.Outcome
	Reasons     []string
	Methods     []string
	Warning     string
	Limit       *pdp.Limit
	Obligations []pdp.Obligation
}

// DefaultStepUpMethods are used when no step-up reason names a method.
var DefaultStepUpMethods = []string{"sms"}

// parseResult converts the decision document into a Result. Anything the
// sidecar cannot act on exactly is an error, so that a policy bug falls back
// instead of being half-applied.
func parseResult(t *ast.Term) (Result, error) {
	r, err := parseDocument(t)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrInvalidDecision, err)
	}
	return r, nil
}

func parseDocument(t *ast.Term) (Result, error) {
	var r Result
	var explicit pdp.Outcome
	var deny, step []reasonEntry
	var methodMap ast.Object
	err := objectFields(t, func(key string, v *ast.Term) (err error) {
		switch key {
		case "deny":
			deny, err = reasonEntries(v)
		case "step_up":
			step, err = reasonEntries(v)
		case "methods":
			m, ok := v.Value.(ast.Object)
			if !ok {
				return fmt.Errorf("methods: want an object of reason → [methods]")
			}
			methodMap = m
		case "outcome":
			s, _ := v.Value.(ast.String)
			o, ok := pdp.ParseOutcome(string(s))
			if !ok {
				return fmt.Errorf("outcome %v is not allow, step_up or deny", v)
			}
			explicit = o
		case "reasons":
			var extra []string
			extra, err = stringList(v)
			r.Reasons = append(r.Reasons, extra...)
		case "warning":
			s, ok := v.Value.(ast.String)
			if !ok {
				return fmt.Errorf("warning must be a string code")
			}
			r.Warning = string(s)
		case "limit":
			if o, ok := v.Value.(ast.Object); ok && o.Len() == 0 {
				return nil // {} means no limit
			}
			r.Limit, err = parseLimit(v)
		case "obligations":
			r.Obligations, err = parseObligations(v)
		default:
			return fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	r.Outcome = pdp.Allow
	if len(step) > 0 {
		r.Outcome = pdp.StepUp
	}
	if len(deny) > 0 {
		r.Outcome = pdp.Deny
	}
	if explicit.Valid() {
		r.Outcome = pdp.Stricter(r.Outcome, explicit)
	}
	for _, e := range deny {
		r.Reasons = append(r.Reasons, e.reason)
		if e.warning != "" && r.Warning == "" {
			r.Warning = e.warning
		}
	}
	for _, e := range step {
		r.Reasons = append(r.Reasons, e.reason)
		if r.Outcome != pdp.StepUp {
			continue
		}
		r.Methods = append(r.Methods, e.methods...)
		if len(e.methods) == 0 && methodMap != nil {
			if ms := methodMap.Get(ast.StringTerm(e.reason)); ms != nil {
				list, err := stringList(ms)
				if err != nil {
					return r, fmt.Errorf("methods[%s]: %w", e.reason, err)
				}
				r.Methods = append(r.Methods, list...)
			}
		}
	}
	r.Reasons = sortedUnique(r.Reasons)
	r.Methods = sortedUnique(r.Methods)
	if r.Outcome == pdp.StepUp && len(r.Methods) == 0 {
		r.Methods = DefaultStepUpMethods
	}
	return r, nil
}

type reasonEntry struct {
	reason  string
	methods []string
	warning string
}

// reasonEntries reads a set or array of reason entries.
func reasonEntries(t *ast.Term) ([]reasonEntry, error) {
	var out []reasonEntry
	err := each(t, func(e *ast.Term) error {
		if s, ok := e.Value.(ast.String); ok {
			out = append(out, reasonEntry{reason: string(s)})
			return nil
		}
		var re reasonEntry
		err := objectFields(e, func(k string, v *ast.Term) (err error) {
			switch k {
			case "reason":
				s, ok := v.Value.(ast.String)
				if !ok {
					return fmt.Errorf("reason must be a string")
				}
				re.reason = string(s)
			case "methods":
				re.methods, err = stringList(v)
			case "warning":
				s, ok := v.Value.(ast.String)
				if !ok {
					return fmt.Errorf("warning must be a string")
				}
				re.warning = string(s)
			default:
				return fmt.Errorf("unknown reason field %q", k)
			}
			return err
		})
		if err != nil {
			return err
		}
		if re.reason == "" {
			return fmt.Errorf("reason entry without a reason: %v", e)
		}
		out = append(out, re)
		return nil
	})
	return out, err
}

// each calls fn for every element of an array or set.
func each(t *ast.Term, fn func(*ast.Term) error) error {
	switch v := t.Value.(type) {
	case *ast.Array:
		for i := 0; i < v.Len(); i++ {
			if err := fn(v.Elem(i)); err != nil {
				return err
			}
		}
		return nil
	case ast.Set:
		return v.Iter(fn)
	}
	return fmt.Errorf("want an array or a set")
}

func sortedUnique(s []string) []string {
	if len(s) < 2 {
		return s
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// stringList reads an array or set of strings.
func stringList(t *ast.Term) ([]string, error) {
	var out []string
	err := each(t, func(e *ast.Term) error {
		s, ok := e.Value.(ast.String)
		if !ok {
			return fmt.Errorf("want strings, got %v", e)
		}
		out = append(out, string(s))
		return nil
	})
	return out, err
}

func objectFields(t *ast.Term, fn func(key string, v *ast.Term) error) error {
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return fmt.Errorf("want an object, got %s", ast.ValueName(t.Value))
	}
	return obj.Iter(func(k, v *ast.Term) error {
		s, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("non-string key %v", k)
		}
		return fn(string(s), v)
	})
}

func number(t *ast.Term) (float64, error) {
	n, ok := t.Value.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("want a number, got %v", t)
	}
	f, ok := n.Float64()
	if !ok || f < 0 {
		return 0, fmt.Errorf("want a non-negative number, got %v", t)
	}
	return f, nil
}

// duration accepts a Go duration string ("30m") or a number of seconds.
func duration(t *ast.Term) (time.Duration, error) {
	switch v := t.Value.(type) {
	case ast.String:
		d, err := time.ParseDuration(string(v))
		if err != nil || d < 0 {
			return 0, fmt.Errorf("bad duration %v", t)
		}
		return d, nil
	case ast.Number:
		f, err := number(t)
		return time.Duration(f * float64(time.Second)), err
	}
	return 0, fmt.Errorf("duration must be a string such as \"30m\" or seconds")
}

func parseLimit(t *ast.Term) (*pdp.Limit, error) {
	var l pdp.Limit
	err := objectFields(t, func(k string, v *ast.Term) (err error) {
		switch k {
		case "max_amount":
			l.MaxAmount, err = number(v)
		case "daily_amount":
			l.DailyAmount, err = number(v)
		case "currency":
			s, _ := v.Value.(ast.String)
			l.Currency = string(s)
		case "duration":
			l.Duration, err = duration(v)
		default:
			err = fmt.Errorf("unknown limit field %q", k)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

var freezeKinds = map[string]bool{"temporary": true, "review": true, "permanent": true}

func parseObligations(t *ast.Term) ([]pdp.Obligation, error) {
	var out []pdp.Obligation
	err := each(t, func(e *ast.Term) error {
		o, err := parseObligation(e)
		if err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

func parseObligation(e *ast.Term) (pdp.Obligation, error) {
	var o pdp.Obligation
	err := objectFields(e, func(k string, v *ast.Term) (err error) {
		switch k {
		case "type":
			s, _ := v.Value.(ast.String)
			o.Type = pdp.ObligationType(s)
		case "kind":
			s, _ := v.Value.(ast.String)
			o.Kind = string(s)
		case "reason":
			s, _ := v.Value.(ast.String)
			o.Reason = string(s)
		case "duration":
			o.Duration, err = duration(v)
		case "functions":
			var names []string
			names, err = stringList(v)
			for _, n := range names {
				st, ok := pdp.ParseStage(n)
				if !ok {
					return fmt.Errorf("unknown function %q (want a stage)", n)
				}
				o.Functions = append(o.Functions, st)
			}
		case "limit":
			o.Limit, err = parseLimit(v)
		default:
			err = fmt.Errorf("unknown obligation field %q", k)
		}
		return err
	})
	if err != nil {
		return o, err
	}
	switch o.Type {
	case pdp.ObligationFreeze:
		if !freezeKinds[o.Kind] {
			return o, fmt.Errorf("freeze kind %q (want temporary, review or permanent)", o.Kind)
		}
		if o.Kind == "temporary" && o.Duration <= 0 {
			return o, fmt.Errorf("temporary freeze needs a duration")
		}
	case pdp.ObligationRestrict:
		if len(o.Functions) == 0 {
			return o, fmt.Errorf("restrict needs functions")
		}
	case pdp.ObligationLimit:
		if o.Limit == nil {
			return o, fmt.Errorf("limit obligation needs a limit")
		}
	case pdp.ObligationProbation, pdp.ObligationFlag:
	default:
		return o, fmt.Errorf("unknown obligation type %q", o.Type)
	}
	return o, nil
}
