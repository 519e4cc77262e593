package decisionlog

import (
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// The writer goroutine (async mode) takes records from the buffer in
// batches, encodes and masks each, and writes a batch with one write call;
// when the buffer is low it replays the spill file.

const (
	maxBatch       = 512 // records per write
	maxReplayLines = 256 // spill lines per replay step

	// linger is how long the writer waits after a batch smaller than
	// maxBatch before it takes the next: at a few thousand decisions a
	// second, records otherwise arrive one at a time, and each costs a
	// wake-up of the writer and a write call of its own. Log cuts the
	// wait short once the buffer is a quarter full (Logger.wake), and
	// Close at once.
	linger = 10 * time.Millisecond
)

// encoder turns records into masked JSON lines; one per goroutine.
type encoder struct {
	raw     []byte // the record as encoded
	m       masker
	line    []byte // scratch for callers that encode one record
	scratch []byte // lent to Record.Finish (Record.Scratch)
}

func newEncoder() *encoder {
	return &encoder{scratch: make([]byte, 0, 4096), m: masker{memo: new(memoTable)}}
}

type encResult uint8

const (
	encOK       encResult = iota
	encFiltered           // the hook dropped it (counted)
)

// encode runs the hook on r, encodes it and appends the masked line, with
// its newline, to dst.
func (l *Logger) encode(e *encoder, dst []byte, r *Record) ([]byte, encResult) {
	if f := r.Finish; f != nil {
		r.Finish = nil
		r.Scratch = e.scratch[:0]
		if err := runHook(func(r *Record) error { f(r); return nil }, r); err != nil {
			l.c.hookErrors.Add(1)
			l.c.setErr(err)
		}
	}
	var compact []byte // the enrichment Finish marked compact, to see whether the hook replaced it
	if r.EnrichmentCompact {
		compact = r.Enrichment
	}
	if h := l.cfg.Hook; h != nil {
		if err := runHook(h, r); err != nil {
			if errors.Is(err, ErrDrop) {
				l.c.filtered.Add(1)
				return dst, encFiltered
			}
			l.c.hookErrors.Add(1)
			l.c.setErr(err)
		}
	}
	r.Schema = SchemaVersion
	r.enrichmentChecked = len(compact) > 0 && len(compact) == len(r.Enrichment) && unsafe.SliceData(compact) == unsafe.SliceData(r.Enrichment)
	var bad int
	e.raw, bad = appendRecord(e.raw[:0], r)
	if bad > 0 {
		l.c.encodeErrors.Add(1)
		l.c.setErr(fmt.Errorf("decisionlog: record %s: %d values written as null (invalid JSON, time or number)", r.DecisionID, bad))
	}
	if out, changed := e.m.mask(dst, e.raw, true); changed {
		return append(out, '\n'), encOK
	}
	dst = append(dst, e.raw...)
	return append(dst, '\n'), encOK
}

func runHook(h func(*Record) error, r *Record) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decisionlog: hook panicked: %v", p)
		}
	}()
	return h(r)
}

// run is the writer goroutine.
func (l *Logger) run() {
	defer close(l.done)
	w := &batchWriter{l: l, e: newEncoder()}
	t := time.NewTimer(time.Hour)
	t.Stop()
	var notify chan struct{}
	if l.spill != nil {
		notify = l.spill.notify
	}
	for {
		if l.spill != nil && l.spill.lines.Load() > 0 && len(l.ch) < cap(l.ch)/4+1 {
			w.replay()
			select {
			case <-l.stop:
				w.finish()
				return
			default:
			}
			continue
		}
		select {
		case r := <-l.ch:
			if w.records(r) < maxBatch {
				l.wait(t)
			}
		case <-notify:
		case <-l.stop:
			w.finish()
			return
		}
		select { // once Close has asked, finish (which heeds abort)
		case <-l.stop:
			w.finish()
			return
		default:
		}
	}
}

// batchWriter is the writer goroutine's state.
type batchWriter struct {
	l    *Logger
	e    *encoder
	recs []*Record
	buf  []byte
	ends []int
}

// wait lingers: it waits up to linger for more records to arrive, unless
// the buffer is already a quarter full; Log's wake or Close ends it early.
func (l *Logger) wait(t *time.Timer) {
	if len(l.ch) >= l.wakeAt {
		return
	}
	t.Reset(l.linger)
	select {
	case <-t.C:
	case <-l.wake:
		t.Stop()
	case <-l.stop:
		t.Stop()
	}
}

// records writes r and whatever else the buffer holds, up to maxBatch,
// and returns how many records it took.
func (w *batchWriter) records(r *Record) int {
	w.recs = append(w.recs[:0], r)
	for len(w.recs) < maxBatch {
		select {
		case r := <-w.l.ch:
			w.recs = append(w.recs, r)
			continue
		default:
		}
		break
	}
	w.buf, w.ends = w.buf[:0], w.ends[:0]
	for i, r := range w.recs {
		var why encResult
		if w.buf, why = w.l.encode(w.e, w.buf, r); why == encOK {
			w.ends = append(w.ends, len(w.buf))
		}
		w.recs[i] = nil
	}
	w.l.deliver(w.buf, w.ends, false)
	return len(w.recs)
}

// replay writes one chunk of the spill file.
func (w *batchWriter) replay() {
	var corrupt int
	var ok bool
	var err error
	w.buf, w.ends, corrupt, ok, err = w.l.spill.next(w.buf, w.ends, maxReplayLines)
	if err != nil {
		w.l.c.spillErr.Store(&err)
		w.l.c.setErr(err)
	}
	w.l.c.drop(dSpillCorrupt, uint64(corrupt))
	if ok && len(w.ends) > 0 {
		w.l.c.replayed.Add(uint64(len(w.ends)))
		w.l.deliver(w.buf, w.ends, false)
	}
}

// finish drains the buffer and the spill file, unless Close gives up.
func (w *batchWriter) finish() {
	for {
		select { // abort first: a select picks at random among ready cases
		case <-w.l.abort:
			n := 0
			for len(w.l.ch) > 0 {
				<-w.l.ch
				n++
			}
			w.l.c.drop(dCloseTimeout, uint64(n))
			return // the spill file keeps what it holds
		default:
		}
		select {
		case r := <-w.l.ch:
			w.records(r)
			continue
		default:
		}
		if w.l.spill == nil || w.l.spill.lines.Load() == 0 {
			if w.l.spill != nil {
				w.replay() // empties the file
			}
			return
		}
		w.replay()
	}
}

// deliver hands encoded lines to the sinks and counts them.
func (l *Logger) deliver(buf []byte, ends []int, durable bool) error {
	if len(ends) == 0 {
		return nil
	}
	n := len(ends)
	var err error
	if l.file != nil {
		var written int
		written, err = l.file.write(buf, ends, durable)
		if err != nil {
			l.c.sinkErrors.Add(1)
			l.c.fileErr.Store(&err)
			l.c.setErr(err)
			if durable {
				written = 0 // nothing of a failed commit is acknowledged
			}
			l.c.drop(dFileError, uint64(n-written))
		} else {
			l.c.fileErr.Store(nil)
		}
		l.c.logged.Add(uint64(written))
	} else {
		l.c.logged.Add(uint64(n))
	}
	if l.up != nil {
		start := 0
		for _, end := range ends {
			l.up.add(buf[start : end-1])
			start = end
		}
	}
	return err
}
