package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// Country is a home market or a travel destination.
type Country struct {
	Code     string // ISO 3166 alpha-2, as device.ip_country and account.home_country
	Currency string // ISO 4217
	// TZ is the local time's offset from UTC in hours: people pay by day.
	TZ int
}

// Rates are what one unit of each currency is worth in CNY: the reference
// policy's rates (policies/riskpdp/config/data.json; a test keeps them
// equal). The report values every amount at these rates, whatever the
// policy under test says, so that a candidate policy cannot change what
// an amount of fraud is worth.
var Rates = map[string]float64{"CNY": 1, "USD": 7.1, "EUR": 7.8, "SGD": 5.3, "HKD": 0.91, "MOP": 0.88, "TWD": 0.22,
	"JPY": 0.048, "KRW": 0.0052, "THB": 0.2, "VND": 0.00028, "MYR": 1.6, "GBP": 9.1, "AUD": 4.7}

// homes are the accounts' home markets with their share of the population.
var homes = []struct {
	Country
	share float64
}{
	{Country{"CN", "CNY", 8}, 0.80},
	{Country{"HK", "HKD", 8}, 0.06},
	{Country{"SG", "SGD", 8}, 0.05},
	{Country{"US", "USD", -5}, 0.05},
	{Country{"DE", "EUR", 1}, 0.04},
}

// abroad are travel destinations and the countries fraud is run from,
// besides the home markets.
var abroad = []Country{
	{"JP", "JPY", 9}, {"TH", "THB", 7}, {"VN", "VND", 7}, {"MY", "MYR", 8}, {"GB", "GBP", 0}, {"FR", "EUR", 1},
	{"HK", "HKD", 8}, {"SG", "SGD", 8}, {"US", "USD", -5}, {"DE", "EUR", 1}, {"CN", "CNY", 8},
}

// foreignTo draws a country other than home.
func foreignTo(r *rand.Rand, home string) Country {
	for {
		if c := abroad[r.IntN(len(abroad))]; c.Code != home {
			return c
		}
	}
}

// Everyday categories and their typical price (CNY, log-normal median and
// sigma): what people buy day to day, and what they buy now and then.
var (
	dailyCategories = []weighted{{"daily_goods", 0.45}, {"groceries", 0.30}, {"digital", 0.13}, {"gift_card", 0.04}, {"travel", 0.08}}
	bigCategories   = []weighted{{"electronics", 0.45}, {"phone", 0.25}, {"travel", 0.20}, {"jewellery", 0.10}}
	categoryPrice   = map[string][2]float64{
		"daily_goods": {45, 0.8}, "groceries": {80, 0.7}, "digital": {120, 0.9}, "gift_card": {150, 0.5},
		"travel": {600, 0.8}, "electronics": {2500, 0.6}, "phone": {4500, 0.35}, "jewellery": {3500, 0.7},
	}
	methods = []weighted{{"card", 0.5}, {"balance", 0.35}, {"bank", 0.15}}
	osNames = []string{"android", "ios", "harmonyos"}
)

type weighted struct {
	name   string
	weight float64
}

// pick draws a name by weight (the weights need not sum to 1).
func pick(r *rand.Rand, ws []weighted) string {
	total := 0.0
	for _, w := range ws {
		total += w.weight
	}
	x := r.Float64() * total
	for _, w := range ws {
		if x < w.weight {
			return w.name
		}
		x -= w.weight
	}
	return ws[len(ws)-1].name
}

// Account is one simulated customer: who they are and their habits. The
// same seed and index always give the same account.
type Account struct {
	Index     int
	UID       string
	Home      Country
	CreatedAt time.Time
	// VIP accounts are on the sidecar's VIP list (written when the state
	// is primed).
	VIP bool
	// Phone is the device the customer uses; IP its usual address at
	// home. Tablet, when not "", is a second known device.
	Phone, Tablet, IP, OS string
	// Wealth scales every amount the customer spends (log-normal around 1).
	Wealth float64
	// Categories are the customer's everyday categories, by weight.
	Categories []weighted
	// Method is the usual payment method; CardBIN the card's BIN.
	Method, CardBIN string
	// PaymentsPerDay is the mean number of everyday purchases a day.
	PaymentsPerDay float64
	// Salary (CNY a month) arrives on SalaryDay of the month; the customer
	// moves part of it out that day.
	Salary    float64
	SalaryDay int
	// RepaymentDay is the day of the month a credit is repaid (0: none);
	// Repayment its amount in CNY.
	RepaymentDay int
	Repayment    float64
	// Shopper customers take part in the promotion.
	Shopper bool
}

