package hits

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

// Result is the typed decision. The sidecar builds it from the rules of the
// decision package (data.riskpdp by default):
//
//	deny        partial set of reason entries   any entry → deny
//	step_up     partial set of reason entries   any entry → step_up
//	obligations partial set of obligation objects
//	methods     {reason: [method, ...]}         step-up methods per reason (optional)
//	outcome     "allow|step_up|deny"            optional; can only make it stricter
//	reasons     [code, ...]                     optional extra codes for the log
//	warning     "code"                          optional user-facing warning
//	limit       {...}                           optional cap to report
//	decision    {...}                           optional: the same keys in one object
//
// A reason entry is a code string, or an object {"reason": code} with
// optional "methods" (step-up methods), "warning" (a user-facing warning
// code: a deny entry's first, else the first of a step-up still to be
// made; a satisfied step-up warns no more) and "flag" (flag the case for
// follow-up under that name, e.g. "key_tracking"). A package with none of
// the reason rules firing means allow.
//
// The sidecar, not the policy, folds the reasons into one outcome: deny beats
// step_up beats allow. This keeps the aggregation out of Rego, where every
// rule costs microseconds, and it cannot be got wrong.
type Result struct {
	Outcome pdp.Outcome
	Reasons []string
	// Satisfied are step-up reasons a passed verification answered: the
	// transaction's verification passed every method they ask for.
	Satisfied   []string
	Methods     []string
	Warning     string
	Limit       *pdp.Limit
	Obligations []pdp.Obligation
	// Evaluator says which evaluator answered (EvaluatorFast,
	// EvaluatorOptimized, EvaluatorOPA); Reevaluated is the error of the
	// faster evaluator that made OPA's evaluator answer instead, "" when
	// none.
	Evaluator   string
	Reevaluated string
}

// Evaluators: the fast program over the specialized rules (fastpath), OPA's
// evaluator (topdown) over the specialized rules, and OPA's evaluator
// over the policy as written, the yardstick (what opa eval and opa test
// run).
const (
	EvaluatorFast      = "fast"
	EvaluatorOptimized = "opa_optimized"
	EvaluatorOPA       = "opa"
)

// DefaultStepUpMethods are used when no step-up reason names a method.
var DefaultStepUpMethods = []string{"sms"}

// ReasonStepUpVerified marks a release after a passed verification.
const ReasonStepUpVerified = "step_up_verified"

// ErrInvalidDecision is a hits set the sidecar cannot act on exactly.
var ErrInvalidDecision = errors.New("policy decision is malformed")

// collector accumulates hits into a Result.
type collector struct {
	// passed are the methods this transaction's verification passed.
	passed    []string
	r         Result
	explicit  pdp.Outcome
	deny      []reasonEntry
	step      []reasonEntry
	methodMap ast.Object
}

// Hit is one [name, value] pair of the hits set, parsed. The fast program
// parses its constant hits once, at load.
type Hit struct {
	Key        *ast.Term // the [name, value] pair as the policy produced it
	Name       string
	entry      reasonEntry    // deny, step_up
	obligation pdp.Obligation // obligations
	outcome    pdp.Outcome    // outcome
	reasons    []string       // reasons
	warning    string         // warning
	limit      *pdp.Limit     // limit
	methods    ast.Object     // methods
	decision   []Hit          // decision: its keys, as hits
	ignore     bool           // the never-matching placeholder
}

// Parse converts the hits set ([name, value] pairs) into a Result; passed
// are the methods the transaction's verification passed. Anything the
// sidecar cannot act on exactly is an error (ErrInvalidDecision), so that
// a policy bug falls back instead of being half-applied.
func Parse(t *ast.Term, passed []string) (Result, error) {
	c := collector{passed: passed}
	err := each(t, func(e *ast.Term) error {
		a, ok := e.Value.(*ast.Array)
		if !ok || a.Len() != 2 {
			if e.Value.Compare(ast.String("__never")) == 0 {
				return nil
			}
			return fmt.Errorf("malformed hit %v", e)
		}
		name, _ := a.Elem(0).Value.(ast.String)
		h, err := ParseHit(string(name), a.Elem(1))
		if err != nil {
			return err
		}
		c.add(&h)
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrInvalidDecision, err)
	}
	return c.result()
}

