package request

import (
	"encoding/json"
	"github.com/open-policy-agent/opa/v1/ast"
	"math"
	"strconv"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

var (
	keyAccountAgeDays       = ast.StringTerm("account_age_days")
	keyAmountBase           = ast.StringTerm("amount_base")
	keySensitiveChangeHours = ast.StringTerm("sensitive_change_hours")
	keyIPForeign            = ast.StringTerm("ip_foreign")
	keyIPDomestic           = ast.StringTerm("ip_domestic")
	keyCrossBorder          = ast.StringTerm("cross_border")
	keyDeviceKnown          = ast.StringTerm("device_known")
	keyDestinationNew       = ast.StringTerm("destination_new")
	keyMoney                = ast.StringTerm("money")
	keyOutflow              = ast.StringTerm("outflow")
	keyVIP                  = ast.StringTerm("vip")
)

// Term assembles the policy input: the caller's document, the derived facts
// and whatever enrichment was added. Topdown needs it; the fast path looks
// values up with lookup instead and never builds it.
func (in *Input) Term() *ast.Term {
	pairs := make([][2]*ast.Term, 0, len(in.top)+6)
	for i := range in.top {
		pairs = append(pairs, [2]*ast.Term{in.top[i].key, in.top[i].value()})
	}
	pairs = append(pairs, [2]*ast.Term{keyDerived, in.derivedTerm()})
	pairs = append(pairs, in.enrichPairs()...)
	return ast.NewTerm(ast.NewObject(pairs...))
}

// Lookup resolves a path below input (path[0] is the top-level key) the way
// Term() would, without building the top-level object.
func (in *Input) Lookup(path ast.Ref) *ast.Term {
	if len(path) == 0 {
		return in.Term()
	}
	k, ok := path[0].Value.(ast.String)
	if !ok {
		return nil
	}
	if k == "derived" {
		if len(path) == 1 {
			return in.derivedTerm()
		}
		if t := in.derivedField(path[1]); t != nil {
			return LookupTerms(t, path[2:])
		}
		return nil
	}
	for i := range in.top {
		m := &in.top[i]
		if m.key.Value.(ast.String) != k {
			continue
		}
		if m.val != nil || len(path) == 1 {
			return LookupTerms(m.value(), path[1:])
		}
		for _, kv := range m.members {
			if kv[0].Equal(path[1]) {
				return LookupTerms(kv[1], path[2:])
			}
		}
		return nil
	}
	if t, ok := in.lookupEnrich(path); ok {
		return t
	}
	return nil
}

// SetDeviceKnown records what the risk state says of the request's device:
// whether the account has used it before. What the sidecar knows beats
// what the caller claims, in one direction only: a caller may call a known
// device new (raising the risk), never an unknown one known. So
// input.derived.device_known is known && the caller did not say new, and
// input.device.new is set to true for an unknown device even when the
// caller sent false (and to the sidecar's answer when the caller sent
// nothing), as if the caller had sent it.
func (in *Input) SetDeviceKnown(known bool) {
	in.Derived.DeviceKnown = known && in.Req.Device.New != pdp.True
	if in.Req.Device.ID == "" || (known && in.Req.Device.New != pdp.Unset) || in.Req.Device.New == pdp.True {
		return
	}
	in.setDeviceNew(!known)
}

// SetDestinationKnown records what the risk state says of a withdrawal's
// destination (txn.instrument): known when the account first moved money
// to it at least pdp.NewDestinationWindow before. As for devices, the
// caller may call a known destination new, never a new one known:
// input.derived.destination_new is !known, or true when the caller says
// so.
func (in *Input) SetDestinationKnown(known bool) {
	if in.Req.Stage == pdp.StageWithdrawal {
		in.Derived.DestinationNew = !known || in.Req.Txn.DestinationNew == pdp.True
	}
}

// setDeviceNew makes input.device.new isNew, replacing the caller's value.
func (in *Input) setDeviceNew(isNew bool) {
	in.Req.Device.New = pdp.OptBoolOf(isNew)
	in.deviceNewSet = true
	for i := range in.top {
		m := &in.top[i]
		if m.key.Value.Compare(ast.String("device")) != 0 || m.val != nil {
			continue
		}
		for j := range m.members {
			if m.members[j][0].Equal(keyNew) {
				m.members[j][1] = ast.InternedTerm(isNew)
				return
			}
		}
		m.members = append(m.members, [2]*ast.Term{keyNew, ast.InternedTerm(isNew)})
		return
	}
}

// Resolver reads one ground path of the input. Resolving a path against
// the request and the enrichment schema happens once, when the fast
// program is compiled; evaluations only call the resolver.
type Resolver func(in *Input) *ast.Term

// CompilePath returns the Resolver of a ground path below input.
func CompilePath(path ast.Ref) Resolver {
	if len(path) == 0 {
		return func(in *Input) *ast.Term { return in.Term() }
	}
	k, ok := path[0].Value.(ast.String)
	if !ok {
		return func(*Input) *ast.Term { return nil }
	}
	if k == "derived" && len(path) >= 2 {
		key, rest := path[1], path[2:]
		return func(in *Input) *ast.Term { return LookupTerms(in.derivedField(key), rest) }
	}
	if f := enrichField(enrichSchema, path[0]); f != nil {
		return compileEnrichPath(f, path[1:])
	}
	if len(path) >= 2 {
		sub, ok := path[1].Value.(ast.String)
		rest := path[2:]
		if ok {
			// A member of a request object (device, txn, ...): compare
			// strings, not terms.
			return func(in *Input) *ast.Term {
				for i := range in.top {
					m := &in.top[i]
					if m.key.Value.(ast.String) != k {
						continue
					}
					if m.val != nil {
						return LookupTerms(m.val, path[1:])
					}
					for _, kv := range m.members {
						if kv[0].Value.(ast.String) == sub {
							return LookupTerms(kv[1], rest)
						}
					}
					return nil
				}
				return nil
			}
		}
	}
	return func(in *Input) *ast.Term { return in.Lookup(path) }
}

// compileEnrichPath walks the enrichment schema at compile time: the
// resolver checks the presence of each object on the way and calls the
// leaf's getter.
func compileEnrichPath(f *field, path ast.Ref) Resolver {
	if f.name.Value.Compare(ast.String("scores")) == 0 {
		return compileScorePath(path)
	}
	f, presence, rest := enrichLeaf(f, path)
	if f == nil {
		return func(*Input) *ast.Term { return nil }
	}
	return func(in *Input) *ast.Term {
		if !allPresent(presence, in) {
			return nil
		}
		return LookupTerms(in.fieldTerm(f), rest)
	}
}

// enrichLeaf walks path below the enrichment field f: the field it names
// (nil when the schema has no such key), the presence checks of the objects
// on the way, f's included, and the rest of the path below a leaf, which
// is looked up in the leaf's value (a key of input.scores_unavailable, an
// element of input.verification.methods).
func enrichLeaf(f *field, path ast.Ref) (*field, []func(*Input) bool, ast.Ref) {
	var presence []func(*Input) bool
	if f.present != nil {
		presence = append(presence, f.present)
	}
	for i, k := range path {
		if f.get != nil {
			return f, presence, path[i:]
		}
		if f = enrichField(f.sub, k); f == nil {
			return nil, nil, nil
		}
		if f.present != nil {
			presence = append(presence, f.present)
		}
	}
	return f, presence, nil
}

func allPresent(presence []func(*Input) bool, in *Input) bool {
	for _, present := range presence {
		if !present(in) {
			return false
		}
	}
	return true
}

// score returns the answer of the named plugin, nil when it did not answer.
func (in *Input) score(plugin string) *Score {
	for i := range in.Enrich.Scores {
		if sc := &in.Enrich.Scores[i]; sc.Plugin == plugin {
			return sc
		}
	}
	return nil
}

// compileScorePath resolves input.scores.<plugin>[.score|.reasons...]
// straight from the plugin's answer, without building the scores object.
func compileScorePath(path ast.Ref) Resolver {
	if len(path) < 2 {
		return func(in *Input) *ast.Term {
			if len(in.Enrich.Scores) == 0 {
				return nil
			}
			return LookupTerms(in.scoresTerm(), path)
		}
	}
	plugin, ok1 := path[0].Value.(ast.String)
	field, ok2 := path[1].Value.(ast.String)
	if !ok1 || !ok2 {
		return func(*Input) *ast.Term { return nil }
	}
	rest := path[2:]
	return func(in *Input) *ast.Term {
		sc := in.score(string(plugin))
		switch {
		case sc == nil:
			return nil
		case field == "score":
			return LookupTerms(floatTerm(sc.Score), rest)
		case field == "reasons":
			return LookupTerms(stringsTerm(sc.Reasons), rest)
		}
		return nil
	}
}

// NumResolver reads a numeric leaf of the input as the float64 the policy
// sees (numValue), ok=false when it is absent.
type NumResolver func(in *Input) (float64, bool)

// CompileNum returns the numeric Resolver of a ground path below input, or
// nil when the path is not a number the sidecar computes (the caller's own
// numbers keep their JSON text and are compared as OPA compares them).
func CompileNum(path ast.Ref) NumResolver {
	if len(path) == 0 {
		return nil
	}
	if path[0].Value.Compare(ast.String("derived")) == 0 {
		if len(path) != 2 {
			return nil
		}
		if path[1].Value.Compare(ast.String("account_age_days")) == 0 {
			return func(in *Input) (float64, bool) { return numValue(in.Derived.AccountAgeDays), true }
		}
		if path[1].Value.Compare(ast.String("sensitive_change_hours")) == 0 {
			return func(in *Input) (float64, bool) { return numValue(in.Derived.SensitiveChangeHours), true }
		}
		if path[1].Value.Compare(ast.String("amount_base")) == 0 {
			return func(in *Input) (float64, bool) { return numValue(in.Derived.AmountBase), true }
		}
		return nil
	}
	f := enrichField(enrichSchema, path[0])
	if f == nil {
		return nil
	}
	if f.name.Value.Compare(ast.String("scores")) == 0 {
		if len(path) != 3 || path[2].Value.Compare(ast.String("score")) != 0 {
			return nil
		}
		plugin, ok := path[1].Value.(ast.String)
		if !ok {
			return nil
		}
		return func(in *Input) (float64, bool) {
			if sc := in.score(string(plugin)); sc != nil {
				return numValue(sc.Score), true
			}
			return 0, false
		}
	}
	f, presence, rest := enrichLeaf(f, path[1:])
	if f == nil || f.num == nil || len(rest) > 0 {
		return nil
	}
	num := f.num
	return func(in *Input) (float64, bool) {
		if !allPresent(presence, in) {
			return 0, false
		}
		return numValue(num(in)), true
	}
}

// derivedField returns one field of input.derived without building the object.
func (in *Input) derivedField(key *ast.Term) *ast.Term {
	k, _ := key.Value.(ast.String)
	d := &in.Derived
	switch k {
	case "account_age_days":
		return floatTerm(d.AccountAgeDays)
	case "amount_base":
		return floatTerm(d.AmountBase)
	case "sensitive_change_hours":
		return floatTerm(d.SensitiveChangeHours)
	case "ip_foreign":
		return ast.InternedTerm(d.IPForeign)
	case "cross_border":
		return ast.InternedTerm(d.CrossBorder)
	case "ip_domestic":
		return ast.InternedTerm(d.IPDomestic)
	case "device_known":
		return ast.InternedTerm(d.DeviceKnown)
	case "destination_new":
		return ast.InternedTerm(d.DestinationNew)
	case "money":
		return ast.InternedTerm(in.Req.Stage.NeedsTxn())
	case "outflow":
		return ast.InternedTerm(in.outflow())
	case "vip":
		return ast.InternedTerm(d.VIP)
	}
	return nil
}

func (in *Input) outflow() bool {
	return in.Req.Stage == pdp.StagePayment || in.Req.Stage == pdp.StageWithdrawal
}

// derivedTerm builds input.derived.
func (in *Input) derivedTerm() *ast.Term {
	d := in.Derived
	return ast.NewTerm(ast.NewObject(
		[2]*ast.Term{keyAccountAgeDays, floatTerm(d.AccountAgeDays)},
		[2]*ast.Term{keyAmountBase, floatTerm(d.AmountBase)},
		[2]*ast.Term{keySensitiveChangeHours, floatTerm(d.SensitiveChangeHours)},
		[2]*ast.Term{keyIPForeign, ast.InternedTerm(d.IPForeign)},
		[2]*ast.Term{keyIPDomestic, ast.InternedTerm(d.IPDomestic)},
		[2]*ast.Term{keyCrossBorder, ast.InternedTerm(d.CrossBorder)},
		[2]*ast.Term{keyDeviceKnown, ast.InternedTerm(d.DeviceKnown)},
		[2]*ast.Term{keyDestinationNew, ast.InternedTerm(d.DestinationNew)},
		[2]*ast.Term{keyMoney, ast.InternedTerm(in.Req.Stage.NeedsTxn())},
		[2]*ast.Term{keyOutflow, ast.InternedTerm(in.outflow())},
		[2]*ast.Term{keyVIP, ast.InternedTerm(d.VIP)},
	))
}

// floatTerm encodes f as a number term, rounded to millionths (sums of
// decimal amounts carry binary noise such as 6899.750000000001; short
// decimals also keep OPA's comparisons on their fast path), written as
// jsonw writes numbers. Integral values use interned ints.
func floatTerm(f float64) *ast.Term {
	f = numValue(f)
	if isInt(f) {
		return ast.InternedTerm(int(f))
	}
	var buf [32]byte
	if b, ok := jsonw.AppendFloat(buf[:0], f); ok {
		return ast.NumberTerm(json.Number(b))
	}
	return ast.NumberTerm(json.Number(strconv.FormatFloat(f, 'f', -1, 64))) // NaN, ±Inf: no JSON number
}

// isInt reports whether f (a numValue) is written as an integer.
func isInt(f float64) bool { return f == float64(int(f)) && f > -1e15 && f < 1e15 }

// numValue is the number the policy sees for f: rounded to millionths.
// floatTerm writes it as the shortest decimal that reads back as it, as
// encoding/json does (jsonw.AppendFloat: an exponent from 1e21).
func numValue(f float64) float64 {
	if math.Abs(f) < 1e15 { // larger values have no millionths (and f*1e6 could overflow)
		f = math.Round(f*1e6) / 1e6
	}
	return f
}

// LookupTerms follows keys (object keys, array indices, set members) down
// from t, nil where a step is missing.
func LookupTerms(t *ast.Term, keys []*ast.Term) *ast.Term {
	for _, k := range keys {
		if t == nil {
			return nil
		}
		switch v := t.Value.(type) {
		case ast.Object:
			t = v.Get(k)
		case *ast.Array:
			n, ok := k.Value.(ast.Number)
			if !ok {
				return nil
			}
			i, ok := n.Int()
			if !ok || i < 0 || i >= v.Len() {
				return nil
			}
			t = v.Elem(i)
		case ast.Set:
			if !v.Contains(k) {
				return nil
			}
			t = k
		default:
			return nil
		}
	}
	return t
}
