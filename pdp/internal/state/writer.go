package state

import (
	"fmt"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/backoff"
)

// All writes reach the backend through one goroutine, the committer
// (Store.run). Sync callers hand it a request and wait; async writes go to
// the overlay, which the committer flushes every FlushInterval, when
// FlushMaxPending UIDs are pending, and along with every sync commit. One
// writer keeps the order of writes simple to reason about: a sync account
// write is queued after every async write it read (both hold the UID's
// lock), and the committer writes the overlay before the requests of the
// same transaction.

// maxGroup bounds the sync requests committed in one transaction.
const maxGroup = 128

type request struct {
	batch Batch
	// after runs in the committer after a successful commit, before the
	// caller is released (cache invalidation, overlay bookkeeping).
	after func()
	// job, when set, runs alone in the committer after everything queued
	// before it is committed: it may read the backend and knows no other
	// write is in flight. It returns the batch to commit and its after.
	job func(Backend) (*Batch, func(), error)
	// flush asks for the overlay's error rather than the request's.
	flush bool
	done  chan error
}

func (s *Store) run() {
	defer close(s.stopped)
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	var sweep <-chan time.Time
	if s.cfg.SweepInterval > 0 {
		t := time.NewTicker(s.cfg.SweepInterval)
		defer t.Stop()
		sweep = t.C
	}
	// After a failed flush the next timed one waits FlushInterval, then
	// twice as long after each further failure, up to a second, so a dead
	// disk is not hammered (sync writes still try); a success starts over.
	retry := backoff.Exponential(s.cfg.FlushInterval, time.Second, 2, 0)
	var retryAt time.Time // zero after a success
	flush := func() {
		if s.ov.len() == 0 || (!retryAt.IsZero() && time.Now().Before(retryAt)) {
			return
		}
		if err := s.commitGroup(nil); err != nil {
			retryAt = time.Now().Add(retry.NextBackOff())
		} else {
			retryAt = time.Time{}
			retry.Reset()
		}
	}
	for {
		select {
		case r := <-s.reqs:
			s.handle(r)
		case <-tick.C:
			flush()
		case <-s.kick:
			flush()
		case <-sweep:
			if _, err := s.sweepAll(); err != nil {
				s.cfg.Logger.Warn("state sweep failed", "err", err)
			}
		case <-s.quit:
			// Close stopped new requests before closing quit: drain what
			// is queued, then flush the overlay one last time.
			for len(s.reqs) > 0 {
				s.handle(<-s.reqs)
			}
			s.finalErr = s.commitGroup(nil)
			return
		}
	}
}

// handle commits r together with whatever else is queued.
func (s *Store) handle(r *request) {
	reqs := []*request{r}
gather:
	for len(reqs) < maxGroup {
		select {
		case r := <-s.reqs:
			reqs = append(reqs, r)
		default:
			break gather
		}
	}
	var group []*request
	for _, r := range reqs {
		if r.job == nil {
			group = append(group, r)
			continue
		}
		if len(group) > 0 {
			s.commitGroup(group)
			group = nil
		}
		s.runJob(r)
	}
	if len(group) > 0 {
		s.commitGroup(group)
	}
}

// flushChunk bounds the records (account states and audit records) of
// async changes written in one transaction, so that a large backlog (after
// failing flushes, or at Close) does not become one huge transaction.
const flushChunk = 1 << 16

// ovChunk is a part of the overlay encoded for one transaction.
type ovChunk struct {
	snaps []ovSnap
	batch Batch
}

