package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Log.
var (
	// ErrDropped: the record was not logged (async mode; the reason is in
	// the message and in Stats.Dropped). The decision itself is unaffected.
	ErrDropped = errors.New("decisionlog: record dropped")
	// ErrNotDurable: sync mode could not write and fsync the record. It
	// may still appear in the file (written, fsync failed). See Log.
	ErrNotDurable = errors.New("decisionlog: record not durable")
	// ErrClosed: Log after Close.
	ErrClosed = errors.New("decisionlog: logger closed")
	// ErrDrop is what Config.Hook returns to drop a record on purpose.
	ErrDrop = errors.New("decisionlog: dropped by hook")

	errNilRecord    = errors.New("decisionlog: nil record")
	errBufferFull   = fmt.Errorf("%w: buffer full", ErrDropped)
	errBlockTimeout = fmt.Errorf("%w: buffer full for the block timeout", ErrDropped)
	errSpill        = fmt.Errorf("%w: spill file full or failing", ErrDropped)
)

// Logger writes decision records to the configured sinks. Its methods are
// safe for concurrent use.
type Logger struct {
	cfg Config
	c   counters

	// starts and ends count Log calls begun and finished: Close waits for
	// them to meet, and starts is Stats.Received.
	starts, ends atomic.Uint64
	closed       atomic.Bool

	ch     chan *Record  // async buffer; nil in sync mode
	wake   chan struct{} // Log ends the writer's linger: the buffer is filling
	wakeAt int           // buffer depth at which Log wakes the writer
	linger time.Duration // the writer's wait after a small batch (linger)
	file   *fileSink     // nil without Path
	up     *uploader     // nil without UploadURL
	spill  *spill        // nil unless OverflowSpill
	gc     *groupCommit  // sync mode

	encoders sync.Pool // *encoder, for callers that encode (sync mode, spill)

	stop  chan struct{} // Close asks the writer to drain and exit
	abort chan struct{} // Close's context ended: stop draining
	done  chan struct{} // the writer exited

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and starts a Logger: in async mode a writer goroutine,
// with UploadURL an upload goroutine. Nothing is written before the first
// record; with OverflowSpill a spill file left by an earlier process starts
// replaying at once.
func New(cfg Config) (*Logger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	l := &Logger{cfg: cfg}
	l.encoders.New = func() any { return newEncoder() }
	if cfg.Path != "" {
		l.file = newFileSink(cfg, &l.c)
		if cfg.testSink != nil {
			cfg.testSink(l.file)
		}
	}
	if cfg.Sync {
		l.gc = &groupCommit{}
		l.gc.cond = sync.NewCond(&l.gc.mu)
	} else {
		l.ch = make(chan *Record, cfg.BufferSize)
		l.wake, l.wakeAt, l.linger = make(chan struct{}, 1), max(1, cfg.BufferSize/4), linger
		if cfg.testLinger != 0 {
			l.linger = cfg.testLinger
		}
		if cfg.Overflow == OverflowSpill {
			sp, err := openSpill(cfg.SpillDir, cfg.SpillMaxBytes)
			if err != nil {
				return nil, fmt.Errorf("decisionlog: %w", err)
			}
			l.spill = sp
		}
	}
	if cfg.UploadURL != "" {
		l.up = newUploader(cfg, &l.c)
		if cfg.testUploader != nil {
			cfg.testUploader(l.up)
		}
		go l.up.run()
	}
	if l.ch != nil {
		l.stop, l.abort, l.done = make(chan struct{}), make(chan struct{}), make(chan struct{})
		go l.run()
	}
	return l, nil
}

// Log records r. The caller hands r over: it must not read or modify r, or
// anything r refers to (Input, Enrichment, maps, slices), after the call.
//
// Async mode (the default) costs the caller a channel send: r is encoded,
// masked and written by the writer goroutine. Log returns nil when r was
// buffered (or spilled), and an error wrapping ErrDropped when the buffer
// was full and the overflow policy dropped it; the decision should go on
// regardless, the loss is counted.
//
// Sync mode encodes and masks r in the caller, then returns once r is
// written and fsynced, sharing the write and fsync with concurrent callers.
// An error (wrapping ErrNotDurable and the cause, e.g. syscall.ENOSPC)
// means r is not known to be on disk; what to do with the decision is the
// caller's choice (the sidecar answers with an error, so that no decision
// takes effect unrecorded). A record the hook drops returns nil in both
// modes.
func (l *Logger) Log(r *Record) error {
	if r == nil {
		return errNilRecord
	}
	l.starts.Add(1)
	defer l.ends.Add(1)
	if l.closed.Load() {
		l.c.drop(dClosed, 1)
		return ErrClosed
	}
	if l.gc != nil {
		return l.logSync(r)
	}
	select {
	case l.ch <- r:
		if len(l.ch) >= l.wakeAt {
			l.wakeWriter()
		}
		return nil
	default:
	}
	return l.overflow(r)
}

// wakeWriter ends the writer's linger, if it is lingering.
func (l *Logger) wakeWriter() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// overflow applies the overflow policy to a record that found the buffer
// full.
func (l *Logger) overflow(r *Record) error {
	switch l.cfg.Overflow {
	case OverflowBlock:
		if l.cfg.testBlockWait != nil {
			l.cfg.testBlockWait()
		}
		l.wakeWriter()
		t := time.NewTimer(l.cfg.BlockTimeout)
		defer t.Stop()
		select {
		case l.ch <- r:
			return nil
		case <-t.C:
			l.c.drop(dBlockTimeout, 1)
			return errBlockTimeout
		}
	case OverflowSpill:
		e := l.encoders.Get().(*encoder)
		defer l.encoders.Put(e)
		line, why := l.encode(e, e.line[:0], r)
		e.line = line[:0]
		if why == encFiltered {
			return nil
		}
		switch err := l.spill.append(line); {
		case err == nil:
			l.c.spilled.Add(1)
			l.c.spillErr.Store(nil)
			return nil
		case errors.Is(err, errSpillFull):
			l.c.drop(dSpillFull, 1)
		default:
			l.c.drop(dSpillFailed, 1)
			l.c.spillErr.Store(&err)
			l.c.setErr(err)
		}
		return errSpill
	}
	l.c.drop(dBufferFull, 1)
	return errBufferFull
}

// Close stops accepting records and flushes everything within ctx: the
// buffer and the spill file into the sinks, the file fsynced and its
// rotated files compressed, the upload queue sent. What cannot be flushed
// in time is counted (close_timeout, upload_unsent; a spill file stays on
// disk for the next process) and Close returns an error. Pass a deadline:
// with an upload endpoint that keeps failing, Close retries until ctx
// ends. Later calls return the first call's result. (lumberjack keeps one
// idle goroutine per file sink after Close; it has no way to stop it.)
func (l *Logger) Close(ctx context.Context) error {
	l.closeOnce.Do(func() { l.closeErr = l.close(ctx) })
	return l.closeErr
}

func (l *Logger) close(ctx context.Context) error {
	l.closed.Store(true)
	// Log calls under way finish quickly (at most BlockTimeout, or one
	// spill write, or one group commit).
	for l.starts.Load() != l.ends.Load() {
		if ctx.Err() != nil {
			return fmt.Errorf("decisionlog: close: Log calls still running: %w", ctx.Err())
		}
		runtime.Gosched()
		time.Sleep(50 * time.Microsecond)
	}
	var errs []error
	if l.ch != nil {
		close(l.stop)
		select {
		case <-l.done:
		case <-ctx.Done():
			close(l.abort)
			select {
			case <-l.done:
				errs = append(errs, fmt.Errorf("decisionlog: close: buffer not flushed: %w", ctx.Err()))
			case <-time.After(time.Second):
				// The writer is stuck in a sink (a hung disk): leave it.
				return fmt.Errorf("decisionlog: close: writer stuck: %w", ctx.Err())
			}
		}
	}
	if l.file != nil {
		if err := l.file.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if l.up != nil {
		if err := l.up.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if l.spill != nil {
		if err := l.spill.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats returns the counters; see Stats for how they add up. It is cheap
// enough to call on every scrape.
func (l *Logger) Stats() Stats {
	s := l.c.snapshot()
	s.Received = l.starts.Load()
	if l.ch != nil {
		s.BufferDepth, s.BufferCap = len(l.ch), cap(l.ch)
	}
	if l.spill != nil {
		s.SpillRecords, s.SpillBytes = l.spill.lines.Load(), l.spill.bytes.Load()
	}
	if l.up != nil {
		s.UploadPending = l.up.pending.Load()
		l.up.mu.Lock()
		s.UploadBytes = l.up.held
		l.up.mu.Unlock()
	}
	return s
}

// Healthy returns nil while no record is being lost, else why: the logger
// is closed; the file sink's last write, fsync or rotation failed (until
// one succeeds; e.g. the disk is full); the spill file's last write failed;
// or a record was dropped for any reason within the last 10 seconds. An
// upload endpoint that is down is not unhealthy while its buffer holds: see
// Stats.UploadErrors.
func (l *Logger) Healthy() error {
	return l.c.healthy(l.closed.Load())
}
