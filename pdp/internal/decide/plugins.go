package decide

import (
	"slices"
	"sync"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// resultPool recycles the per-decision plugin result slices.
var resultPool = sync.Pool{New: func() any { s := make([]plugin.Result, 0, 8); return &s }}

// score runs the scoring plugins on the request's features and adds their
// answers to input.scores. It returns the name of a closed-mode plugin that
// failed ("" when none did): the decision may then not be less strict than
// a step-up. A plugin that failed is absent from input.scores and named in
// input.scores_unavailable, so that the policy can ask for the check the
// score would have made (the reference policy steps up a money movement
// the fraud model could have denied).
func (s *Service) score(in *request.Input, acct *pdp.AccountState) string {
	if s.plugins == nil {
		return ""
	}
	f := plugin.NewFeatures()
	var h *pdp.Habit
	if acct != nil {
		h = &acct.Habit
	}
	fillFeatures(&f, in, h)
	buf := resultPool.Get().(*[]plugin.Result)
	defer resultPool.Put(buf)
	res := s.plugins.Score(&f, plugin.Source{UID: in.Req.UID, Device: in.Req.Device.ID}, (*buf)[:0])
	*buf = res
	closed := ""
	// r.Reasons lives in the pooled buffer, reused by the next decision as
	// soon as this function returns: copy them, into one slice for all.
	n := 0
	for _, r := range res {
		n += len(r.Reasons)
	}
	reasons := make([]string, 0, n)
	in.Enrich.Scores = slices.Grow(in.Enrich.Scores, len(res))
	for _, r := range res {
		switch {
		case r.Err == nil:
			reasons = append(reasons, r.Reasons...)
			in.Enrich.Scores = append(in.Enrich.Scores, request.Score{Plugin: r.Plugin, Score: r.Score,
				Reasons: reasons[len(reasons)-len(r.Reasons) : len(reasons) : len(reasons)]})
		default:
			in.Enrich.Unavailable = append(in.Enrich.Unavailable, r.Plugin)
			if r.FailClosed && closed == "" {
				closed = r.Plugin
			}
		}
	}
	return closed
}

// fillFeatures writes the feature record from what the policy sees: the
// request, the facts the engine derived, the enrichment. One source for
// both, so a plugin and a rule never disagree on, say, "foreign IP".
func fillFeatures(f *plugin.Features, in *request.Input, h *pdp.Habit) {
	r := &in.Req
	d := &in.Derived
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}
	f[abi.Stage] = float64(r.Stage)
	if r.HasTxn {
		f[abi.Amount] = in.Derived.AmountBase // the habit's unit
		f[abi.CategoryCode] = float64(abi.CategoryCodeOf(r.Txn.Category))
		f[abi.PaymentMethodCode] = float64(abi.MethodCodeOf(r.Txn.PaymentMethod))
	}
	f[abi.AccountAgeDays] = d.AccountAgeDays
	f[abi.HoursSinceSensitiveChange] = d.SensitiveChangeHours
	f[abi.IPForeign] = b(d.IPForeign)
	f[abi.CrossBorder] = b(d.CrossBorder)
	f[abi.VIP] = b(d.VIP)
	f[abi.DeviceNew] = b(r.Device.New.IsTrue())
	f[abi.HourOfDay] = float64(in.Now.UTC().Hour())
	if in.Enrich.Velocity != nil {
		plugin.FillVelocity(f, in.Enrich.Velocity)
	}
	if in.Enrich.HasReputation {
		rep := &in.Enrich.Reputation
		f[abi.UIDBlocked] = b(rep[request.RepUID].Blocked)
		f[abi.DeviceBlocked] = b(rep[request.RepDevice].Blocked)
		f[abi.IPThreat] = b(rep[request.RepIP].Blocked)
		f[abi.CardBINBlocked] = b(rep[request.RepCardBIN].Blocked)
	}
	if h != nil && h.Count > 0 {
		f[abi.HabitCount] = float64(h.Count)
		f[abi.HabitAmountMean] = h.Mean
		f[abi.HabitAmountStd] = h.Std()
		f[abi.HabitCategoryShare] = h.Share(r.Txn.Category)
	}
}
