package main

import (
	"math"
	"math/rand/v2"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
	"github.com/riskpdp/riskpdp/plugins/examples/model/lr"
)

// generate draws n labelled operations from a fixed story:
//
//   - 92% legitimate: an account with a spending habit (mean amount
//     log-normal around 40, history of 5 to 400 operations, mostly daily
//     goods) buys around its habit; a few travel (foreign IP, new device),
//     change their password, pay at night or by virtual card.
//   - 4% account takeover: a new device, often a foreign IP and a recent
//     password or phone change, then an amount 10 to 60 times the habit in a
//     high-value category the account rarely buys.
//   - 2.4% card testing: a young account, many small payments in the hour,
//     repeated payment and PIN failures, often a virtual card.
//   - 1.6% mule device: one device logged into 3 to 12 UIDs in the hour,
//     young accounts moving transfers or crypto.
//   - 0.3% fraud that looks entirely legitimate, and among the legitimate
//     operations 6% big purchases (phones, travel) and 3% busy users with
//     failures, so the classes overlap.
func generate(n int, seed uint64) []example {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]example, n)
	for i := range out {
		e := &out[i]
		legit(r, &e.f)
		switch u := r.Float64(); {
		case u < 0.04:
			takeover(r, &e.f)
			e.fraud = true
		case u < 0.064:
			cardTesting(r, &e.f)
			e.fraud = true
		case u < 0.08:
			mule(r, &e.f)
			e.fraud = true
		case u < 0.083: // fraud that looks like nothing: the model must miss some
			e.fraud = true
		}
		lr.Inputs(&e.f, &e.x)
	}
	return out
}

func bern(r *rand.Rand, p float64) float64 {
	if r.Float64() < p {
		return 1
	}
	return 0
}

func poisson(r *rand.Rand, mean float64) float64 {
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= r.Float64()
		if p < l {
			return k
		}
		k++
	}
}

// legit fills f with a legitimate operation.
func legit(r *rand.Rand, f *abi.Features) {
	mean := math.Exp(math.Log(40) + 0.8*r.NormFloat64())
	f[abi.HabitAmountMean] = mean
	f[abi.HabitAmountStd] = mean * (0.3 + 0.5*r.Float64())
	f[abi.HabitCount] = math.Floor(5 + 395*r.Float64())
	f[abi.Stage] = abi.StagePayment
	f[abi.Amount] = math.Max(1, mean*math.Exp(0.6*r.NormFloat64()))
	if r.Float64() < 0.8 {
		f[abi.CategoryCode] = abi.CategoryDailyGoods
		f[abi.HabitCategoryShare] = 0.5 + 0.5*r.Float64()
	} else {
		f[abi.CategoryCode] = float64(r.IntN(abi.NumCategories))
		f[abi.HabitCategoryShare] = 0.3 * r.Float64()
	}
	travel := r.Float64() < 0.02
	f[abi.DeviceNew] = math.Max(bern(r, 0.04), b(travel && r.Float64() < 0.5))
	f[abi.IPForeign] = math.Max(bern(r, 0.01), b(travel))
	f[abi.CrossBorder] = bern(r, 0.05)
	f[abi.UIDCount1h] = poisson(r, 1)
	f[abi.DeviceUIDs1h] = 1 + bern(r, 0.05)
	f[abi.PaymentFailures1h] = poisson(r, 0.1)
	f[abi.PINFailures1h] = poisson(r, 0.05)
	f[abi.HoursSinceSensitiveChange] = -1
	if r.Float64() < 0.02 {
		f[abi.HoursSinceSensitiveChange] = math.Floor(200 * r.Float64())
	}
	f[abi.PaymentMethodCode] = float64(1 + r.IntN(abi.NumMethods-1))
	if r.Float64() < 0.7 {
		f[abi.PaymentMethodCode] = abi.MethodCard
	}
	f[abi.AccountAgeDays] = math.Floor(30 + 3000*r.Float64())
	if r.Float64() < 0.05 {
		f[abi.AccountAgeDays] = math.Floor(30 * r.Float64())
	}
	f[abi.HourOfDay] = float64(r.IntN(24))
	if f[abi.HourOfDay] < 6 && r.Float64() < 0.7 {
		f[abi.HourOfDay] += 8 // people mostly sleep at night
	}
	f[abi.VIP] = bern(r, 0.1)
	if r.Float64() < 0.06 { // a legitimate big purchase: a new phone, a trip
		f[abi.Amount] = mean * (3 + 30*r.Float64())
		f[abi.CategoryCode] = float64([]int{abi.CategoryPhone, abi.CategoryTravel, abi.CategoryElectronics}[r.IntN(3)])
		f[abi.HabitCategoryShare] = 0.05 * r.Float64()
	}
	if r.Float64() < 0.03 { // a busy, careless but honest user
		f[abi.UIDCount1h] += poisson(r, 4)
		f[abi.PaymentFailures1h] += poisson(r, 2)
	}
}

func takeover(r *rand.Rand, f *abi.Features) {
	f[abi.DeviceNew] = bern(r, 0.75)
	f[abi.IPForeign] = bern(r, 0.5)
	if r.Float64() < 0.6 {
		f[abi.HoursSinceSensitiveChange] = math.Floor(24 * r.Float64())
	}
	f[abi.Amount] = f[abi.HabitAmountMean] * (2 + 40*r.Float64())
	if r.Float64() < 0.8 {
		risky := []float64{abi.CategoryDigital, abi.CategoryGiftCard, abi.CategoryPhone, abi.CategoryJewellery,
			abi.CategoryElectronics}
		f[abi.CategoryCode] = risky[r.IntN(len(risky))]
		f[abi.HabitCategoryShare] = 0.03 * r.Float64()
	}
	if r.Float64() < 0.35 {
		f[abi.HourOfDay] = float64(r.IntN(6))
	}
	f[abi.VIP] = bern(r, 0.05)
}

func cardTesting(r *rand.Rand, f *abi.Features) {
	f[abi.Amount] = 1 + 10*r.Float64()
	f[abi.UIDCount1h] = 5 + poisson(r, 10)
	f[abi.PaymentFailures1h] = 3 + poisson(r, 4)
	f[abi.PINFailures1h] = poisson(r, 2)
	if r.Float64() < 0.5 {
		f[abi.PaymentMethodCode] = abi.MethodVirtualCard
	}
	if r.Float64() < 0.6 {
		f[abi.AccountAgeDays] = math.Floor(30 * r.Float64())
	}
	f[abi.DeviceNew] = bern(r, 0.3)
	f[abi.VIP] = 0
}

func mule(r *rand.Rand, f *abi.Features) {
	f[abi.DeviceUIDs1h] = float64(3 + r.IntN(10))
	if r.Float64() < 0.7 {
		f[abi.AccountAgeDays] = math.Floor(30 * r.Float64())
	}
	if r.Float64() < 0.5 {
		f[abi.CategoryCode] = abi.CategoryTransfer
	} else {
		f[abi.CategoryCode] = abi.CategoryCrypto
	}
	f[abi.HabitCategoryShare] = 0.1 * r.Float64()
	f[abi.Amount] = f[abi.HabitAmountMean] * (2 + 10*r.Float64())
	f[abi.VIP] = 0
}

func b(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
