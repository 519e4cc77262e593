package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"
)

// Fraud: the source procedures' patterns. Fraudsters mostly fail or
// abandon step-ups; scam victims are the real customers and pass theirs
// (the scammer is on the phone with them), which is why a scam must be
// denied, not verified. Rates are per account of the population and day.
var (
	accountTakeover = &Scenario{Name: "account_takeover", Label: Fraud, Rate: 0.6e-3,
		Doc:   "a phone-number change or password reset by the fraudster, a login from a new device (abroad, or at home), then a large withdrawal to a new destination (and a smaller one when that fails)",
		build: buildTakeover}
	scamStatement = &Scenario{Name: "scam_with_statement", Label: Fraud, Rate: 0.3e-3,
		Doc:   "a scam-guided transfer from the victim's own phone that says so: the victim's words, the app's third-party-guidance answer or a detected remote-control app; coached to try again smaller without it",
		build: buildScamStatement}
	scamSilent = &Scenario{Name: "scam_silent", Label: Fraud, Rate: 0.3e-3,
		Doc:   "a scam-guided transfer from the victim's own phone with nothing said: a large withdrawal to a new destination, sometimes split in two",
		build: buildScamSilent}
	cardTesting = &Scenario{Name: "card_testing", Label: Fraud, Rate: 0.15e-3,
		Doc:   "a new account on a fresh device: bursts of tiny payments with stolen cards, most declined by the issuer, then gift cards bought with the cards that work",
		build: buildCardTesting}
	sharedDevice = &Scenario{Name: "shared_device", Label: Fraud, Rate: 0.08e-3,
		Doc:   "one device logs into six to twelve young accounts within an hour, each buying gift cards or electronics",
		build: buildSharedDevice}
	reshipping = &Scenario{Name: "reshipping", Label: Fraud, Rate: 0.3e-3,
		Doc:   "phones, jewellery or electronics ordered from an unfamiliar device and shipped abroad to a reshipper",
		build: buildReshipping}
	methodSwitching = &Scenario{Name: "method_switching", Label: Fraud, Rate: 0.2e-3,
		Doc:   "one order paid by switching payment methods (cards, bank, balance, a virtual card) after each decline",
		build: buildMethodSwitching}
	muleCashout = &Scenario{Name: "mule_cashout", Label: Fraud, Rate: 0.3e-3,
		Doc:   "a mule account moves the money it received out in several withdrawals to new destinations within hours",
		build: buildMuleCashout}
)

// fresh makes an account a fraud ring opened (or bought) ageLo-ageHi days
// before at: never seen by the sidecar, on a device of its own, at home
// in China.
func (b *builder) fresh(k, ageLo, ageHi int) *Account {
	age := time.Duration(ageLo*24*3600+b.r.IntN((ageHi-ageLo)*24*3600+1)) * time.Second
	return &Account{Index: -1, UID: fmt.Sprintf("f-%d-%d", b.e.Seq, k), Home: homes[0].Country,
		CreatedAt: b.at.Add(-age).Truncate(time.Second), Phone: fmt.Sprintf("d-f%d-%d", b.e.Seq, k),
		IP: fmt.Sprintf("100.100.%d.%d", b.e.Seq%250, 1+k%250), OS: osNames[b.r.IntN(len(osNames))],
		Wealth: 1, Method: "card", CardBIN: fmt.Sprintf("%d", 400000+b.r.IntN(200000))}
}

// fraudDevice is the fraudster's own device, from abroad (foreign) or
// from a domestic IP.
func (b *builder) fraudDevice(foreign bool) wireDevice {
	d := wireDevice{ID: fmt.Sprintf("d-x%d", b.e.Seq), IP: fmt.Sprintf("203.0.113.%d", 1+b.r.IntN(254)),
		IPCountry: b.a.Home.Code, OS: osNames[b.r.IntN(len(osNames))]}
	if foreign {
		d.IPCountry = foreignTo(b.r, b.a.Home.Code).Code
	}
	return d
}

func buildTakeover(b *builder) {
	// Most takeovers come from abroad; some from a new device at home.
	dev := b.fraudDevice(b.r.Float64() < 0.7)
	b.e.actor = actor{abandon: 0.35, pass: map[string]float64{"face": 0.03, "sms": 0.15}}
	if b.r.Float64() < 0.6 {
		// With the phone number changed, the SMS codes go to the fraudster.
		b.event(0, "phone_change", dev.ID)
		b.e.actor.pass["sms"] = 0.8
	} else {
		b.event(0, "password_reset", dev.ID)
	}
	// The reset flow gives the fraudster a session: a login check they
	// fail does not end the attempt, the withdrawal is decided anyway.
	b.login(b.secs(300, 3600), dev).keepGoing = true
	// Both withdrawals go to the fraudster's account.
	to := b.newDestination(0)
	big := b.withdraw(b.secs(60, 600), dev, math.Exp(b.between(math.Log(3000), math.Log(40000))), "", to)
	big.keepGoing = true
	if b.r.Float64() < 0.6 {
		small := b.withdraw(b.secs(60, 900), dev, b.between(800, 3000), "", to)
		small.keepGoing = true
	}
}

