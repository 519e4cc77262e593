package sim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Label says whether an operation is legitimate or fraud: what the
// scenario that generated it is.
type Label uint8

// Labels.
const (
	Legit Label = iota + 1
	Fraud
)

func (l Label) String() string {
	if l == Fraud {
		return "fraud"
	}
	return "legit"
}

// CallKind is the sidecar endpoint a call goes to.
type CallKind uint8

// Call kinds.
const (
	CallDecide  CallKind = iota + 1 // POST /v1/decide
	CallVerify                      // POST /v1/verifications
	CallEvent                       // POST /v1/events
	CallOutcome                     // POST /v1/outcomes
)

// Path is the HTTP path of the call's endpoint.
func (k CallKind) Path() string {
	switch k {
	case CallVerify:
		return "/v1/verifications"
	case CallEvent:
		return "/v1/events"
	case CallOutcome:
		return "/v1/outcomes"
	}
	return "/v1/decide"
}

// Call is one request an episode makes of the sidecar.
type Call struct {
	Kind CallKind
	Body []byte
	// Delay is the simulated time between the previous call's answer and
	// this call (a load harness, which compresses time, ignores it).
	Delay time.Duration
	// Txn is the operation a decide call is about (a login too); nil for
	// verifications, events and outcomes.
	Txn *Txn
	// Retry is set on a decide call that repeats an operation after its
	// step-up was answered.
	Retry bool
}

// Answer is what the episode needs of a decide answer.
type Answer struct {
	Outcome     string
	Reasons     []string
	ChallengeID string
	Methods     []string
	// Freeze is set when the decision froze or restricted the account (an
	// obligation; known in process only, the HTTP answer does not say).
	Freeze bool
}

