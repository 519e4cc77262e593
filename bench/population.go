package bench

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp/sim"
)

// Mix kinds (MixConfig.Kind).
const (
	// MixPopulation is real traffic: the simulator's population (pdp/sim)
	// making its sessions — an order then its payment, a step-up answered
	// and retried, a salary withdrawal, a takeover attempt — for accounts
	// in turn, so that each account pays at a human rate even at the
	// sidecar's saturation (see MixConfig.UIDs). The default.
	MixPopulation = "population"
	// MixZipf is the stress case: independent requests of Zipf-distributed
	// accounts, replayed as fast as the target answers, so the head's
	// accounts send far more a minute than a person can and hit the
	// velocity limits (most answers become account_frozen denials).
	MixZipf = "zipf"
)

// allowAnswer stands for the answer of a target without state (OPA, the
// floor): a session's decisions are taken as allowed to list the
// requests that follow.
var allowAnswer = sim.Answer{Outcome: "allow"}

// generatePopulationMix lists the requests OPA and the floor are sent: the
// decide calls of the population's sessions 0, 1, ... (each operation's
// first attempt, the session going on as if it had been allowed), until
// cfg.Size requests. The sidecar plays the same sessions live
// (populationSessions).
func generatePopulationMix(cfg MixConfig, tr *sim.Traffic) ([]Request, error) {
	accounts := map[string]*sim.Account{}
	pop := tr.Population()
	for _, group := range [][]*sim.Account{pop.Accounts, pop.Mules} {
		for _, a := range group {
			accounts[a.UID] = a
		}
	}
	out := make([]Request, 0, cfg.Size)
	for i := uint64(0); len(out) < cfg.Size; i++ {
		e := tr.Session(i)
		var prev *sim.Answer
		for len(out) < cfg.Size {
			c, ok := e.Next(prev)
			if !ok {
				break
			}
			prev = nil
			if c.Kind != sim.CallDecide {
				continue
			}
			prev = &allowAnswer
			if c.Retry {
				continue
			}
			r, err := populationRequest(&cfg, c, accounts)
			if err != nil {
				return nil, fmt.Errorf("session %d: %w", i, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// fraudRisk is the risk pattern whose plugin scores OPA's input carries
// for a fraud scenario's requests (see opaInput).
var fraudRisk = map[string]string{
	"account_takeover": "new_device_foreign_ip",
	"reshipping":       "large_amount",
	"mule_cashout":     "large_amount",
	"shared_device":    "new_device_foreign_ip",
}

// populationRequest is a decide call of the population as a Request: the
// body as the simulator sent it, and OPA's input with what the sidecar
// would have added (opaInput).
func populationRequest(c *MixConfig, call sim.Call, accounts map[string]*sim.Account) (Request, error) {
	var wr wireRequest
	if err := json.Unmarshal(call.Body, &wr); err != nil {
		return Request{}, err
	}
	f := opaFacts{deviceKnown: false}
	if wr.Account != nil {
		f.home = wr.Account.HomeCountry
		f.createdAt, _ = time.Parse(time.RFC3339, wr.Account.CreatedAt)
	}
	if a := accounts[wr.UID]; a != nil {
		f.vip = a.VIP
		f.deviceKnown = wr.Device != nil && (wr.Device.ID == a.Phone || (a.Tablet != "" && wr.Device.ID == a.Tablet))
	}
	risk := ""
	if sc := call.Txn.Scenario; sc.Label == sim.Fraud {
		risk = fraudRisk[sc.Name]
	}
	opa, err := json.Marshal(map[string]any{"input": opaInput(c, &wr, f, risk)})
	if err != nil {
		return Request{}, err
	}
	return Request{Decide: call.Body, OPA: opa, Stage: wr.Stage, Risk: risk, Scenario: call.Txn.Scenario.Name,
		Fraud: call.Txn.Scenario.Label == sim.Fraud}, nil
}

// populationSessions plays the population's sessions against a live
// sidecar: session i of the traffic for the i-th session started, never
// one twice (a new source per sidecar start, so that its transactions are
// new to that sidecar's state).
type populationSessions struct {
	tr   *sim.Traffic
	next atomic.Uint64
}

func (p *populationSessions) Next() Session {
	return &populationSession{e: p.tr.Session(p.next.Add(1) - 1)}
}

// populationSession is one episode played over HTTP.
type populationSession struct {
	e    *sim.Episode
	last sim.CallKind
}

func (s *populationSession) Next(answer []byte) (string, []byte, time.Duration, bool, error) {
	var prev *sim.Answer
	if s.last == sim.CallDecide {
		outcome, _, ok := ParseAnswer(answer)
		if !ok {
			return "", nil, 0, false, fmt.Errorf("no outcome in %.200s", answer)
		}
		a := sim.Answer{Outcome: outcome}
		if outcome == "step_up" {
			var err error
			if a, err = sim.ParseAnswer(answer); err != nil {
				return "", nil, 0, false, err
			}
		}
		prev = &a
	}
	c, ok := s.e.Next(prev)
	if !ok {
		return "", nil, 0, false, nil
	}
	s.last = c.Kind
	return c.Kind.Path(), c.Body, c.Delay, true, nil
}
