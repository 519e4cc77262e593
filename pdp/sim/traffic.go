package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Traffic makes the population's episodes one by one for a load harness
// (bench/), which plays them against a running sidecar as fast as it
// answers: session i is an episode of a scenario drawn by the scenarios'
// rates (Scenario.Rate: the mix of a simulated day), for the population's
// accounts in turn, so that an account's sessions are as far apart as the
// population is large (accounts paying at human rates even under load).
// The same seed and index give the same episode. Safe for concurrent use.
type Traffic struct {
	pop  *Population
	cum  []float64 // cumulative scenario weights
	at   time.Time
	seed uint64
}

// NewTraffic makes a population of accounts customers whose time is now
// (account ages, history and fraud accounts' ages are relative to it).
func NewTraffic(seed uint64, accounts int, now time.Time) *Traffic {
	t := &Traffic{pop: NewPopulation(seed, accounts, now), at: now, seed: seed}
	credit := 0
	for _, a := range t.pop.Accounts {
		if a.RepaymentDay != 0 {
			credit++
		}
	}
	total := 0.0
	for _, s := range scenarios {
		w := s.Rate
		if s == repayment && credit > 0 {
			// Only accounts with a credit repay (Session redraws for the
			// others): weigh it up so that its share is its Rate.
			w *= float64(len(t.pop.Accounts)) / float64(credit)
		}
		total += w
		t.cum = append(t.cum, total)
	}
	return t
}

// Population is the traffic's customers and mule accounts (to prime a
// state file with: WriteState).
func (t *Traffic) Population() *Population { return t.pop }

// Session returns the i-th episode. Its operations' ids are unique per
// index, so a harness that never repeats an index never repeats a
// transaction.
func (t *Traffic) Session(i uint64) *Episode {
	r := rand.New(rand.NewPCG(t.seed^0x7472616666696300, i))
	a := t.pop.Accounts[i%uint64(len(t.pop.Accounts))]
	var sc *Scenario
	for sc == nil || (sc == repayment && a.RepaymentDay == 0) {
		x := r.Float64() * t.cum[len(t.cum)-1]
		sc = scenarios[len(scenarios)-1]
		for k, c := range t.cum {
			if x < c {
				sc = scenarios[k]
				break
			}
		}
	}
	run := &accountRun{phone: a.Phone}
	switch sc {
	case muleCashout:
		a = t.pop.Mules[int(i%uint64(len(t.pop.Mules)))]
		run.phone = a.Phone
	case travelAbroad:
		tr := &trip{to: foreignTo(r, a.Home.Code), phone: a.Phone, arrival: true}
		if r.Float64() < 0.4 {
			tr.phone, tr.newPhone = fmt.Sprintf("d-%06d-n%d", a.Index, i), true
		}
		run.trip = tr
	case deviceChange:
		run.phone = fmt.Sprintf("d-%06d-c%d", a.Index, i)
	}
	return newEpisode(sc, t.pop, a, run, t.at, i+1, r)
}
