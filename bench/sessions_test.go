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
// sessions start; sessions in progress stay queued.
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
	early, _ := q.take(t0.Add(59 * time.Minute))
	if string(early.body) != `{"first":true}` || q.started.Load() != 2 {
		t.Fatalf("before its time: %s (%d sessions)", early.body, q.started.Load())
	}
	due, _ := q.take(t0.Add(time.Hour))
	if string(due.body) != `{"second":true}` || string(due.path) != "/v1/verifications" || due.s != first.s {
		t.Fatalf("at its time: %s %s", due.path, due.body)
	}
	if err := q.answered(due.s, nil, t0.Add(time.Hour)); err != nil || q.Pending() != 0 {
		t.Fatalf("after the last call: %v, %d pending", err, q.Pending())
	}
}
