package fleet

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
)

// TestConcurrentResultsAcrossSidecars: a failed and a passed check reported
// at the same time for one challenge, through two sidecars sharing Redis,
// end failed on every challenge (the write is a compare-and-set, the
// failure sticky), each answer is the state its own result produced, and
// no retry, on either sidecar, is allowed.
func TestConcurrentResultsAcrossSidecars(t *testing.T) {
	r := fleettest.Start(t)
	a, b := newSidecar(t, "A", r.Addr), newSidecar(t, "B", r.Addr)
	const n = 40
	for i := range n {
		body := pay(fmt.Sprintf("u-race-%d", i), fmt.Sprintf("d-%d", i), "t-1", 6000, "SG", "")
		d := a.decide(t, body)
		if d.Outcome != pdp.StepUp {
			t.Fatalf("%d: %+v", i, d)
		}
		results := [2]string{"failed", "passed"}
		if i%2 == 1 {
			results = [2]string{"passed", "refused"}
		}
		var answers [2]string
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j, s := range []*sidecar{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v, err := s.svc.Verify(ctx, fmt.Appendf(nil, `{"challenge_id":%q,"method":"face","result":%q}`, d.StepUp.ChallengeID, results[j]))
				if err != nil {
					t.Errorf("%d: %s through %s: %v", i, results[j], s.name, err)
					return
				}
				answers[j] = v.Status()
			}()
		}
		close(start)
		wg.Wait()
		v, ok, err := a.st.Verification(fmt.Sprintf("u-race-%d", i), "payment:t-1", time.Now())
		final := v.Status()
		if err != nil || !ok || (final != "failed" && final != "refused") {
			t.Fatalf("%d: final %q (%v %v) after %v", i, final, ok, err, results)
		}
		for j, res := range results {
			if res != "passed" && answers[j] != final {
				t.Errorf("%d: %s answered %q, final %q", i, res, answers[j], final)
			}
		}
		for _, s := range []*sidecar{a, b} {
			within(t, time.Second, "the failure reaches "+s.name, func() bool {
				return s.decide(t, body).Outcome == pdp.Deny
			})
		}
	}
}
