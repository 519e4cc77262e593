// Package lr is the fraud_model plugin's model: a logistic regression over
// NumInputs inputs derived from the feature record. It builds on every
// platform: the wasip1 guest (plugins/examples/model) scores with it, and
// the trainer (plugins/examples/model/train) fits Weights with it.
package lr

import (
	"math"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// The model's inputs, derived from the features by Inputs.
const (
	InLogAmount        = iota // log1p(amount) / 10
	InHabitRatio              // log1p(amount / habit mean) / 4
	InNewDevice               // device_new
	InForeignIP               // ip_foreign
	InCrossBorder             // cross_border
	InNewDeviceForeign        // device_new AND ip_foreign
	InUIDVelocity             // log1p(uid_count_1h) / 3
	InDeviceUIDs              // log1p(device_uids_1h - 1) / 2
	InFailures                // log1p(payment + pin failures in the hour) / 2
	InRecentChange            // a sensitive change in the last 24 hours
	InRiskyCategory           // digital, gift card, phone, jewellery, electronics, gaming, crypto
	InVirtualCard             // payment by virtual card
	InYoungAccount            // account younger than 30 days (0.5 when unknown)
	InNight                   // 00:00 to 05:59 UTC
	InVIP                     // vip
	InNewCategory             // a category the UID rarely buys (share < 5% over 10+ operations)

	NumInputs
)

// Features lists the features Inputs reads: the plugin's manifest declares
// exactly these.
var Features = []abi.Feature{abi.Amount, abi.HabitAmountMean, abi.DeviceNew, abi.IPForeign, abi.CrossBorder,
	abi.UIDCount1h, abi.DeviceUIDs1h, abi.PaymentFailures1h, abi.PINFailures1h, abi.HoursSinceSensitiveChange,
	abi.CategoryCode, abi.PaymentMethodCode, abi.AccountAgeDays, abi.HourOfDay, abi.VIP, abi.HabitCategoryShare,
	abi.HabitCount}

// Inputs derives the model's inputs from a feature record.
func Inputs(f *abi.Features, x *[NumInputs]float64) {
	amount := max(f[abi.Amount], 0)
	x[InLogAmount] = math.Log1p(amount) / 10
	x[InHabitRatio] = 0
	if mean := f[abi.HabitAmountMean]; mean > 0 {
		x[InHabitRatio] = math.Log1p(amount/mean) / 4
	}
	x[InNewDevice] = f[abi.DeviceNew]
	x[InForeignIP] = f[abi.IPForeign]
	x[InCrossBorder] = f[abi.CrossBorder]
	x[InNewDeviceForeign] = f[abi.DeviceNew] * f[abi.IPForeign]
	x[InUIDVelocity] = log1pCount(max(f[abi.UIDCount1h], 0)) / 3
	x[InDeviceUIDs] = log1pCount(max(f[abi.DeviceUIDs1h]-1, 0)) / 2
	x[InFailures] = log1pCount(max(f[abi.PaymentFailures1h]+f[abi.PINFailures1h], 0)) / 2
	h := f[abi.HoursSinceSensitiveChange]
	x[InRecentChange] = b2f(h >= 0 && h < 24)
	switch int(f[abi.CategoryCode]) {
	case abi.CategoryDigital, abi.CategoryGiftCard, abi.CategoryPhone, abi.CategoryJewellery,
		abi.CategoryElectronics, abi.CategoryGaming, abi.CategoryCrypto:
		x[InRiskyCategory] = 1
	default:
		x[InRiskyCategory] = 0
	}
	x[InVirtualCard] = b2f(f[abi.PaymentMethodCode] == abi.MethodVirtualCard)
	switch age := f[abi.AccountAgeDays]; {
	case age < 0:
		x[InYoungAccount] = 0.5
	default:
		x[InYoungAccount] = b2f(age < 30)
	}
	x[InNight] = b2f(f[abi.HourOfDay] < 6)
	x[InVIP] = f[abi.VIP]
	x[InNewCategory] = b2f(f[abi.HabitCount] >= 10 && f[abi.HabitCategoryShare] < 0.05)
}

// log1pTable holds math.Log1p of the small whole numbers: the count inputs
// are counts, mostly small, and Log1p runs in software in a Go WebAssembly
// guest. Same values (TestLog1pCount), so the fitted weights apply.
var log1pTable = func() (t [64]float64) {
	for i := range t {
		t[i] = math.Log1p(float64(i))
	}
	return t
}()

// log1pCount is math.Log1p(n) for n ≥ 0, from the table when n is a small
// whole number.
func log1pCount(n float64) float64 {
	if n < float64(len(log1pTable)) && n == math.Trunc(n) {
		return log1pTable[int(n)]
	}
	return math.Log1p(n)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Reasons of the plugin, in manifest order, and the inputs behind each.
var (
	ReasonNames = []string{"amount_vs_habit", "new_device_foreign_ip", "cross_border", "velocity", "failures",
		"recent_sensitive_change", "risky_category", "virtual_card", "young_account", "night_time"}
	reasonOf = [NumInputs]int{
		InLogAmount: 0, InHabitRatio: 0, InNewDevice: 1, InForeignIP: 1, InNewDeviceForeign: 1, InCrossBorder: 2,
		InUIDVelocity: 3, InDeviceUIDs: 3, InFailures: 4, InRecentChange: 5, InRiskyCategory: 6, InNewCategory: 6,
		InVirtualCard: 7, InYoungAccount: 8, InNight: 9, InVIP: -1,
	}
)

// ReasonThreshold is the contribution to the log-odds (w_i * x_i, summed
// per reason) above which a reason is reported.
const ReasonThreshold = 0.75

// Score returns the fraud probability for x and the reasons whose inputs
// raised the log-odds by more than ReasonThreshold. w has the bias last.
//
// The reason sums are written out per reason (the grouping of reasonOf, in
// input order, so the sums are the same floats): a loop indexing an
// accumulator by reasonOf costs about a hundred times the straight-line form
// in a Go WebAssembly guest (TestScoreMatchesReasonOf holds them equal).
func Score(w *[NumInputs + 1]float64, x *[NumInputs]float64) (float64, uint64) {
	var c [NumInputs]float64
	z := w[NumInputs]
	for i := range c {
		c[i] = w[i] * x[i]
		z += c[i]
	}
	var mask uint64
	set := func(r int, sum float64) {
		if sum > ReasonThreshold {
			mask |= 1 << r
		}
	}
	set(0, c[InLogAmount]+c[InHabitRatio])
	set(1, c[InNewDevice]+c[InForeignIP]+c[InNewDeviceForeign])
	set(2, c[InCrossBorder])
	set(3, c[InUIDVelocity]+c[InDeviceUIDs])
	set(4, c[InFailures])
	set(5, c[InRecentChange])
	set(6, c[InRiskyCategory]+c[InNewCategory])
	set(7, c[InVirtualCard])
	set(8, c[InYoungAccount])
	set(9, c[InNight])
	return 1 / (1 + math.Exp(-z)), mask
}
