package state

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Errors.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("state store closed")
	// ErrInvalid wraps arguments a write refuses (unknown list or subject
	// kind, empty or oversized value, non-finite amount, ...).
	ErrInvalid = errors.New("invalid state argument")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Mode selects how UpdateAccount persists a change.
type Mode uint8

// Write modes.
const (
	// Sync commits the change (and its audit record) in one fsynced
	// transaction before returning.
	Sync Mode = iota + 1
	// Async makes the change visible at once through the overlay and
	// leaves persisting it to the background committer: no fsync on the
	// caller's path, lost on a crash within the flush window.
	Async
)

// Store is the risk state: a bounded cache in front of the durable
// backend, with an overlay of async changes. All methods are safe for
// concurrent use.
type Store struct {
	cfg Config
	be  Backend
	// shared is be when it is a Shared backend, else nil.
	shared Shared
	c      *cache
	// absent, when the backend keeps a filter of its keys, reports keys it
	// certainly does not hold (boltBackend's lists and verifications);
	// nil otherwise.
	absent func(Bucket, [][]byte) bool
	ov     overlay
	ranges rangeIndex

	// locks serialize UpdateAccount per UID stripe. A sync write holds
	// its stripe's lock until its commit is durable (an fsync, and more
	// under load), so that the next write of the UID reads its result:
	// with few stripes a decision's update of another account of the same
	// stripe waited for that fsync (with 256 stripes and 8 side calls in
	// flight, about one decision in a hundred). 65536 stripes (512 KiB)
	// make that about one in ten thousand.
	locks []sync.Mutex
	ver   atomic.Uint64 // account write versions

	closed   atomic.Bool
	inflight striped // calls that may touch the cache, overlay, queue or backend (enter, exit)

	reqs     chan *request
	kick     chan struct{}
	quit     chan struct{}
	stopped  chan struct{}
	finalErr error // the last flush's, set by run before stopped closes

	// The committer's: the newest journal record this Store committed,
	// and where the next prune of decision records starts.
	lastSeq, pruneFrom uint64

	flushed      atomic.Pointer[chan struct{}] // closed after each flush
	flushFailing atomic.Bool

	secrets sync.Map // name → []byte

	stats struct {
		flushes, flushErrors    atomic.Uint64
		asyncWaits              atomic.Uint64
		syncCommits, syncErrors atomic.Uint64
		swept, pruned           atomic.Uint64
		staleServed             atomic.Uint64
		conflicts               atomic.Uint64
		invalidations           atomic.Uint64
		cacheResets             atomic.Uint64
		mu                      sync.Mutex
		lastFlushErr            string
		lastFlushErrAt          time.Time
	}
}

// Open opens the state at cfg.Path (or cfg.Backend) and starts the
// background committer. It fails, naming the file and the cause, on a
// file it cannot trust or use (see OpenBolt); it never starts empty in
// place of an existing file.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	be := cfg.Backend
	if be == nil {
		var err error
		if be, err = OpenBolt(cfg.Path, cfg.LockTimeout); err != nil {
			return nil, err
		}
	}
	c, err := newCache(cfg.CacheMaxCost)
	if err != nil {
		_ = be.Close()
		return nil, fmt.Errorf("state cache: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		be:      be,
		c:       c,
		locks:   make([]sync.Mutex, uidStripes),
		reqs:    make(chan *request, 256),
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if f, ok := be.(interface{ certainlyAbsent(Bucket, [][]byte) bool }); ok {
		s.absent = f.certainlyAbsent
	}
	ch := make(chan struct{})
	s.flushed.Store(&ch)
	s.ranges.init()
	s.watch()
	if err := s.startChain(); err != nil {
		_ = be.Close()
		c.close()
		return nil, fmt.Errorf("audit chain: %w", err)
	}
	if err := s.normalizeLists(); err != nil {
		_ = be.Close()
		c.close()
		return nil, err
	}
	if err := s.indexQueue(); err != nil {
		_ = be.Close()
		c.close()
		return nil, err
	}
	t, err := s.ranges.build(be)
	if err != nil {
		_ = be.Close()
		c.close()
		return nil, err
	}
	s.ranges.t.Store(t)
	if s.shared != nil {
		go s.refreshRanges()
	}
	go s.run()
	return s, nil
}

// Close flushes every pending async change, stops the committer and closes
// the backend and the cache. It returns the final flush's error, if any
// (the changes it could not write are lost). Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// Calls that entered before closed was set finish; later ones fail.
	// After this no read touches the cache or the backend, and no write
	// reaches the overlay or the queue.
	for i := 0; s.inflight.load() != 0; i++ {
		if i < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(100 * time.Microsecond) // a long Journal scan
		}
	}
	close(s.quit)
	<-s.stopped
	if s.shared != nil {
		<-s.ranges.done
	}
	err := s.finalErr
	if cerr := s.be.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close state backend: %w", cerr))
	}
	s.c.close()
	return err
}

// Flush writes every pending async change now and returns the flush's
// error. Async changes are flushed in the background anyway; Flush is for
// a graceful stop and for tests.
func (s *Store) Flush(ctx context.Context) error {
	return s.do(ctx, &request{flush: true})
}

