package decisionlog

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Drop reasons, the keys of Stats.Dropped.
const (
	DropBufferFull     = "buffer_full"     // OverflowDrop with the buffer full
	DropBlockTimeout   = "block_timeout"   // OverflowBlock waited BlockTimeout
	DropSpillFull      = "spill_full"      // the spill file reached SpillMaxBytes
	DropSpillFailed    = "spill_failed"    // writing the spill file failed
	DropSpillCorrupt   = "spill_corrupt"   // a spill line that is not JSON (a crash mid-write)
	DropClosed         = "closed"          // Log after Close
	DropCloseTimeout   = "close_timeout"   // still buffered when Close's context ended
	DropFileError      = "file_error"      // the file sink failed to write it
	DropUploadOverflow = "upload_overflow" // pushed out of a full upload buffer
	DropUploadUnsent   = "upload_unsent"   // not uploaded when Close's context ended
)

var dropReasons = [...]string{
	DropBufferFull, DropBlockTimeout, DropSpillFull, DropSpillFailed, DropSpillCorrupt, DropClosed,
	DropCloseTimeout, DropFileError, DropUploadOverflow, DropUploadUnsent,
}

type dropReason uint8

const (
	dBufferFull dropReason = iota
	dBlockTimeout
	dSpillFull
	dSpillFailed
	dSpillCorrupt
	dClosed
	dCloseTimeout
	dFileError
	dUploadOverflow
	dUploadUnsent
	numDropReasons
)

// Stats is a snapshot of a Logger's counters; counters only grow.
//
// Every record given to Log ends in exactly one of Logged, Filtered or a
// Dropped reason other than the upload ones, or is still on its way
// (BufferDepth, SpillRecords, a sync batch). Upload has its own account:
// the records queued for upload end in Uploaded, Dropped "upload_overflow"
// or "upload_unsent", or UploadPending.
type Stats struct {
	Received uint64 // records given to Log
	Logged   uint64 // written to every configured sink (upload: queued)
	Filtered uint64 // dropped on purpose by Config.Hook
	// Dropped counts lost records by reason (the Drop constants); every
	// reason is present.
	Dropped map[string]uint64

	Spilled      uint64 // records appended to the spill file
	Replayed     uint64 // records replayed from it into the sinks
	SpillRecords int64  // records in the spill file not yet replayed
	SpillBytes   int64  // its bytes not yet replayed

	Uploaded      uint64 // records the upload endpoint accepted
	UploadPending int64  // records waiting for upload
	UploadBytes   int64  // bytes they hold (bounded by UploadBufferBytes, plus the batch in flight)
	UploadBatches uint64 // successful upload requests
	UploadErrors  uint64 // failed upload requests (each retry counts)

	SinkErrors   uint64 // failed file writes, fsyncs, rotations or compressions of rotated files
	HookErrors   uint64 // Config.Hook errors and panics
	EncodeErrors uint64 // records logged with a value written as null: Input or Enrichment not JSON, time or number out of range
	Rotations    uint64 // file rotations
	SyncCommits  uint64 // sync mode: write+fsync rounds; Logged/SyncCommits is records per fsync

	BufferDepth int // records waiting in the async buffer
	BufferCap   int

	LastError   string // the most recent error, "" if none
	LastErrorAt time.Time
}

// recentDrop is how long a drop keeps Healthy failing.
const recentDrop = 10 * time.Second

// counters are a Logger's counters. Received is not here: it is the
// Logger's count of Log calls begun, which the hot path updates anyway.
type counters struct {
	logged, filtered                      atomic.Uint64
	spilled, replayed                     atomic.Uint64
	uploaded, uploadBatches, uploadErrors atomic.Uint64
	sinkErrors, hookErrors, encodeErrors  atomic.Uint64
	rotations, syncCommits                atomic.Uint64
	dropped                               [numDropReasons]atomic.Uint64
	lastDropAt                            atomic.Int64 // unix nanos
	lastDropWhy                           atomic.Uint32

	errMu     sync.Mutex
	lastErr   error
	lastErrAt time.Time

	fileErr, spillErr atomic.Pointer[error] // the last failure, cleared by the next success
}

func (c *counters) drop(why dropReason, n uint64) {
	if n == 0 {
		return
	}
	c.dropped[why].Add(n)
	c.lastDropWhy.Store(uint32(why))
	c.lastDropAt.Store(time.Now().UnixNano())
}

func (c *counters) setErr(err error) {
	c.errMu.Lock()
	c.lastErr, c.lastErrAt = err, time.Now()
	c.errMu.Unlock()
}

// healthy reports the conditions under which records are being lost.
func (c *counters) healthy(closed bool) error {
	var errs []error
	if closed {
		errs = append(errs, ErrClosed)
	}
	if p := c.fileErr.Load(); p != nil {
		errs = append(errs, fmt.Errorf("decisionlog: file sink failing: %w", *p))
	}
	if p := c.spillErr.Load(); p != nil {
		errs = append(errs, fmt.Errorf("decisionlog: spill file failing: %w", *p))
	}
	if at := c.lastDropAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < recentDrop {
		errs = append(errs, fmt.Errorf("decisionlog: dropping records (%s) within the last %v",
			dropReasons[c.lastDropWhy.Load()], recentDrop))
	}
	return errors.Join(errs...)
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Logged: c.logged.Load(), Filtered: c.filtered.Load(),
		Dropped: make(map[string]uint64, len(dropReasons)),
		Spilled: c.spilled.Load(), Replayed: c.replayed.Load(),
		Uploaded: c.uploaded.Load(), UploadBatches: c.uploadBatches.Load(), UploadErrors: c.uploadErrors.Load(),
		SinkErrors: c.sinkErrors.Load(), HookErrors: c.hookErrors.Load(), EncodeErrors: c.encodeErrors.Load(),
		Rotations: c.rotations.Load(), SyncCommits: c.syncCommits.Load(),
	}
	for i, r := range dropReasons {
		s.Dropped[r] = c.dropped[i].Load()
	}
	c.errMu.Lock()
	if c.lastErr != nil {
		s.LastError, s.LastErrorAt = c.lastErr.Error(), c.lastErrAt
	}
	c.errMu.Unlock()
	return s
}
