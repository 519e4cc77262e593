package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Legitimate behaviour: what customers do day to day, and the things they
// do now and then that look like risk (travel with a new phone, a large
// purchase, a password reset before moving their salary).
var (
	dailyPayment = &Scenario{Name: "daily_payment", Label: Legit, Rate: 1.3,
		Doc:   "everyday purchases (order then payment) and till payments, at home, from the usual phone",
		build: buildDailyPayment}
	bigPurchase = &Scenario{Name: "big_purchase", Label: Legit, Rate: 0.02,
		Doc:   "now and then a phone, electronics, jewellery or a trip (order then payment)",
		build: func(b *builder) { buildPurchase(b, pick(b.r, bigCategories)) }}
	promotionBurst = &Scenario{Name: "promotion_burst", Label: Legit, Rate: 0.3 / 7,
		Doc:   "a promotion evening: two to four purchases 15-40 s apart",
		build: func(b *builder) { buildBurst(b, 2+b.r.IntN(3), [2]int{15, 40}, [2]int{5, 20}) }}
	bulkBuyer = &Scenario{Name: "promotion_bulk_buyer", Label: Legit, Rate: 0.003 / 7,
		Doc:   "a promotion evening: six to eight purchases paid within seconds each (more than 5 a minute: abuses velocity itself)",
		build: func(b *builder) { buildBurst(b, 6+b.r.IntN(3), [2]int{2, 4}, [2]int{2, 4}) }}
	salaryWithdrawal = &Scenario{Name: "salary_withdrawal", Label: Legit, Rate: 0.7 / 30,
		Doc:   "salary day: part of the salary moved to the customer's own bank account",
		build: buildSalary}
	repayment = &Scenario{Name: "repayment", Label: Legit, Rate: 0.25 / 30,
		Doc:   "a credit repaid on its day",
		build: func(b *builder) { b.repay(0, b.device(), b.a.Repayment) }}
	travelAbroad = &Scenario{Name: "travel_abroad", Label: Legit, Rate: 0.002 * 4,
		Doc:   "a trip abroad, often with a new phone: a login on arrival, then payments in the local currency",
		build: buildTravel}
	deviceChange = &Scenario{Name: "device_change", Label: Legit, Rate: 0.0015,
		Doc:   "a new phone at home: a login from it, then a purchase",
		build: buildDeviceChange}
	passwordReset = &Scenario{Name: "password_reset", Label: Legit, Rate: 0.0015,
		Doc:   "a forgotten password reset, a login, then a payment or a withdrawal of savings",
		build: buildPasswordReset}
	refund = &Scenario{Name: "refund", Label: Legit, Rate: 0.003,
		Doc:   "a refunded purchase moved back to the bank, often with the customer's own words about it",
		build: buildRefund}
	newPayee = &Scenario{Name: "new_payee", Label: Legit, Rate: 0.002,
		Doc:   "money sent to someone the customer never paid before (a new landlord, a relative, a school), now and then a second payment to them the same day",
		build: buildNewPayee}
)

func buildDailyPayment(b *builder) {
	dev := b.device()
	var delay time.Duration
	if b.r.Float64() < 0.25 {
		b.login(0, dev)
		delay = b.secs(10, 120)
	}
	c := pick(b.r, b.a.Categories)
	if b.r.Float64() < 0.6 {
		b.purchase(delay, dev, c, b.a.price(b.r, c))
		return
	}
	b.pay(delay, dev, c, b.a.price(b.r, c))
}

func buildPurchase(b *builder, category string) {
	b.purchase(0, b.device(), category, b.a.price(b.r, category))
}

// buildBurst makes n purchases of everyday goods, each order gap seconds
// after the previous payment and paid pay seconds after its order. A
// purchase that is not allowed does not stop the shopper: an order that
// is not allowed skips its payment, and the next item is a new order.
func buildBurst(b *builder, n int, gap, pay [2]int) {
	dev := b.device()
	b.payDelay = pay
	for i := range n {
		delay := time.Duration(0)
		if i > 0 {
			delay = b.secs(gap[0], gap[1])
		}
		c := pick(b.r, b.a.Categories)
		order, payment := b.purchase(delay, dev, c, b.a.price(b.r, c))
		order.keepGoing, order.skip = true, 1
		payment.keepGoing = true
	}
}

