package fleet

import (
	"context"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskpdp/riskpdp/pdp"
)

// Fleet velocity buckets: counts of money movements per subject in
// 10-second slots (the 1-minute window: the current slot and the five
// before) and 1-minute slots (the 1-hour window: the current and 59
// before), each a Redis key incremented with INCRBY and expiring after its
// window.
const (
	shortSlot  = 10 * time.Second
	shortSlots = 6
	longSlot   = time.Minute
	longSlots  = 60
)

// VelocityConfig configures fleet-wide velocity.
type VelocityConfig struct {
	// Interval is how often local counts are pushed to Redis and the fleet
	// counts of the subjects seen here are read back (one pipeline).
	// Default 100 ms. The staleness bound is 2 × Interval plus two round
	// trips to Redis (see the package doc).
	Interval time.Duration
	// Active is how long a subject is kept in sync after it was last seen
	// here. Default 2 minutes.
	Active time.Duration
	// MaxKeys caps the subjects kept in sync; past it new subjects count
	// locally only. Default 100,000.
	MaxKeys int
}

// Velocity merges the counts of every sidecar into the local velocity
// windows: the decision path adds its observation and reads the fleet
// counts as of the last sync, never waiting for Redis; a background loop
// pushes and pulls. Safe for concurrent use.
type Velocity struct {
	cfg    VelocityConfig
	rdb    redis.UniversalClient
	prefix string
	log    *slog.Logger

	mu   sync.Mutex
	keys map[string]*vkey

	kick chan struct{}
	quit chan struct{}
	done chan struct{}

	syncs, syncErrors atomic.Uint64
	lastSync          atomic.Int64 // unix ns of the last good sync
}

type vkey struct {
	pending  map[int64]uint32 // slot → observed here, not yet sent
	inflight map[int64]uint32 // slot → being sent
	fleet    map[int64]uint32 // slot → every sidecar's count at the last sync
	seen     time.Time
}

// NewVelocity starts fleet velocity on the Redis of be.
func NewVelocity(be *Backend, cfg VelocityConfig) *Velocity {
	if cfg.Interval <= 0 {
		cfg.Interval = 100 * time.Millisecond
	}
	if cfg.Active <= 0 {
		cfg.Active = 2 * time.Minute
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100_000
	}
	v := &Velocity{cfg: cfg, rdb: be.rdb, prefix: be.cfg.Prefix, log: be.log, keys: make(map[string]*vkey),
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go v.run()
	return v
}

// Close stops the sync loop after a last push.
func (v *Velocity) Close() {
	select {
	case <-v.quit:
		return
	default:
	}
	close(v.quit)
	<-v.done
}

// Observe counts one decision (money movements only: logins are local)
// and raises the counts in out to the fleet's where they are higher.
func (v *Velocity) Observe(now time.Time, uid, device, ip string, money bool, out *pdp.Velocity) {
	s, l := slot(now, shortSlot), slot(now, longSlot)
	v.mu.Lock()
	fresh := false
	for _, sub := range [3]struct {
		prefix, value string
		wc            *pdp.WindowCounts
	}{{"u", uid, &out.UID}, {"d", device, &out.Device}, {"i", ip, &out.IP}} {
		if sub.value == "" {
			continue
		}
		k := v.keys[sub.prefix+sub.value]
		if k == nil {
			if len(v.keys) >= v.cfg.MaxKeys {
				continue
			}
			k = &vkey{pending: make(map[int64]uint32)}
			v.keys[sub.prefix+sub.value] = k
			fresh = true
		}
		k.seen = now
		if money {
			k.pending[s]++
			k.pending[-l]++ // long slots are stored negated: one map
		}
		c1m, c1h := k.counts(s, l)
		sub.wc.Count1m = max(sub.wc.Count1m, c1m)
		sub.wc.Count1h = max(sub.wc.Count1h, c1h)
	}
	v.mu.Unlock()
	if fresh {
		select {
		case v.kick <- struct{}{}:
		default:
		}
	}
}

// counts sums the 1-minute and 1-hour windows ending in slots s and l.
func (k *vkey) counts(s, l int64) (c1m, c1h uint32) {
	get := func(slot int64) uint32 { return k.fleet[slot] + k.inflight[slot] + k.pending[slot] }
	for i := range int64(shortSlots) {
		c1m += get(s - i)
	}
	for i := range int64(longSlots) {
		c1h += get(-(l - i))
	}
	return c1m, c1h
}

func slot(t time.Time, d time.Duration) int64 { return t.UnixNano() / int64(d) }

func (v *Velocity) run() {
	defer close(v.done)
	t := time.NewTicker(v.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-v.quit:
			v.sync(time.Now())
			return
		case <-t.C:
		case <-v.kick:
		}
		v.sync(time.Now())
	}
}

