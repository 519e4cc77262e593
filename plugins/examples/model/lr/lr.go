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
	x[InUIDVelocity] = math.Log1p(max(f[abi.UIDCount1h], 0)) / 3
	x[InDeviceUIDs] = math.Log1p(max(f[abi.DeviceUIDs1h]-1, 0)) / 2
	x[InFailures] = math.Log1p(max(f[abi.PaymentFailures1h]+f[abi.PINFailures1h], 0)) / 2
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
func Score(w *[NumInputs + 1]float64, x *[NumInputs]float64) (float64, uint64) {
	z := w[NumInputs]
	var contrib [10]float64
	for i := range x {
		c := w[i] * x[i]
		z += c
		if r := reasonOf[i]; r >= 0 {
			contrib[r] += c
		}
	}
	var mask uint64
	for r, c := range contrib {
		if c > ReasonThreshold {
			mask |= 1 << r
		}
	}
	return 1 / (1 + math.Exp(-z)), mask
}