var purposes = []string{"savings", "rent", "family", "tuition"}

func buildSalary(b *builder) {
	dev := b.device()
	share := b.between(0.2, 0.6)
	b.withdraw(0, dev, b.a.Salary*share, purposes[b.r.IntN(len(purposes))], "")
}

func buildTravel(b *builder) {
	dev := b.device()
	if t := b.run.trip; t.arrival {
		// Arrival: log in (a new phone's first use abroad), then pay.
		b.login(0, dev)
		t.arrival = false
	}
	n := 1 + b.r.IntN(2)
	for i := range n {
		c := pick(b.r, []weighted{{"travel", 0.4}, {"daily_goods", 0.35}, {"groceries", 0.25}})
		delay := time.Duration(0)
		if i > 0 || len(b.e.ops) > 0 {
			delay = b.secs(30, 3600)
		}
		b.pay(delay, dev, c, b.a.price(b.r, c))
	}
}

func buildDeviceChange(b *builder) {
	dev := b.device()
	b.login(0, dev)
	c := pick(b.r, b.a.Categories)
	b.purchase(b.secs(30, 600), dev, c, b.a.price(b.r, c))
}

func buildPasswordReset(b *builder) {
	dev := b.device()
	b.event(0, "password_reset", dev.ID)
	b.login(b.secs(20, 120), dev)
	if b.r.Float64() < 0.3 {
		b.withdraw(b.secs(600, 6*3600), dev, b.between(2000, 6000)*b.a.Wealth, "savings", "")
		return
	}
	c := pick(b.r, b.a.Categories)
	b.pay(b.secs(60, 3*3600), dev, c, b.a.price(b.r, c))
}

// ordinaryStatements are what honest customers write about a refund, a
// complaint or their work (the examples among them).
var ordinaryStatements = []string{
	"我要退款，商品有质量问题",
	"I already contacted customer service about the late delivery",
	"远程办公用的笔记本电脑",
	"refund for a damaged parcel",
	"退款到我自己的银行卡",
	"the seller refunded my order",
	"商品退货退款",
	"customer-service confirmed the return",
	"moving my own money to my bank card",
	"refund of a cancelled flight",
}

var payeePurposes = []string{"rent", "family", "tuition", "family", ""}

func buildNewPayee(b *builder) {
	dev := b.device()
	to := b.newDestination(0)
	purpose := payeePurposes[b.r.IntN(len(payeePurposes))]
	b.withdraw(0, dev, math.Exp(b.between(math.Log(300), math.Log(8000)))*b.a.Wealth, purpose, to)
	if b.r.Float64() < 0.15 {
		// The deposit, then the first month; a gift, then another.
		b.withdraw(b.secs(600, 6*3600), dev, math.Exp(b.between(math.Log(300), math.Log(5000)))*b.a.Wealth, purpose, to)
	}
}

func buildRefund(b *builder) {
	o := b.withdraw(0, b.device(), b.between(80, 2500)*b.a.Wealth, "refund", "")
	if b.r.Float64() < 0.5 {
		o.req.Context = &wireContext{UserStatement: ordinaryStatements[b.r.IntN(len(ordinaryStatements))]}
	}
}

// localHours weighs the hours of a customer's local day.
var localHours = [24]float64{0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.4, 1, 1.5, 1.6, 1.6, 1.8, 2.2, 1.8, 1.5, 1.5, 1.6, 1.8, 2.2, 2.6, 2.8, 2.5, 1.8, 0.9}

