package fleet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// Watch registers the Store's invalidation callbacks (state.Shared).
func (b *Backend) Watch(changed func(state.Bucket, []byte), lost func()) {
	b.watchMu.Lock()
	b.changed, b.lost = changed, lost
	b.watchMu.Unlock()
}

func (b *Backend) callbacks() (func(state.Bucket, []byte), func()) {
	b.watchMu.Lock()
	defer b.watchMu.Unlock()
	return b.changed, b.lost
}

func (b *Backend) resetCache() {
	if _, lost := b.callbacks(); lost != nil {
		lost()
	}
}

// subscriber receives the invalidation messages of the other sidecars.
// go-redis re-subscribes by itself after a lost connection; every
// (re)subscription drops the whole cache, since messages published
// meanwhile are gone.
func (b *Backend) subscriber() {
	defer b.done.Done()
	for {
		m, err := b.ps.Receive(context.Background())
		if err != nil {
			if b.closed.Load() || errors.Is(err, redis.ErrClosed) {
				return
			}
			b.fail(err)
			select {
			case <-b.quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.resetCache()
			}
		case *redis.Message:
			b.apply([]byte(m.Payload))
		}
	}
}

// apply decodes one invalidation message and reports its keys.
func (b *Backend) apply(msg []byte) {
	if len(msg) < 24 {
		b.log.Warn("redis: malformed invalidation message; cache dropped", "len", len(msg))
		b.resetCache()
		return
	}
	if bytes.Equal(msg[:16], b.origin[:]) {
		return // our own: the Store already knows
	}
	b.stats.invalReceived.Add(1)
	if d := time.Now().UnixNano() - int64(binary.BigEndian.Uint64(msg[16:24])); d >= 0 {
		b.stats.lastDelay.Store(d)
		for {
			cur := b.stats.maxDelay.Load()
			if d <= cur || b.stats.maxDelay.CompareAndSwap(cur, d) {
				break
			}
		}
	}
	changed, lost := b.callbacks()
	if changed == nil {
		return
	}
	if err := decodeChanges(msg[24:], changed); err != nil {
		b.log.Warn("redis: malformed invalidation message; cache dropped", "error", err)
		if lost != nil {
			lost()
		}
	}
}

var errMalformed = errors.New("malformed change")

// decodeChanges calls fn with each (bucket, key) of a message body.
func decodeChanges(body []byte, fn func(state.Bucket, []byte)) error {
	for len(body) > 0 {
		bk := state.Bucket(body[0])
		n, w := binary.Uvarint(body[1:])
		if w <= 0 || n > uint64(len(body)-1-w) {
			return errMalformed
		}
		fn(bk, body[1+w:1+w+int(n)])
		body = body[1+w+int(n):]
	}
	return nil
}

// Stats are counters of the Redis backend since Open.
type Stats struct {
	Up bool
	// BudgetExceeded counts decision-path reads that gave up past the read
	// budget; Unavailable those refused at once while Redis was down.
	BudgetExceeded, Unavailable uint64
	// Outages and Recoveries count transitions down and up.
	Outages, Recoveries uint64
	// InvalidationsSent and InvalidationsReceived count messages (the
	// received ones from other sidecars); LastDelay and MaxDelay are the
	// propagation delays measured on them (sender's commit to receipt,
	// across hosts as good as their clocks).
	InvalidationsSent, InvalidationsReceived uint64
	LastDelay, MaxDelay                      time.Duration
}

// Stats returns the current counters.
func (b *Backend) Stats() Stats {
	return Stats{
		Up:                    b.up.Load(),
		BudgetExceeded:        b.stats.budgetExceeded.Load(),
		Unavailable:           b.stats.unavailable.Load(),
		Outages:               b.stats.outages.Load(),
		Recoveries:            b.stats.recoveries.Load(),
		InvalidationsSent:     b.stats.invalSent.Load(),
		InvalidationsReceived: b.stats.invalReceived.Load(),
		LastDelay:             time.Duration(b.stats.lastDelay.Load()),
		MaxDelay:              time.Duration(b.stats.maxDelay.Load()),
	}
}
