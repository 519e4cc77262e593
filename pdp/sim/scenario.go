package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Scenario is one kind of behaviour the simulator generates; every
// operation it makes carries its label.
type Scenario struct {
	Name  string
	Label Label
	// Doc says what the scenario does, for the report.
	Doc string
	// Rate is how many episodes one account starts a day on average (for
	// fraud: how many per account of the population), over a run: what
	// the load harness weighs scenarios by.
	Rate float64
	// build makes one episode for the account at the time.
	build func(b *builder)
}

// Scenarios lists every scenario, legitimate ones first, in the order of
// the report.
func Scenarios() []*Scenario { return scenarios }

// ScenarioByName returns the scenario called name, or nil.
func ScenarioByName(name string) *Scenario {
	for _, s := range scenarios {
		if s.Name == name {
			return s
		}
	}
	return nil
}

var scenarios = []*Scenario{
	dailyPayment, bigPurchase, promotionBurst, bulkBuyer, salaryWithdrawal, repayment, travelAbroad, deviceChange,
	passwordReset, refund, newPayee,
	accountTakeover, scamStatement, scamSilent, cardTesting, sharedDevice, reshipping, methodSwitching, muleCashout,
}

// accountRun is what changes about a customer during a run: the phone in
// use (a device change replaces it) and a trip abroad.
type accountRun struct {
	phone string
	trip  *trip
}

type trip struct {
	to       Country
	phone    string
	lastDay  int
	newPhone bool
	arrival  bool // the next travel episode is the arrival (a login first)
}

// builder makes the ops of one episode.
type builder struct {
	e   *Episode
	r   *rand.Rand
	a   *Account
	run *accountRun // nil: the account's usual phone, at home
	at  time.Time   // the episode's start
	n   int         // operations made, for their ids
	pop *Population
	// payDelay is how many seconds after its order a payment comes
	// (default 5-40).
	payDelay [2]int
}

// newEpisode starts an episode of scenario s for account a at at; seq
// names its operations and must be unique in a run.
func newEpisode(s *Scenario, pop *Population, a *Account, run *accountRun, at time.Time, seq uint64, r *rand.Rand) *Episode {
	e := &Episode{Scenario: s, Start: at, Seq: seq, r: r, actor: customer}
	b := &builder{e: e, r: r, a: a, run: run, at: at, pop: pop, payDelay: [2]int{5, 40}}
	s.build(b)
	return e
}

// device is where the account's owner operates from now: their phone (or
// tablet) at home, or their phone abroad on a trip.
func (b *builder) device() wireDevice {
	a := b.a
	phone := a.Phone
	if b.run != nil && b.run.phone != "" {
		phone = b.run.phone
	}
	if b.run != nil && b.run.trip != nil {
		t := b.run.trip
		return wireDevice{ID: t.phone, IP: fmt.Sprintf("198.51.100.%d", 1+a.Index%250), IPCountry: t.to.Code, OS: a.OS}
	}
	if a.Tablet != "" && b.r.Float64() < 0.2 {
		phone = a.Tablet
	}
	return wireDevice{ID: phone, IP: a.IP, IPCountry: a.Home.Code, OS: a.OS}
}

// currency is what the account pays in where it is.
func (b *builder) currency() string {
	if b.run != nil && b.run.trip != nil {
		return b.run.trip.to.Currency
	}
	return b.a.Home.Currency
}

// request starts a decide request of the account from dev.
func (b *builder) request(stage string, dev wireDevice) *wireRequest {
	return &wireRequest{Stage: stage, UID: b.a.UID, Device: dev,
		Account: wireAccount{HomeCountry: b.a.Home.Code, CreatedAt: b.a.CreatedAt.UTC().Format(time.RFC3339)}}
}

// add appends an op deciding req after delay.
func (b *builder) add(delay time.Duration, req *wireRequest, cny float64) *op {
	b.n++
	t := &Txn{UID: req.UID, Stage: req.Stage, Scenario: b.e.Scenario, Amount: cny,
		ref: fmt.Sprintf("t%d-%d", b.e.Seq, b.n)}
	if req.Txn != nil {
		req.Txn.ID = t.ref
		t.ID = t.ref
	}
	o := &op{delay: delay, req: req, txn: t}
	b.e.ops = append(b.e.ops, o)
	return o
}

