package bench

import (
	"testing"
	"time"
)

// twoCalls is a session of two calls, the second due an hour after the
// first is answered.
type twoCalls struct{ n int }

func (s *twoCalls) Next([]byte) (string, []byte, time.Duration, bool, error) {
	s.n++
	switch s.n {
	case 1:
		return "/v1/decide", []byte(`{"first":true}`), 0, true, nil
	case 2:
		return "/v1/verifications", []byte(`{"second":true}`), time.Hour, true, nil
	}
	return "", nil, 0, false, nil
}

type twoCallSource struct{}

func (twoCallSource) Next() Session { return &twoCalls{} }

// A session's call is handed out once due and not before: meanwhile new
// sessions start; sessions in progress stay queued. Decide calls and side
// calls (verifications) wait apart: take hands out decisions only.
func TestSessionQueueKeepsTheSessionsPace(t *testing.T) {
	q := NewSessionQueue(twoCallSource{}, 1)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	first, err := q.take(t0)
	if err != nil || string(first.body) != `{"first":true}` {
		t.Fatalf("%s %v", first.body, err)
	}
	if err := q.answered(first.s, []byte(`{"outcome":"allow"}`), t0); err != nil {
		t.Fatal(err)
	}
	if q.Pending() != 1 {
		t.Fatalf("%d pending", q.Pending())
	}
	if _, next, ok := q.takeSide(t0.Add(59 * time.Minute)); ok || !next.Equal(t0.Add(time.Hour)) {
		t.Fatalf("side call before its time: ok %v, next %v", ok, next)
	}
	early, _ := q.take(t0.Add(59 * time.Minute))
	if string(early.body) != `{"first":true}` || q.started.Load() != 2 {
		t.Fatalf("before its time: %s (%d sessions)", early.body, q.started.Load())
	}
	later, _ := q.take(t0.Add(time.Hour))
	if string(later.path) != DecidePath || later.s == first.s {
		t.Fatalf("take handed out a side call: %s %s", later.path, later.body)
	}
	due, _, ok := q.takeSide(t0.Add(time.Hour))
	if !ok || string(due.body) != `{"second":true}` || string(due.path) != "/v1/verifications" || due.s != first.s {
		t.Fatalf("at its time: %v %s %s", ok, due.path, due.body)
	}
	if err := q.answered(due.s, nil, t0.Add(time.Hour)); err != nil || q.Pending() != 0 {
		t.Fatalf("after the last call: %v, %d pending", err, q.Pending())
	}
}

// Reset abandons the sessions in progress: their calls are no longer
// handed out, and the next decision starts a new session.
func TestSessionQueueReset(t *testing.T) {
	q := NewSessionQueue(twoCallSource{}, 1)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	first, err := q.take(t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.answered(first.s, []byte(`{"outcome":"allow"}`), t0); err != nil || q.Pending() != 1 {
		t.Fatalf("%v, %d pending", err, q.Pending())
	}
	q.Reset()
	if q.Pending() != 0 {
		t.Fatalf("%d pending after Reset", q.Pending())
	}
	if _, _, ok := q.takeSide(t0.Add(2 * time.Hour)); ok {
		t.Fatal("a side call of an abandoned session was handed out")
	}
	next, err := q.take(t0.Add(2 * time.Hour))
	if err != nil || next.s == first.s || string(next.body) != `{"first":true}` || q.started.Load() != 2 {
		t.Fatalf("after Reset: %s, %d sessions, %v", next.body, q.started.Load(), err)
	}
}
