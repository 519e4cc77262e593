//go:build wasip1

// Command habit is the habit_deviation plugin: how far this operation's
// amount and category depart from the UID's own history ("long-term small
// daily goods, then suddenly large digital goods").
//
// Score: 1 - (1-a)(1-c), where a grows with the amount's z-score against
// the UID's mean and standard deviation (0 below 2σ, 0.5 at 6σ) and with the
// ratio to the mean, and c is the category shift (0.3 for a category the UID
// rarely buys, 0.6 when it is also a high-value category), weighted by how
// much history there is (full weight from 20 operations). Fewer than 5
// operations of history: 0.1 with thin_history and nothing else.
package main

import (
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
	"github.com/riskpdp/riskpdp/plugins/sdk"
)

// Reasons, in the order of manifest.yaml.
const (
	thinHistory sdk.Reasons = 1 << iota
	amountAboveHabit
	amountFarAboveHabit
	newCategory
	highRiskCategoryShift
)

func init() { sdk.Register(score) }

func score(f *sdk.Features) (float64, sdk.Reasons) {
	amount := f[abi.Amount]
	if f[abi.Stage] == abi.StageLogin || amount <= 0 {
		return 0, 0
	}
	n := f[abi.HabitCount]
	if n < 5 {
		return 0.1, thinHistory
	}
	mean, std := f[abi.HabitAmountMean], f[abi.HabitAmountStd]
	scale := max(std, max(0.25*mean, 1))
	z := (amount - mean) / scale
	ratio := amount / max(mean, 1)

	var r sdk.Reasons
	a := sdk.Saturate(z-2, 4)
	if ratio > 10 {
		a = max(a, sdk.Saturate(ratio-5, 10))
	}
	switch {
	case z > 8 || ratio > 10:
		r |= amountFarAboveHabit
	case z > 3:
		r |= amountAboveHabit
	}

	var c float64
	if f[abi.HabitCategoryShare] < 0.05 {
		r |= newCategory
		c = 0.3
		if highValue(int(f[abi.CategoryCode])) {
			c = 0.6
			if a > 0.3 {
				r |= highRiskCategoryShift
			}
		}
		c *= min(n/20, 1)
	}
	return sdk.Clamp01(1 - (1-a)*(1-c)), r
}

// highValue lists the categories fraud converts to cash most easily.
func highValue(c int) bool {
	switch c {
	case abi.CategoryDigital, abi.CategoryGiftCard, abi.CategoryPhone, abi.CategoryJewellery,
		abi.CategoryElectronics, abi.CategoryLuxury, abi.CategoryGaming, abi.CategoryCrypto:
		return true
	}
	return false
}

func main() {}
