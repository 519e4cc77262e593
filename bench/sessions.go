package bench

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// Sessions is a source of sessions, safe for concurrent use.
type Sessions interface {
	Next() Session
}

// Session is one sequence of calls. Next returns the call after the one
// whose answer body is answer (nil for the first call) and how long after
// that answer it is due, or ok false when the session is over; answer is
// only valid during the call.
type Session interface {
	Next(answer []byte) (path string, body []byte, delay time.Duration, ok bool, err error)
}

// SessionQueue plays sessions at their own pace for Run: each call is due
// its delay after the answer before it (a payment some seconds after its
// order, a verification after the person's face check), so that what one
// account sends within a minute, an hour, a day is what a person sends.
// A decide call is handed out once due; when none is due, the first call of
// a new session. Verifications, events and outcome reports (side calls) wait
// in a queue of their own, taken by their own senders (takeSide), so that
// an open loop's offered rate is a rate of decisions and side calls come on
// top of it, as they do in production. Sessions in progress stay queued
// from one Run to the next (one queue per target start) until Reset.
// Safe for concurrent use.
type SessionQueue struct {
	src   Sessions
	scale float64
	mu    sync.Mutex
	due   dueHeap // decide calls
	side  dueHeap // verifications, events, outcome reports
	seq   uint64
	// started counts the sessions begun.
	started atomic.Int64
}

// NewSessionQueue plays src's sessions with their delays multiplied by
// scale (1: real time; 0: every call as soon as the one before it was
// answered, for tests).
func NewSessionQueue(src Sessions, scale float64) *SessionQueue {
	return &SessionQueue{src: src, scale: scale}
}

// Reset drops the queued calls: the sessions in progress are abandoned
// (a verification never answered expires in the sidecar as it would in
// production). The suite resets the queue before an open loop, whose
// offered rate is not the rate of the phase before: a closed loop at
// 5 000 decisions/s leaves tens of seconds of follow-ups (payments after
// orders, verifications, outcome reports), which an open loop at 400/s
// otherwise plays on top of its own, at twice its rate in side calls.
// Call it between Runs only.
func (q *SessionQueue) Reset() {
	q.mu.Lock()
	q.due, q.side = nil, nil
	q.mu.Unlock()
}

// pendingCall is a session's next call.
type pendingCall struct {
	s          Session
	path, body []byte
	at         time.Time
	seq        uint64
}

// DecidePath is the path of a decide call; a session's other calls are
// side calls.
const DecidePath = "/v1/decide"

// take returns the decide call to send at now: the earliest due one, else
// the first decide call of a new session (a new session's first side call
// is queued for the side senders).
func (q *SessionQueue) take(now time.Time) (pendingCall, error) {
	q.mu.Lock()
	if len(q.due) > 0 && !q.due[0].at.After(now) {
		p := heap.Pop(&q.due).(pendingCall)
		q.mu.Unlock()
		return p, nil
	}
	q.mu.Unlock()
	for {
		s := q.src.Next()
		q.started.Add(1)
		path, body, delay, ok, err := s.Next(nil)
		if err != nil {
			return pendingCall{}, err
		}
		if !ok {
			continue
		}
		if (delay == 0 || q.scale == 0) && path == DecidePath {
			return pendingCall{s: s, path: []byte(path), body: body}, nil
		}
		q.push(s, path, body, now.Add(time.Duration(float64(delay)*q.scale)))
	}
}

// answered queues the session's call after answer, if there is one, due
// its delay after at.
func (q *SessionQueue) answered(s Session, answer []byte, at time.Time) error {
	path, body, delay, ok, err := s.Next(answer)
	if err != nil || !ok {
		return err
	}
	q.push(s, path, body, at.Add(time.Duration(float64(delay)*q.scale)))
	return nil
}

// takeSide returns the earliest side call due at now (ok), or when the
// next one is due (zero when none is queued).
func (q *SessionQueue) takeSide(now time.Time) (p pendingCall, next time.Time, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.side) == 0 {
		return pendingCall{}, time.Time{}, false
	}
	if q.side[0].at.After(now) {
		return pendingCall{}, q.side[0].at, false
	}
	return heap.Pop(&q.side).(pendingCall), time.Time{}, true
}

func (q *SessionQueue) push(s Session, path string, body []byte, at time.Time) {
	q.mu.Lock()
	q.seq++
	h := &q.due
	if path != DecidePath {
		h = &q.side
	}
	heap.Push(h, pendingCall{s: s, path: []byte(path), body: body, at: at, seq: q.seq})
	q.mu.Unlock()
}

// Pending is the number of calls waiting for their time.
func (q *SessionQueue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.due) + len(q.side)
}

// dueHeap orders pending calls by due time, then by when they were queued.
type dueHeap []pendingCall

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(pendingCall)) }
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old) - 1
	x := old[n]
	old[n] = pendingCall{}
	*h = old[:n]
	return x
}
