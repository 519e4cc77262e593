package request

import (
	"sync"
	"time"
)

// LoggedInput is a policy input as the decision log keeps it: the request
// as sent, the sidecar's additions (Input.AppendEnrichment) and the
// decision time; ReplayInput rebuilds the input from them.
type LoggedInput struct {
	Body       []byte
	Enrichment []byte
	At         time.Time
}

// RecentInputsKept is how many logged inputs an InputRing made for the
// sidecar keeps: what every load replays (prove.go), about 40 ms of OPA's
// evaluator on the reference policy.
const RecentInputsKept = 256

// InputRing keeps the last logged policy inputs (the request as sent and
// the sidecar's additions) for Options.RecentInputs: every load replays
// them through the fast program and OPA's evaluator, so a new policy is
// checked on the traffic the sidecar saw last. It is safe for concurrent
// use. Memory: n records, reused.
type InputRing struct {
	mu   sync.Mutex
	buf  []LoggedInput
	next int
	full bool
}

// NewInputRing returns a ring that keeps the last n inputs.
func NewInputRing(n int) *InputRing {
	return &InputRing{buf: make([]LoggedInput, max(n, 1))}
}

// Add keeps a copy of one logged input (body and enrichment are copied
// into the slot's own buffers, reused when the slot comes round again).
func (r *InputRing) Add(body, enrichment []byte, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.buf[r.next]
	s.Body = append(s.Body[:0], body...)
	s.Enrichment = append(s.Enrichment[:0], enrichment...)
	s.At = at
	if r.next++; r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// Inputs returns copies of the kept inputs, oldest first.
func (r *InputRing) Inputs() []LoggedInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []LoggedInput
	add := func(ls []LoggedInput) {
		for _, l := range ls {
			out = append(out, LoggedInput{Body: append([]byte(nil), l.Body...), Enrichment: append([]byte(nil), l.Enrichment...), At: l.At})
		}
	}
	if r.full {
		add(r.buf[r.next:])
	}
	add(r.buf[:r.next])
	return out
}