// Collect folds hits, parsed already, into a Result as Parse does.
func Collect(hs []*Hit, passed []string) (Result, error) {
	c := collector{passed: passed}
	for _, h := range hs {
		c.add(h)
	}
	return c.result()
}

// result finishes the collection and wraps errors as ErrInvalidDecision.
func (c *collector) result() (Result, error) {
	r, err := c.finish()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrInvalidDecision, err)
	}
	return r, nil
}

// ParseHit parses the value of one rule (its Key is left to the caller).
func ParseHit(name string, v *ast.Term) (h Hit, err error) {
	h.Name = name
	switch name {
	case "deny", "step_up":
		h.entry, err = parseReasonEntry(v)
	case "obligations":
		h.obligation, err = parseObligation(v)
	case "methods":
		m, ok := v.Value.(ast.Object)
		if !ok {
			return h, fmt.Errorf("methods: want an object of reason → [methods]")
		}
		h.methods = m
	case "outcome":
		s, _ := v.Value.(ast.String)
		o, ok := pdp.ParseOutcome(string(s))
		if !ok {
			return h, fmt.Errorf("outcome %v is not allow, step_up or deny", v)
		}
		h.outcome = o
	case "reasons":
		h.reasons, err = stringList(v)
	case "warning":
		s, ok := v.Value.(ast.String)
		if !ok {
			return h, fmt.Errorf("warning must be a string code")
		}
		h.warning = string(s)
	case "limit":
		if o, ok := v.Value.(ast.Object); ok && o.Len() == 0 {
			return h, nil // {} means no limit
		}
		h.limit, err = parseLimit(v)
	case "decision":
		err = objectFields(v, func(key string, v *ast.Term) error {
			if key == "deny" || key == "step_up" || key == "obligations" {
				return each(v, func(e *ast.Term) error {
					sub, err := ParseHit(key, e)
					h.decision = append(h.decision, sub)
					return err
				})
			}
			if !slices.Contains(CompleteRules, key) || key == "decision" {
				return fmt.Errorf("unknown key %q", key)
			}
			sub, err := ParseHit(key, v)
			h.decision = append(h.decision, sub)
			return err
		})
	default:
		h.ignore = true
	}
	if err != nil {
		return h, fmt.Errorf("%s: %w", name, err)
	}
	return h, nil
}

// add folds one hit into the result.
func (c *collector) add(h *Hit) {
	switch h.Name {
	case "deny":
		c.deny = append(c.deny, h.entry)
	case "step_up":
		c.step = append(c.step, h.entry)
	case "obligations":
		c.r.Obligations = append(c.r.Obligations, h.obligation)
	case "methods":
		c.methodMap = h.methods
	case "outcome":
		c.explicit = pdp.Stricter(c.explicit, h.outcome)
	case "reasons":
		c.r.Reasons = append(c.r.Reasons, h.reasons...)
	case "warning":
		c.r.Warning = h.warning
	case "limit":
		if h.limit != nil {
			c.r.Limit = h.limit
		}
	case "decision":
		for i := range h.decision {
			c.add(&h.decision[i])
		}
	}
}