type syncKey struct {
	name string
	k    *vkey
	sent map[int64]uint32
	mget *redis.SliceCmd
}

// sync pushes the pending counts and reads the fleet's for every active
// subject, in one pipeline per hash tag group (the subject's keys share a
// tag, so a Cluster can serve them).
func (v *Velocity) sync(now time.Time) {
	s, l := slot(now, shortSlot), slot(now, longSlot)
	v.mu.Lock()
	batch := make([]syncKey, 0, len(v.keys))
	for name, k := range v.keys {
		if now.Sub(k.seen) > v.cfg.Active && len(k.pending) == 0 {
			delete(v.keys, name)
			continue
		}
		k.inflight, k.pending = k.pending, make(map[int64]uint32)
		batch = append(batch, syncKey{name: name, k: k, sent: k.inflight})
	}
	v.mu.Unlock()
	if len(batch) == 0 {
		v.syncs.Add(1)
		v.lastSync.Store(now.UnixNano())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := v.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range batch {
			b := &batch[i]
			base := v.base(b.name)
			for sl, n := range b.sent {
				key, ttl := bucketKey(base, sl)
				p.IncrBy(ctx, key, int64(n))
				p.Expire(ctx, key, ttl)
			}
			keys := make([]string, 0, shortSlots+longSlots)
			for i := range int64(shortSlots) {
				k, _ := bucketKey(base, s-i)
				keys = append(keys, k)
			}
			for i := range int64(longSlots) {
				k, _ := bucketKey(base, -(l - i))
				keys = append(keys, k)
			}
			b.mget = p.MGet(ctx, keys...)
		}
		return nil
	})
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil && !errors.Is(err, redis.Nil) {
		v.syncErrors.Add(1)
		for _, b := range batch { // sent again next time: a partial push over-counts, never under
			for sl, n := range b.k.inflight {
				b.k.pending[sl] += n
			}
			b.k.inflight = nil
		}
		return
	}
	for _, b := range batch {
		fleet := make(map[int64]uint32, 8)
		for i, val := range b.mget.Val() {
			n, _ := val.(string)
			c, err := strconv.ParseUint(n, 10, 32)
			if err != nil || c == 0 {
				continue
			}
			if i < shortSlots {
				fleet[s-int64(i)] = uint32(c)
			} else {
				fleet[-(l - int64(i-shortSlots))] = uint32(c)
			}
		}
		b.k.fleet, b.k.inflight = fleet, nil
	}
	v.syncs.Add(1)
	v.lastSync.Store(now.UnixNano())
}

// base is the key prefix of a subject's buckets, with its hash tag.
func (v *Velocity) base(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	var sum [8]byte
	return v.prefix + ":{v" + hex.EncodeToString(h.Sum(sum[:0])) + "}:"
}

// bucketKey names slot sl (negative: a long slot) and its expiry.
func bucketKey(base string, sl int64) (string, time.Duration) {
	if sl < 0 {
		return base + "m" + strconv.FormatInt(-sl, 10), longSlot * (longSlots + 1)
	}
	return base + "s" + strconv.FormatInt(sl, 10), shortSlot * (shortSlots + 1)
}

// VelocityStats are counters of the fleet velocity sync.
type VelocityStats struct {
	Keys              int
	Syncs, SyncErrors uint64
	LastSync          time.Time
}

// Stats returns the current counters.
func (v *Velocity) Stats() VelocityStats {
	v.mu.Lock()
	n := len(v.keys)
	v.mu.Unlock()
	st := VelocityStats{Keys: n, Syncs: v.syncs.Load(), SyncErrors: v.syncErrors.Load()}
	if ns := v.lastSync.Load(); ns != 0 {
		st.LastSync = time.Unix(0, ns)
	}
	return st
}