// scamStatements are what scam victims say, or are told to say; some use
// words the reference policy's keywords do not know.
var scamStatements = []string{
	"customer service told me to move my money to a safe account",
	"客服让我把钱转到安全账户",
	"the police said my account is under investigation and I must transfer it",
	"公检法说我涉嫌洗钱，要配合调查转账",
	"a refund agent asked me to pay a fee first to get my refund",
	"对方让我下载屏幕共享软件操作",
	"someone on the phone is guiding me over the phone to transfer",
	"共享屏幕，按照指导转账",
	"the bank's security team asked me to move the money",
	"对方说是平台工作人员，让我先转账解冻",
}

func buildScamStatement(b *builder) {
	b.e.actor = actor{abandon: 0.1, pass: map[string]float64{"": 1}}
	dev := b.device()
	// The scammer's account receives the transfer, and its retry.
	to := b.newDestination(0)
	o := b.withdraw(0, dev, math.Exp(b.between(math.Log(2000), math.Log(50000))), "", to)
	o.keepGoing = true
	c := &wireContext{}
	switch x := b.r.Float64(); {
	case x < 0.5:
		c.UserStatement = scamStatements[b.r.IntN(len(scamStatements))]
	case x < 0.75:
		c.ThirdPartyGuidance = true
	default:
		c.RemoteAssistance = true
	}
	o.req.Context = c
	if b.r.Float64() < 0.5 {
		// Coached: try again smaller, without saying anything.
		again := b.withdraw(b.secs(300, 1800), dev, b.between(1000, 5000), "", to)
		again.keepGoing = true
	}
}

func buildScamSilent(b *builder) {
	b.e.actor = actor{abandon: 0.1, pass: map[string]float64{"": 1}}
	dev := b.device()
	total := math.Exp(b.between(math.Log(1000), math.Log(30000)))
	purpose := []string{"", "investment", "family"}[b.r.IntN(3)]
	to := b.newDestination(0)
	if b.r.Float64() < 0.4 {
		// Split in two, to the same account.
		first := b.withdraw(0, dev, total*0.5, purpose, to)
		first.keepGoing = true
		b.withdraw(b.secs(120, 1200), dev, total*0.5, purpose, to)
		return
	}
	b.withdraw(0, dev, total, purpose, to)
}

func buildCardTesting(b *builder) {
	b.e.actor = actor{abandon: 0.6, pass: map[string]float64{"face": 0.03, "sms": 0.5}}
	b.a = b.fresh(0, 0, 3)
	dev := wireDevice{ID: b.a.Phone, IP: b.a.IP, IPCountry: "CN", OS: b.a.OS, Proxy: b.r.Float64() < 0.3}
	n := 8 + b.r.IntN(8)
	for i := range n {
		delay := time.Duration(0)
		if i > 0 {
			delay = b.secs(3, 15)
		}
		o := b.pay(delay, dev, []string{"gift_card", "digital"}[b.r.IntN(2)], b.between(1, 30))
		o.req.Txn.PaymentMethod, o.req.Txn.CardBIN = "card", fmt.Sprintf("%d", 400000+b.r.IntN(200000))
		o.req.Txn.Instrument = fmt.Sprintf("i-stolen-%d-%d", b.e.Seq, i)
		o.declined = b.r.Float64() < 0.7
		o.keepGoing = true
	}
	for range 1 + b.r.IntN(2) {
		o := b.pay(b.secs(60, 600), dev, "gift_card", b.between(300, 2000))
		// One of the cards that worked.
		o.req.Txn.PaymentMethod = "card"
		o.req.Txn.Instrument = fmt.Sprintf("i-stolen-%d-%d", b.e.Seq, b.r.IntN(n))
		o.keepGoing = true
	}
}

func buildSharedDevice(b *builder) {
	b.e.actor = actor{abandon: 0.5, pass: map[string]float64{"face": 0.05, "sms": 0.3}}
	first := b.fresh(0, 1, 30)
	b.a = first
	dev := wireDevice{ID: first.Phone, IP: first.IP, IPCountry: "CN", OS: first.OS}
	// The ring pays with a few stolen cards across its accounts.
	cards := 1 + b.r.IntN(3)
	for k := range 6 + b.r.IntN(7) {
		b.a = b.fresh(k, 1, 30)
		delay := time.Duration(0)
		if k > 0 {
			delay = b.secs(60, 420)
		}
		b.login(delay, dev).keepGoing = true
		c := []string{"gift_card", "digital", "electronics"}[b.r.IntN(3)]
		o := b.pay(b.secs(20, 120), dev, c, b.between(200, 2000))
		o.req.Txn.PaymentMethod = "card"
		o.req.Txn.Instrument = fmt.Sprintf("i-ring-%d-%d", b.e.Seq, k%cards)
		o.keepGoing = true
	}
}