// finish derives the outcome, the reasons and the methods.
func (c *collector) finish() (Result, error) {
	r := c.r
	r.Outcome = pdp.Allow
	if len(c.step) > 0 {
		r.Outcome = pdp.StepUp
	}
	if len(c.deny) > 0 {
		r.Outcome = pdp.Deny
	}
	if c.explicit.Valid() {
		r.Outcome = pdp.Stricter(r.Outcome, c.explicit)
	}
	for _, e := range c.deny {
		r.Reasons = append(r.Reasons, e.reason)
		if e.warning != "" && r.Warning == "" {
			r.Warning = e.warning
		}
	}
	for _, e := range append(c.deny, c.step...) {
		if e.flag != "" {
			r.Obligations = append(r.Obligations, pdp.Obligation{Type: pdp.ObligationFlag, Kind: e.flag, Reason: e.reason})
		}
	}
	// "Verify first, release after": a step-up reason whose methods the
	// transaction's verification passed is satisfied.
	open := 0
	for _, e := range c.step {
		methods := e.methods
		if len(methods) == 0 && c.methodMap != nil {
			if ms := c.methodMap.Get(ast.StringTerm(e.reason)); ms != nil {
				list, err := stringList(ms)
				if err != nil {
					return r, fmt.Errorf("methods[%s]: %w", e.reason, err)
				}
				methods = list
			}
		}
		if len(methods) == 0 {
			methods = DefaultStepUpMethods
		}
		if len(c.passed) > 0 && subset(methods, c.passed) {
			r.Satisfied = append(r.Satisfied, e.reason)
			continue
		}
		open++
		r.Reasons = append(r.Reasons, e.reason)
		r.Methods = append(r.Methods, methods...)
		// The warning of a step-up still to be made (after a deny's):
		// the user reads it while asked to verify, not on the release.
		if e.warning != "" && r.Warning == "" {
			r.Warning = e.warning
		}
	}
	if r.Outcome == pdp.StepUp && open == 0 && !c.explicit.Valid() {
		r.Outcome = pdp.Allow
	}
	if r.Outcome != pdp.StepUp {
		r.Methods = nil
	}
	if len(r.Satisfied) > 0 && r.Outcome == pdp.Allow {
		r.Reasons = append(r.Reasons, ReasonStepUpVerified)
	}
	r.Reasons = sortedUnique(r.Reasons)
	r.Methods = sortedUnique(r.Methods)
	r.Satisfied = sortedUnique(r.Satisfied)
	slices.SortStableFunc(r.Obligations, func(a, b pdp.Obligation) int {
		return strings.Compare(string(a.Type)+"\x00"+a.Kind+"\x00"+a.Reason, string(b.Type)+"\x00"+b.Kind+"\x00"+b.Reason)
	})
	if r.Outcome == pdp.StepUp && len(r.Methods) == 0 {
		r.Methods = DefaultStepUpMethods
	}
	if r.Reasons == nil {
		r.Reasons = []string{}
	}
	return r, nil
}

type reasonEntry struct {
	reason  string
	methods []string
	warning string
	flag    string
}

// parseReasonEntry reads a code string or {"reason", "methods", "warning"}.
func parseReasonEntry(e *ast.Term) (reasonEntry, error) {
	if s, ok := e.Value.(ast.String); ok {
		return reasonEntry{reason: string(s)}, nil
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
		case "warning", "flag":
			s, ok := v.Value.(ast.String)
			if !ok {
				return fmt.Errorf("%s must be a string", k)
			}
			if k == "warning" {
				re.warning = string(s)
			} else {
				re.flag = string(s)
			}
		default:
			return fmt.Errorf("unknown reason field %q", k)
		}
		return err
	})
	if err == nil && re.reason == "" {
		err = fmt.Errorf("reason entry without a reason: %v", e)
	}
	return re, err
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

// TakeMethods gives a step_up hit without methods of its own the methods
// the methods hit m names for its reason, if it names any: what the
// collector would look up for it on every request.
func (h *Hit) TakeMethods(m *Hit) {
	if h.Name != "step_up" || len(h.entry.methods) > 0 || m.Name != "methods" {
		return
	}
	if ms := m.methods.Get(ast.StringTerm(h.entry.reason)); ms != nil {
		if list, err := stringList(ms); err == nil && len(list) > 0 {
			h.entry.methods = list
		}
	}
}

// Reason is the reason code of a deny or step_up hit ("" for others).
func (h *Hit) Reason() string { return h.entry.reason }

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
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
		if err == nil && f*float64(time.Second) >= math.MaxInt64 {
			// time.Duration would wrap to a negative span: a policy asking
			// for centuries would get no freeze, probation or limit at all.
			err = fmt.Errorf("duration %v seconds is too long", t)
		}
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
		case "probation":
			o.Probation, err = duration(v)
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
