package decisionlog

import (
	"fmt"
	"sync"
)

// Sync mode: group commit.
//
// Each caller encodes its own record (in parallel), then joins the open
// batch. The caller that opens a batch is its leader: it waits until the
// previous leader has finished, seals the batch (later callers open the
// next one), writes it with one write call and one fsync, and wakes the
// batch's followers with the result. While one batch is being written the
// next fills up, so under load the records per fsync grow with the number
// of concurrent callers and a caller waits for at most the fsync in
// progress plus its own.

type groupCommit struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled when a leader finishes
	writing bool
	open    *commitBatch
}

type commitBatch struct {
	buf  []byte
	ends []int
	done chan struct{}
	err  error
}

// logSync encodes r and commits it; see Log.
func (l *Logger) logSync(r *Record) error {
	e := l.encoders.Get().(*encoder)
	line, why := l.encode(e, e.line[:0], r)
	e.line = line[:0]
	var err error
	if why == encOK {
		err = l.gc.commit(l, line)
	}
	l.encoders.Put(e)
	return err
}

// commit adds line to the open batch and returns once that batch is
// durable, or failed.
func (g *groupCommit) commit(l *Logger, line []byte) error {
	g.mu.Lock()
	b := g.open
	leader := b == nil
	if leader {
		b = &commitBatch{done: make(chan struct{})}
		g.open = b
	}
	b.buf = append(b.buf, line...)
	b.ends = append(b.ends, len(b.buf))
	if !leader {
		g.mu.Unlock()
		<-b.done
		return b.err
	}
	for g.writing {
		g.cond.Wait()
	}
	g.writing = true
	g.open = nil // sealed: the next caller leads the next batch
	g.mu.Unlock()

	l.c.syncCommits.Add(1)
	if err := l.deliver(b.buf, b.ends, true); err != nil {
		b.err = fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	close(b.done)

	g.mu.Lock()
	g.writing = false
	g.cond.Signal()
	g.mu.Unlock()
	return b.err
}