func buildReshipping(b *builder) {
	b.e.actor = actor{abandon: 0.5, pass: map[string]float64{"face": 0.03, "sms": 0.25}}
	b.a = b.fresh(0, 20, 400)
	dev := b.fraudDevice(b.r.Float64() < 0.3)
	dev.ID = b.a.Phone
	for i := range 1 + b.r.IntN(2) {
		delay := time.Duration(0)
		if i > 0 {
			delay = b.secs(120, 1800)
		}
		c := []string{"phone", "jewellery", "electronics"}[b.r.IntN(3)]
		order, payment := b.purchase(delay, dev, c, b.between(4000, 30000))
		order.req.Txn.ShipCountry = foreignTo(b.r, "CN").Code
		order.keepGoing, order.skip = true, 1
		payment.keepGoing = true
	}
}

func buildMethodSwitching(b *builder) {
	b.e.actor = actor{abandon: 0.6, pass: map[string]float64{"face": 0.05, "sms": 0.3}}
	b.a = b.fresh(0, 5, 200)
	dev := wireDevice{ID: b.a.Phone, IP: b.a.IP, IPCountry: "CN", OS: b.a.OS}
	c := []string{"digital", "electronics", "gift_card"}[b.r.IntN(3)]
	cny := b.between(300, 3000)
	order, _ := b.purchase(0, dev, c, cny)
	b.e.ops = b.e.ops[:1] // the order; its payments follow, one method after another
	n := 4 + b.r.IntN(4)
	methods := []string{"card", "card", "bank", "balance", "card", "virtual_card", "card"}
	for i := range n {
		o := b.pay(b.secs(10, 60), dev, c, cny)
		o.req.Txn.PaymentMethod = methods[i]
		o.req.Txn.OrderID = order.txn.ID
		o.txn.OrderID = order.txn.ID
		o.req.Txn.Instrument = fmt.Sprintf("i-sw-%d-%d", b.e.Seq, i)
		if methods[i] == "card" {
			o.req.Txn.CardBIN = fmt.Sprintf("%d", 400000+b.r.IntN(200000))
		}
		o.declined = i < n-1
		o.keepGoing = true
	}
}

func buildMuleCashout(b *builder) {
	b.e.actor = actor{abandon: 0.3, pass: map[string]float64{"face": 0.5, "sms": 0.8}}
	dev := b.device()
	for i := range 3 + b.r.IntN(4) {
		delay := time.Duration(0)
		if i > 0 {
			delay = b.secs(300, 1500)
		}
		// Each withdrawal to another account of the ring.
		o := b.withdraw(delay, dev, b.between(2000, 9000), []string{"", "family"}[b.r.IntN(2)], b.newDestination(i))
		o.keepGoing = true
	}
}

// fraudCount is how many episodes of fraud scenario s a run makes: its
// rate over the population and the days, and at least min, so that every
// scenario's figures rest on enough operations in a small run too.
func fraudCount(s *Scenario, accounts, days, min int) int {
	return max(min, int(math.Round(s.Rate*float64(accounts)*float64(days))))
}

// planFraud returns the fraud episodes that start on day d. Victims are
// customers of the population, mule cash-outs use the mule accounts, the
// other scenarios open accounts of their own.
func (s *sim) planFraud(d int) []*Episode {
	var out []*Episode
	for _, sc := range scenarios {
		if sc.Label != Fraud {
			continue
		}
		n := fraudCount(sc, len(s.pop.Accounts), s.cfg.Days, s.cfg.FraudMin)
		// Spread evenly over the days: day d gets its share.
		k := n/s.cfg.Days + btoi(d < n%s.cfg.Days)
		r := rand.New(rand.NewPCG(s.cfg.Seed, nameHash(sc.Name)<<8|uint64(d)))
		for range k {
			at := s.cfg.Start.Add(time.Duration(d*24*3600+r.IntN(24*3600)) * time.Second)
			var a *Account
			var run *accountRun
			switch sc {
			case muleCashout:
				a = s.pop.Mules[r.IntN(len(s.pop.Mules))]
			default:
				a = s.pop.Accounts[r.IntN(len(s.pop.Accounts))]
				run = &s.runs[a.Index]
				if run.trip != nil {
					run = &accountRun{phone: run.phone} // the victim at home
				}
			}
			s.seq++
			out = append(out, newEpisode(sc, s.pop, a, run, at, s.seq, rand.New(rand.NewPCG(s.cfg.Seed^s.seq, r.Uint64()))))
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
