package engine

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

var (
	keyAccountAgeDays       = ast.StringTerm("account_age_days")
	keySensitiveChangeHours = ast.StringTerm("sensitive_change_hours")
	keyIPForeign            = ast.StringTerm("ip_foreign")
	keyCrossBorder          = ast.StringTerm("cross_border")
	keyMoney                = ast.StringTerm("money")
	keyOutflow              = ast.StringTerm("outflow")
)

// term assembles the policy input: the caller's document, the derived facts
// and whatever enrichment was added.
func (in *Input) term() *ast.Term {
	d := in.Derived
	derived := ast.NewObject(
		[2]*ast.Term{keyAccountAgeDays, floatTerm(d.AccountAgeDays)},
		[2]*ast.Term{keySensitiveChangeHours, floatTerm(d.SensitiveChangeHours)},
		[2]*ast.Term{keyIPForeign, ast.InternedTerm(d.IPForeign)},
		[2]*ast.Term{keyCrossBorder, ast.InternedTerm(d.CrossBorder)},
		[2]*ast.Term{keyMoney, ast.InternedTerm(in.Req.Stage.NeedsTxn())},
		[2]*ast.Term{keyOutflow, ast.InternedTerm(in.Req.Stage == pdp.StagePayment || in.Req.Stage == pdp.StageWithdrawal)},
	)
	pairs := make([][2]*ast.Term, 0, len(in.pairs)+1+len(in.extra))
	pairs = append(pairs, in.pairs...)
	pairs = append(pairs, [2]*ast.Term{keyDerived, ast.NewTerm(derived)})
	pairs = append(pairs, in.extra...)
	return ast.NewTerm(ast.NewObject(pairs...))
}

// floatTerm encodes f as a number term; integral values use interned ints.
func floatTerm(f float64) *ast.Term {
	if f == float64(int(f)) && f > -1e15 && f < 1e15 {
		return ast.InternedTerm(int(f))
	}
	return ast.FloatNumberTerm(f)
}