// newAccount derives account i of the population from the seed.
func newAccount(seed uint64, i int, start time.Time) *Account {
	r := rand.New(rand.NewPCG(seed, uint64(i)<<8|0x11))
	a := &Account{Index: i, UID: fmt.Sprintf("u-%06d", i)}
	x := r.Float64()
	for _, h := range homes {
		a.Home = h.Country
		if x < h.share {
			break
		}
		x -= h.share
	}
	// Account ages: a few days to eight years, most between one and five.
	days := math.Min(2900, math.Max(2, math.Exp(r.NormFloat64()*0.9+6.3)))
	a.CreatedAt = start.Add(-time.Duration(days*24) * time.Hour).Truncate(time.Second)
	a.VIP = r.Float64() < 0.01
	a.Phone = fmt.Sprintf("d-%06d-p", i)
	if r.Float64() < 0.2 {
		a.Tablet = fmt.Sprintf("d-%06d-t", i)
	}
	a.IP = fmt.Sprintf("100.%d.%d.%d", 64+i%64, (i/64)%256, 1+(i/16384)%254)
	a.OS = osNames[r.IntN(len(osNames))]
	a.Wealth = math.Exp(0.45 * r.NormFloat64())
	// Each customer leans towards some everyday categories.
	for _, c := range dailyCategories {
		a.Categories = append(a.Categories, weighted{c.name, c.weight * math.Exp(0.8*r.NormFloat64())})
	}
	a.Method = pick(r, methods)
	a.CardBIN = fmt.Sprintf("%d", 400000+r.IntN(200000))
	a.PaymentsPerDay = math.Min(6, math.Exp(0.6*r.NormFloat64()+0.1))
	a.Salary = 9000 * a.Wealth * math.Exp(0.3*r.NormFloat64())
	a.SalaryDay = 1 + r.IntN(28)
	if r.Float64() < 0.25 {
		a.RepaymentDay = 1 + r.IntN(28)
		a.Repayment = 300 + r.Float64()*4000*a.Wealth
	}
	a.Shopper = r.Float64() < 0.3
	return a
}

// ageDays is the account's age at t in whole days.
func (a *Account) ageDays(t time.Time) int { return int(t.Sub(a.CreatedAt).Hours() / 24) }

// price draws an amount in CNY for a category, scaled by the customer's
// wealth.
func (a *Account) price(r *rand.Rand, category string) float64 {
	p := categoryPrice[category]
	return p[0] * a.Wealth * math.Exp(p[1]*r.NormFloat64())
}

// Population is the simulated customers, the mule accounts fraud rings
// control (aged accounts bought or rented from their owners), and the
// time the sidecar's state is primed for.
type Population struct {
	Accounts []*Account
	Mules    []*Account
	Start    time.Time
	seed     uint64
}

// NewPopulation makes n customers and n/100 (at least 20) mule accounts.
func NewPopulation(seed uint64, n int, start time.Time) *Population {
	p := &Population{Start: start, seed: seed}
	for i := range n {
		p.Accounts = append(p.Accounts, newAccount(seed, i, start))
	}
	for i := range max(20, n/100) {
		m := newAccount(seed^0x6d756c65, i, start)
		m.UID = fmt.Sprintf("m-%05d", i)
		m.Phone = fmt.Sprintf("d-m%05d-p", i)
		m.Tablet = ""
		m.VIP, m.Shopper = false, false
		p.Mules = append(p.Mules, m)
	}
	return p
}

// prime writes into st what a sidecar that had been serving these
// customers for months would know at the start: the VIP list, and for
// every customer and mule account when it was first seen, its known
// devices, its own bank account as a known destination and its spending
// habit (learnt from amounts drawn as the customer spends). Without it every first operation of the run would
// come from an "unknown device" of an account "never seen".
func (p *Population) prime(ctx context.Context, st *state.Store) error {
	actor := pdp.Actor{Operator: "sim", Reason: "simulated history", Ticket: "SIM"}
	var vips []pdp.ListEntry
	for _, a := range p.Accounts {
		if a.VIP {
			vips = append(vips, pdp.ListEntry{List: pdp.ListVIP, Subject: pdp.SubjectUID, Value: a.UID,
				Reason: "simulated VIP", Created: p.Start.Add(-24 * time.Hour), Actor: actor})
		}
	}
	if len(vips) > 0 {
		if err := st.PutListEntries(ctx, vips, pdp.AuditRecord{At: p.Start, Actor: actor}); err != nil {
			return fmt.Errorf("prime vip list: %w", err)
		}
	}
	for _, group := range [][]*Account{p.Accounts, p.Mules} {
		for _, a := range group {
			first, devices, habit := p.history(a)
			// The customer's own bank account: where salaries and
			// refunds went before.
			own := []pdp.KnownDestination{{ID: ownInstrument(a.UID, "bank"), FirstSeen: first, LastSeen: devices[0].LastSeen}}
			_, err := st.UpdateAccount(ctx, a.UID, state.Async, nil, func(s *pdp.AccountState) error {
				s.FirstSeen, s.Devices, s.Habit, s.Destinations = first, devices, habit, own
				return nil
			})
			if err != nil {
				return fmt.Errorf("prime %s: %w", a.UID, err)
			}
		}
	}
	return st.Flush(ctx)
}

// history is what the sidecar would know of an account after months of
// traffic: when it first saw it, its devices, its spending habit (from
// amounts drawn as the customer spends).
func (p *Population) history(a *Account) (first time.Time, devices []pdp.KnownDevice, habit pdp.Habit) {
	r := rand.New(rand.NewPCG(p.seed, uint64(a.Index)<<8|0x22))
	first = a.CreatedAt
	if limit := p.Start.Add(-180 * 24 * time.Hour); first.Before(limit) {
		first = limit // the sidecar has been running for six months
	}
	seen := p.Start.Add(-time.Duration(1+r.IntN(48)) * time.Hour)
	devices = append(devices, pdp.KnownDevice{ID: a.Phone, FirstSeen: first, LastSeen: seen})
	if a.Tablet != "" {
		devices = append(devices, pdp.KnownDevice{ID: a.Tablet, FirstSeen: first, LastSeen: seen.Add(-72 * time.Hour)})
	}
	n := min(60, int(float64(a.ageDays(p.Start))*a.PaymentsPerDay))
	for range n {
		c := pick(r, a.Categories)
		habit.Observe(roundCNY(a.price(r, c)), c)
	}
	return first, devices, habit
}

func roundCNY(x float64) float64 { return math.Round(x*100) / 100 }