// txn fills a transaction of cny (in CNY) in currency.
func (b *builder) txn(cny float64, currency string) (*wireTxn, float64) {
	amount, valued := inCurrency(cny, currency)
	return &wireTxn{Amount: amount, Currency: currency}, valued
}

// login decides a login from dev.
func (b *builder) login(delay time.Duration, dev wireDevice) *op {
	return b.add(delay, b.request("login", dev), 0)
}

// purchase is an order and, once it is allowed, its payment.
func (b *builder) purchase(delay time.Duration, dev wireDevice, category string, cny float64) (order, payment *op) {
	req := b.request("order", dev)
	t, valued := b.txn(cny, b.currency())
	t.Category, t.Merchant, t.PaymentMethod = category, fmt.Sprintf("m-%d", b.r.IntN(20000)), b.a.Method
	t.Instrument = b.instrument(t.PaymentMethod)
	t.ShipCountry = dev.IPCountry
	req.Txn = t
	order = b.add(delay, req, valued)
	pay := b.request("payment", dev)
	pt := *t
	pay.Txn = &pt
	payment = b.add(b.secs(b.payDelay[0], b.payDelay[1]), pay, valued)
	pt.ShipCountry = ""
	pt.OrderID = order.txn.ID
	payment.txn.OrderID = order.txn.ID
	if pt.PaymentMethod == "card" {
		pt.CardBIN = b.a.CardBIN
	}
	return order, payment
}

// pay is a payment without an order (a QR code at a till, a bill).
func (b *builder) pay(delay time.Duration, dev wireDevice, category string, cny float64) *op {
	req := b.request("payment", dev)
	t, valued := b.txn(cny, b.currency())
	t.Category, t.Merchant, t.PaymentMethod = category, fmt.Sprintf("m-%d", b.r.IntN(20000)), b.a.Method
	t.Instrument = b.instrument(t.PaymentMethod)
	if t.PaymentMethod == "card" {
		t.CardBIN = b.a.CardBIN
	}
	req.Txn = t
	return b.add(delay, req, valued)
}

// withdraw moves cny out of the account to its own bank account, or to
// another account when to is not "" (txn.instrument is the destination;
// txn.destination_new says whether the customer has paid it before).
func (b *builder) withdraw(delay time.Duration, dev wireDevice, cny float64, purpose, to string) *op {
	req := b.request("withdrawal", dev)
	t, valued := b.txn(cny, b.a.Home.Currency)
	t.Purpose, t.DestinationNew, t.PaymentMethod = purpose, boolPtr(to != ""), "bank"
	t.Instrument = b.instrument("bank")
	if to != "" {
		t.Instrument = to
	}
	req.Txn = t
	return b.add(delay, req, valued)
}

// newDestination names an account the episode sends money to for the
// first time (the k-th of the episode).
func (b *builder) newDestination(k int) string { return fmt.Sprintf("i-dest-%d-%d", b.e.Seq, k) }

// repay repays a credit.
func (b *builder) repay(delay time.Duration, dev wireDevice, cny float64) *op {
	req := b.request("repayment", dev)
	t, valued := b.txn(cny, b.a.Home.Currency)
	t.PaymentMethod = "bank"
	t.Instrument = b.instrument("bank")
	req.Txn = t
	return b.add(delay, req, valued)
}

// instrument is the fingerprint of the account's own instrument of the
// method (its card, its bank account, its balance).
func (b *builder) instrument(method string) string { return ownInstrument(b.a.UID, method) }

func ownInstrument(uid, method string) string { return "i-" + uid + "-" + method }

// event reports an account event after delay.
func (b *builder) event(delay time.Duration, kind, device string) {
	b.e.ops = append(b.e.ops, &op{delay: delay, event: &wireEvent{UID: b.a.UID, Kind: kind, DeviceID: device}})
}

// secs draws a delay between lo and hi seconds.
func (b *builder) secs(lo, hi int) time.Duration {
	return time.Duration(lo+b.r.IntN(hi-lo+1)) * time.Second
}

// between draws a uniform amount in [lo, hi).
func (b *builder) between(lo, hi float64) float64 { return lo + b.r.Float64()*(hi-lo) }