// localTime draws a time of day d for a customer of tz, by localHours.
func localTime(r *rand.Rand, start time.Time, d, tz int) time.Time {
	total := 0.0
	for _, w := range localHours {
		total += w
	}
	x := r.Float64() * total
	h := 0
	for ; h < 23 && x >= localHours[h]; h++ {
		x -= localHours[h]
	}
	return start.Add(time.Duration(d*24+h-tz)*time.Hour + time.Duration(r.IntN(3600))*time.Second)
}

// poisson draws a Poisson count of mean m (m small).
func poisson(r *rand.Rand, m float64) int {
	l, k, p := math.Exp(-m), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// promotionDay is the day of the run with the promotion evening (the
// fourth, 11.11 in the default run), or the last of a shorter run.
func promotionDay(days int) int { return min(3, days-1) }

// planLegit returns the legitimate episodes customers start on day d.
func (s *sim) planLegit(d int) []*Episode {
	var out []*Episode
	date := s.cfg.Start.AddDate(0, 0, d)
	for _, a := range s.pop.Accounts {
		r := rand.New(rand.NewPCG(s.cfg.Seed, uint64(a.Index)<<24|uint64(d)<<4|0x3))
		st := &s.runs[a.Index]
		add := func(sc *Scenario, at time.Time) {
			s.seq++
			out = append(out, newEpisode(sc, s.pop, a, st, at, s.seq, rand.New(rand.NewPCG(s.cfg.Seed^s.seq, r.Uint64()))))
		}
		tz := a.Home.TZ
		if st.trip != nil && d > st.trip.lastDay {
			st.phone, st.trip = st.trip.phone, nil // back home, with the phone used abroad
		}
		if st.trip == nil && r.Float64() < 0.002 {
			to := foreignTo(r, a.Home.Code)
			t := &trip{to: to, lastDay: d + 1 + r.IntN(4), phone: st.phone, arrival: true}
			if r.Float64() < 0.4 {
				t.phone, t.newPhone = fmt.Sprintf("d-%06d-n%d", a.Index, d), true
			}
			st.trip = t
			tz = to.TZ
			add(travelAbroad, localTime(r, s.cfg.Start, d, tz))
		}
		if st.trip != nil {
			tz = st.trip.to.TZ
		}
		if st.trip == nil && r.Float64() < 0.0015 {
			st.phone = fmt.Sprintf("d-%06d-c%d", a.Index, d)
			add(deviceChange, localTime(r, s.cfg.Start, d, tz))
		}
		if st.trip == nil && r.Float64() < 0.0015 {
			add(passwordReset, localTime(r, s.cfg.Start, d, tz))
		}
		for range poisson(r, a.PaymentsPerDay) {
			if st.trip != nil {
				add(travelAbroad, localTime(r, s.cfg.Start, d, tz))
				continue
			}
			add(dailyPayment, localTime(r, s.cfg.Start, d, tz))
		}
		if st.trip == nil && r.Float64() < bigPurchase.Rate {
			add(bigPurchase, localTime(r, s.cfg.Start, d, tz))
		}
		if st.trip == nil && date.Day() == a.SalaryDay && r.Float64() < 0.7 {
			add(salaryWithdrawal, localTime(r, s.cfg.Start, d, tz))
		}
		if date.Day() == a.RepaymentDay {
			add(repayment, localTime(r, s.cfg.Start, d, tz))
		}
		if d == promotionDay(s.cfg.Days) && a.Shopper && st.trip == nil {
			// 20:00-21:00 local time.
			at := s.cfg.Start.Add(time.Duration(d*24+20-tz)*time.Hour + time.Duration(r.IntN(3600))*time.Second)
			if r.Float64() < 0.01 {
				add(bulkBuyer, at)
			} else {
				add(promotionBurst, at)
			}
		}
		if st.trip == nil && r.Float64() < refund.Rate {
			add(refund, localTime(r, s.cfg.Start, d, tz))
		}
		if st.trip == nil && r.Float64() < newPayee.Rate {
			add(newPayee, localTime(r, s.cfg.Start, d, tz))
		}
	}
	return out
}