// do hands r to the committer and waits for its result. The context is
// honoured until r is queued; after that the call waits for the commit so
// that its result is never ambiguous.
func (s *Store) do(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.done = make(chan error, 1)
	if !s.enter(0) {
		return ErrClosed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.exit(0)
		return ctx.Err()
	}
	s.exit(0)
	return <-r.done
}

// uidLock returns the mutex serializing account writes of h's stripe.
func (s *Store) uidLock(h uint64) *sync.Mutex { return &s.locks[(h>>8)%uidStripes] }

// uidStripes is the number of account write locks (Store.locks).
const uidStripes = 1 << 16

// Stats are counters of a Store since Open.
type Stats struct {
	// Cache: hits served, misses (including entries refused as stale or
	// expired), evictions, sets ristretto dropped or its admission policy
	// rejected, and the cost currently held.
	CacheHits, CacheMisses, CacheEvictions uint64
	CacheSetsDropped, CacheSetsRejected    uint64
	CacheCost                              uint64
	// OverlayPending is the number of UIDs with async changes not yet
	// persisted.
	OverlayPending int
	// Flushes counts successful flushes of async changes, FlushErrors the
	// failed ones (the changes stay pending and are retried).
	Flushes, FlushErrors uint64
	LastFlushError       string
	LastFlushErrorAt     time.Time
	// SyncCommits and SyncErrors count sync writes.
	SyncCommits, SyncErrors uint64
	// AsyncWaits counts async writes that waited for a flush because the
	// backlog exceeded 16 × FlushMaxPending records.
	AsyncWaits uint64
	// Swept counts expired records the sweeper deleted, Pruned the
	// decision records it pruned from the journal.
	Swept, Pruned uint64
	// With a Shared backend: Invalidations counts keys other writers
	// changed (their cache entries dropped), CacheResets the times the
	// whole cache was dropped because reports may have been missed.
	Invalidations, CacheResets uint64
	// WriteConflicts counts account writes a Shared backend refused because
	// another sidecar had changed the account meanwhile; each was computed
	// again from the newer value and retried.
	WriteConflicts uint64
	// StaleServed counts reads the backend could not answer (a Shared
	// backend out of reach) that were answered from a cached block or
	// freeze past its freshness instead.
	StaleServed uint64
	// IPRanges is the number of IP ranges in the range index (a range on
	// several lists counts once). RangeRebuilds counts the times the index
	// was read whole from the backend (at Open; with a Shared backend also
	// after a possible loss of invalidations and every CacheTTL),
	// RangeRefreshErrors the failed reads of ranges other sidecars
	// changed (retried), RangesSkipped the range keys left out of the
	// index because their value is not a canonical range (written by
	// something other than a Store), counted each time one is read.
	IPRanges                                         int
	RangeRebuilds, RangeRefreshErrors, RangesSkipped uint64
	// With the state file: LogPending is the number of keys written to
	// the write-ahead log (durable) and not yet applied to the file by a
	// checkpoint; Checkpoints and CheckpointErrors count checkpoints,
	// LastCheckpointError is the last failure's message (the writes stay
	// in the log and are retried).
	LogPending                    int64
	Checkpoints, CheckpointErrors uint64
	LastCheckpointError           string
	LastCheckpointErrorAt         time.Time
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	st := Stats{
		CacheHits:          s.c.hits.load(),
		CacheMisses:        s.c.misses.load(),
		CacheEvictions:     s.c.evictions.Load(),
		CacheSetsDropped:   s.c.dropped.Load(),
		CacheSetsRejected:  s.c.rejected.Load(),
		CacheCost:          uint64(max(s.c.rc.MaxCost()-s.c.rc.RemainingCost(), 0)),
		OverlayPending:     int(s.ov.len()),
		Flushes:            s.stats.flushes.Load(),
		FlushErrors:        s.stats.flushErrors.Load(),
		SyncCommits:        s.stats.syncCommits.Load(),
		SyncErrors:         s.stats.syncErrors.Load(),
		AsyncWaits:         s.stats.asyncWaits.Load(),
		Swept:              s.stats.swept.Load(),
		Pruned:             s.stats.pruned.Load(),
		StaleServed:        s.stats.staleServed.Load(),
		WriteConflicts:     s.stats.conflicts.Load(),
		Invalidations:      s.stats.invalidations.Load(),
		CacheResets:        s.stats.cacheResets.Load(),
		IPRanges:           s.ranges.t.Load().Size(),
		RangeRebuilds:      s.ranges.rebuilds.Load(),
		RangeRefreshErrors: s.ranges.refreshErrors.Load(),
		RangesSkipped:      s.ranges.skipped.Load(),
	}
	s.stats.mu.Lock()
	st.LastFlushError, st.LastFlushErrorAt = s.stats.lastFlushErr, s.stats.lastFlushErrAt
	s.stats.mu.Unlock()
	if b, ok := s.be.(interface{ walStats(*Stats) }); ok {
		b.walStats(&st)
	}
	return st
}