// ParseAnswer decodes the HTTP answer of POST /v1/decide.
func ParseAnswer(body []byte) (Answer, error) {
	var w struct {
		Outcome string   `json:"outcome"`
		Reasons []string `json:"reasons"`
		StepUp  *struct {
			Methods     []string `json:"methods"`
			ChallengeID string   `json:"challenge_id"`
		} `json:"step_up"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return Answer{}, err
	}
	a := Answer{Outcome: w.Outcome, Reasons: w.Reasons}
	if w.StepUp != nil {
		a.Methods, a.ChallengeID = w.StepUp.Methods, w.StepUp.ChallengeID
	}
	switch a.Outcome {
	case "allow", "deny":
	case "step_up":
		if a.ChallengeID == "" || len(a.Methods) == 0 {
			return a, fmt.Errorf("step_up answer without a challenge: %.200s", body)
		}
	default:
		return a, fmt.Errorf("no outcome in %.200s", body)
	}
	return a, nil
}

// Txn is one operation of the simulation (a transaction, or a login when
// ID is ""), with its label and, once run, what the sidecar made of it.
type Txn struct {
	ID       string
	UID      string
	Stage    string
	Scenario *Scenario
	// Amount in CNY at Rates; 0 for a login.
	Amount float64
	// OrderID is the order a payment pays ("" for everything else): the
	// order and its payment are one purchase.
	OrderID string

	// What happened, filled in as its calls are answered.
	Decisions int
	SteppedUp bool // some decision was step_up
	Denied    bool // some decision was deny
	Final     string
	// Caught is the outcome (step_up or deny) of the first decision that
	// was not allow, "" when every decision was allow.
	Caught string
	// Reasons of the first decision that was not allow (friction or
	// catch), or of the final allow when there was none.
	Reasons []string
	Froze   bool // a decision on it froze the account
	// Abandoned: a step-up was not answered (the actor gave up).
	Abandoned bool
	// At is the time of the first decision (set by the runner).
	At time.Time

	ref string // unique name, in request ids (logins have no ID)
}

// Allowed reports whether the operation ended allowed.
func (t *Txn) Allowed() bool { return t.Final == "allow" }

// observe folds a decide answer into the operation.
func (t *Txn) observe(a *Answer) {
	t.Decisions++
	t.Final = a.Outcome
	switch a.Outcome {
	case "step_up":
		t.SteppedUp = true
	case "deny":
		t.Denied = true
	}
	if a.Freeze {
		t.Froze = true
	}
	switch {
	case a.Outcome != "allow" && t.Caught == "":
		t.Reasons, t.Caught = append([]string(nil), a.Reasons...), a.Outcome
	case t.Caught == "":
		t.Reasons = append([]string(nil), a.Reasons...)
	}
}

// actor is how the person behind an episode answers step-ups: the chance
// of passing each method, and of giving up without trying.
type actor struct {
	abandon float64
	pass    map[string]float64 // by method; "" is the default
}

// customer passes every check (the issue's "simulated users pass their
// step-ups").
var customer = actor{pass: map[string]float64{"": 1}}

// respond draws the results of the methods; abandon is true when the
// actor does not answer at all.
func (a actor) respond(r *rand.Rand, methods []string) (results []string, abandon bool) {
	if r.Float64() < a.abandon {
		return nil, true
	}
	for _, m := range methods {
		p, ok := a.pass[m]
		if !ok {
			p = a.pass[""]
		}
		res := "passed"
		if r.Float64() >= p {
			res = "failed"
		}
		results = append(results, res)
	}
	return results, false
}

// op is one step of an episode: an account event, or an operation to
// decide (retried after its step-up is answered).
type op struct {
	delay time.Duration // after the previous step
	event *wireEvent
	req   *wireRequest
	txn   *Txn
	// declined: once allowed, the payment fails at the issuer and the
	// service reports it failed (card testing); every other allowed money
	// movement is reported completed.
	declined bool
	// keepGoing: the episode goes on when this operation is not allowed
	// (fraud that tries again, a shopper's next item), skipping the skip
	// ops that follow (an order's payment); otherwise it ends there (an
	// order that is not allowed is not paid).
	keepGoing bool
	skip      int
}

// Episode is one thing a person does (a purchase, a withdrawal, an
// account takeover...): a sequence of calls, each depending on the
// answers before it. Next is driven by the in-process runner and by the
// load harness alike.
type Episode struct {
	Scenario *Scenario
	Start    time.Time
	// Seq orders episodes that start at the same time.
	Seq uint64

	ops   []*op
	actor actor
	r     *rand.Rand

	i       int // current op
	phase   phase
	ans     Answer
	results []string
	m       int // next method to report
	rounds  int // step-ups answered for the current op
	attempt int // decide calls for the current op
}

type phase uint8

const (
	phaseStart phase = iota
	phaseDecided
	phaseVerifying
	phaseSettled
	phaseDone
)

// maxRounds bounds the step-ups answered for one operation; a further one
// is abandoned.
const maxRounds = 2

// Next returns the episode's next call given the answer to the previous
// one (nil for the first call, and after verifications and events), or
// false when the episode is over.
func (e *Episode) Next(prev *Answer) (Call, bool) {
	for {
		switch e.phase {
		case phaseDone:
			return Call{}, false
		case phaseStart:
			if e.i >= len(e.ops) {
				e.phase = phaseDone
				continue
			}
			o := e.ops[e.i]
			e.rounds, e.attempt = 0, 0
			if o.event != nil {
				e.i++
				return Call{Kind: CallEvent, Body: o.event.body(), Delay: o.delay}, true
			}
			e.phase = phaseDecided
			return e.decide(o, o.delay, ""), true
		case phaseDecided:
			o := e.ops[e.i]
			if prev == nil {
				panic("sim: a decide call needs its answer")
			}
			switch prev.Outcome {
			case "allow":
				if settles(o.req) {
					// The payment service reports what became of it.
					e.phase = phaseSettled
					status := "completed"
					if o.declined {
						status = "failed"
					}
					return Call{Kind: CallOutcome, Delay: time.Duration(1+e.r.IntN(3)) * time.Second,
						Body: (&wireOutcome{UID: o.req.UID, TxnID: o.req.Txn.ID, Status: status, Amount: o.req.Txn.Amount, Currency: o.req.Txn.Currency}).body()}, true
				}
				e.advance()
			case "step_up":
				if e.rounds >= maxRounds {
					o.txn.Abandoned = true
					e.fail(o)
					continue
				}
				results, abandon := e.actor.respond(e.r, prev.Methods)
				if abandon {
					o.txn.Abandoned = true
					e.fail(o)
					continue
				}
				e.ans, e.results, e.m = *prev, results, 0
				e.rounds++
				e.phase = phaseVerifying
				// Face or SMS takes a person some seconds.
				return e.verify(time.Duration(10+e.r.IntN(50)) * time.Second), true
			default:
				e.fail(o)
			}
		case phaseVerifying:
			if e.m < len(e.results) {
				return e.verify(time.Duration(2+e.r.IntN(8)) * time.Second), true
			}
			e.phase = phaseDecided
			return e.decide(e.ops[e.i], time.Duration(1+e.r.IntN(3))*time.Second, e.ans.ChallengeID), true
		case phaseSettled:
			e.advance()
		}
	}
}

// decide is the decide call of op o (a retry when challenge is set).
func (e *Episode) decide(o *op, delay time.Duration, challenge string) Call {
	e.attempt++
	o.req.RequestID = fmt.Sprintf("r-%s-%d", o.txn.ref, e.attempt)
	o.req.ChallengeID = challenge
	return Call{Kind: CallDecide, Body: o.req.body(), Delay: delay, Txn: o.txn, Retry: challenge != ""}
}

// settles reports whether the request moves money that settles (an
// order does not: its payment does).
func settles(r *wireRequest) bool {
	return r.Txn != nil && r.Stage != "order" && r.Txn.Amount > 0
}

// verify reports the next method's result.
func (e *Episode) verify(delay time.Duration) Call {
	b, _ := json.Marshal(struct {
		ChallengeID string `json:"challenge_id"`
		Method      string `json:"method"`
		Result      string `json:"result"`
	}{e.ans.ChallengeID, e.ans.Methods[e.m], e.results[e.m]})
	e.m++
	return Call{Kind: CallVerify, Body: b, Delay: delay}
}

func (e *Episode) advance() {
	e.i++
	e.phase = phaseStart
}

// fail ends the episode after an operation that was not allowed, unless
// the operation says to go on.
func (e *Episode) fail(o *op) {
	if o.keepGoing {
		e.i += o.skip
		e.advance()
		return
	}
	e.phase = phaseDone
}