func (s *Store) kickFlush() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// awaitFlush waits for the committer's next flush (backpressure on async
// writes), at most a second, and not while flushes fail.
func (s *Store) awaitFlush() {
	if s.flushFailing.Load() {
		return
	}
	s.stats.asyncWaits.Add(1)
	ch := *s.flushed.Load()
	s.kickFlush()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// flushDone wakes the writers waiting in awaitFlush.
func (s *Store) flushDone(err error) {
	s.flushFailing.Store(err != nil)
	ch := make(chan struct{})
	close(*s.flushed.Swap(&ch))
}

// commitGroup commits the overlay and the group's batches in one
// transaction (a large overlay goes first in chunks of its own). If that
// fails and it held more than one part, each part is retried alone, so one
// bad request fails only itself. It returns the overlay's error.
//
// With a Shared backend the overlay is flushed on its own first
// (flushShared), as its writes are conditional.
func (s *Store) commitGroup(group []*request) (ovErr error) {
	defer func() { s.flushDone(ovErr) }()
	var chunks []ovChunk
	if s.shared != nil {
		ovErr = s.flushShared()
	} else {
		chunks, ovErr = s.encodeSnaps(s.ov.snapshot(s.c))
	}
	for len(chunks) > 1 {
		c := chunks[0]
		chunks = chunks[1:]
		if err := s.commit(&c.batch); err != nil {
			s.flushFailed(err)
			ovErr, chunks = err, nil
			break
		}
		s.ackOverlay(c.snaps)
	}
	var ov *ovChunk
	if len(chunks) == 1 {
		ov = &chunks[0]
	}
	var b Batch
	if ov != nil {
		b.append(&ov.batch)
	}
	for _, r := range group {
		b.append(&r.batch)
	}
	if b.empty() {
		s.finish(group, nil, ovErr)
		return ovErr
	}
	err := s.commit(&b)
	if err == nil {
		if ov != nil {
			s.ackOverlay(ov.snaps)
		}
		s.finish(group, nil, ovErr)
		return ovErr
	}
	parts := len(group)
	if ov != nil {
		parts++
	}
	if parts == 1 {
		if ov != nil {
			s.flushFailed(err)
			ovErr = err
		}
		s.finish(group, err, ovErr)
		return ovErr
	}
	// Retry each part alone: the overlay first (requests were computed
	// after it), then the requests in order.
	if ov != nil {
		if err := s.commit(&ov.batch); err == nil {
			s.ackOverlay(ov.snaps)
		} else {
			s.flushFailed(err)
			ovErr = err
		}
	}
	for _, r := range group {
		var rerr error
		if !r.batch.empty() {
			rerr = s.commit(&r.batch)
		}
		s.finish([]*request{r}, rerr, ovErr)
	}
	return ovErr
}

// flushShared writes the overlay to a Shared backend: rebased on the
// values stored now and conditional on them, retried on a conflict (see
// rebase.go). A conflict that persists is left for the next flush.
func (s *Store) flushShared() error {
	for attempt := 1; ; attempt++ {
		all := s.ov.snapshot(s.c)
		if len(all) == 0 {
			return nil
		}
		if err := s.rebaseSnaps(all); err != nil {
			s.flushFailed(err)
			return err
		}
		chunks, encErr := s.encodeSnaps(all)
		var err error
		for i := range chunks {
			if err = s.commit(&chunks[i].batch); err != nil {
				break
			}
			s.ackOverlay(chunks[i].snaps)
		}
		if isConflict(err) && attempt < maxConflictRetries {
			s.stats.conflicts.Add(1)
			continue
		}
		if err != nil {
			s.flushFailed(err)
			return err
		}
		return encErr
	}
}

// encodeSnaps encodes the pending async changes in chunks. An entry
// whose audit record fails to encode (unreachable in practice) stays
// pending and is reported. With a Shared backend the states written are
// those rebaseSnaps computed, and each is recorded as a try.
func (s *Store) encodeSnaps(all []ovSnap) ([]ovChunk, error) {
	if len(all) == 0 {
		return nil, nil
	}
	var (
		chunks []ovChunk
		cur    ovChunk
		n      int
		encErr error
	)
	for _, sn := range all {
		var w Batch
		if sn.st != nil {
			if sn.wrote == nil {
				sn.wrote = sn.st
			}
			v := encodeAccount(sn.wrote)
			w.Writes = append(w.Writes, Write{Bucket: BucketAccounts, Key: []byte(sn.uid), Value: v, If: sn.cond})
			queueWrite(&w, sn.wrote, false, s.cfg.Clock()) // work closes only in sync writes
			if sn.cond != nil {
				s.ov.tried(sn.h, sn.uid, try{ValueDigest(v), len(sn.fns)})
			}
		}
		ok := true
		for i := range sn.audits {
			data, err := encodeAudit(&sn.audits[i])
			if err != nil {
				encErr, ok = fmt.Errorf("encode audit of %q: %w", sn.uid, err), false
				break
			}
			w.Journal = append(w.Journal, JournalEntry{UID: sn.audits[i].UID, Record: data, Chain: chained(sn.audits[i].Action)})
		}
		if !ok {
			continue
		}
		if k := len(w.Writes) + len(w.Journal); n > 0 && n+k > flushChunk {
			chunks = append(chunks, cur)
			cur, n = ovChunk{}, 0
		}
		cur.batch.append(&w)
		cur.snaps = append(cur.snaps, sn)
		n += len(w.Writes) + len(w.Journal)
	}
	if len(cur.snaps) > 0 {
		chunks = append(chunks, cur)
	}
	if encErr != nil {
		s.flushFailed(encErr)
	}
	return chunks, encErr
}

// ackOverlay forgets what a commit persisted and seeds the cache with the
// states it wrote, so that reads after the flush do not go to the store.
func (s *Store) ackOverlay(snaps []ovSnap) {
	if len(snaps) == 0 {
		return
	}
	now := s.cfg.Clock().UnixNano()
	for _, sd := range s.ov.ack(snaps, s.c, s.cfg.Clock()) {
		s.c.put(sd.h, &centry{ns: nsAccount, k1: sd.uid, gen: sd.gen, until: now + int64(s.cfg.CacheTTL), acct: sd.st})
	}
	s.stats.flushes.Add(1)
}

func (s *Store) flushFailed(err error) {
	s.stats.flushErrors.Add(1)
	s.stats.mu.Lock()
	s.stats.lastFlushErr, s.stats.lastFlushErrAt = err.Error(), s.cfg.Clock()
	s.stats.mu.Unlock()
}

// finish releases the group's callers: after hooks on success, then the
// error (flush requests get the overlay's).
func (s *Store) finish(group []*request, err, ovErr error) {
	for _, r := range group {
		rerr := err
		if r.flush {
			rerr = ovErr
		}
		if err == nil && r.after != nil {
			r.after()
		}
		if !r.batch.empty() {
			if err == nil {
				s.stats.syncCommits.Add(1)
			} else {
				s.stats.syncErrors.Add(1)
			}
		}
		r.done <- rerr
	}
}

// runJob runs r's job and commits its batch; a job whose conditional
// write meets a conflict runs again (it reads the backend anew), up to
// maxConflictRetries times.
func (s *Store) runJob(r *request) {
	for attempt := 1; ; attempt++ {
		b, after, err := r.job(s.be)
		if err != nil {
			r.done <- err
			return
		}
		if b != nil && !b.empty() {
			if err := s.commit(b); err != nil {
				if isConflict(err) && attempt < maxConflictRetries {
					s.stats.conflicts.Add(1)
					continue
				}
				s.stats.syncErrors.Add(1)
				r.done <- err
				return
			}
			s.stats.syncCommits.Add(1)
		}
		if after != nil {
			after()
		}
		r.done <- nil
		return
	}
}

// commit commits b to the backend and notes the newest journal sequence
// number (the prune of decision records counts back from it).
// It keeps the IP range index current with the batch's range writes.
func (s *Store) commit(b *Batch) error {
	first, err := s.be.Commit(b)
	if err == nil && len(b.Journal) > 0 && first > 0 {
		s.lastSeq = max(s.lastSeq, first+uint64(len(b.Journal))-1)
	}
	s.indexRanges(b, err)
	return err
}
