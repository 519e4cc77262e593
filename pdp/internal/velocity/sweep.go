package velocity

import "time"

// sweepBatch is how many entries Sweep examines per lock hold.
const sweepBatch = 256

// Sweep removes the keys nothing counts at now (idle 24 to 25 hours) and
// releases the parts of live keys that expired, holding each shard's lock
// for at most sweepBatch entries at a time. It returns the number of keys
// removed. The background sweeper calls it at the latest time the tracker
// has been given.
func (t *Tracker) Sweep(now time.Time) int {
	c := clockAt(unixSec(now))
	removed := 0
	for i := range t.shards {
		s := &t.shards[i]
		for from := int32(1); ; from += sweepBatch {
			s.mu.Lock()
			n, done := s.sweep(from, sweepBatch, c)
			s.mu.Unlock()
			removed += n
			if done {
				break
			}
		}
	}
	return removed
}

func (t *Tracker) sweepLoop(every time.Duration) {
	defer close(t.done)
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tk.C:
			if l := t.latest.Load(); l != 0 {
				t.Sweep(time.Unix(int64(l), 0))
			}
		}
	}
}

// Close stops the background sweeper and waits for it. The tracker stays
// usable; nothing is swept afterwards unless Sweep is called. Close is
// idempotent and always returns nil.
func (t *Tracker) Close() error {
	if t.stop != nil {
		t.closeOnce.Do(func() { close(t.stop) })
		<-t.done
	}
	return nil
}

// Len is the number of keys tracked.
func (t *Tracker) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}

// Stats returns the tracker's counters, summed over the shards.
func (t *Tracker) Stats() Stats {
	var st Stats
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		st.Keys += len(s.keys)
		st.Evictions += s.evicted
		st.Expirations += s.expired
		s.mu.Unlock()
	}
	return st
}
