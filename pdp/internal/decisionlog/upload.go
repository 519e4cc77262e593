package decisionlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/backoff"
)

// The upload sink batches encoded records into JSON arrays and POSTs them
// gzip-compressed, as OPA's decision log plugin does (v1/plugins/logs:
// Content-Type application/json, Content-Encoding gzip, any 2xx is
// success, anything else is retried). Batches wait in a queue, oldest
// first, bounded in bytes; the oldest is dropped to make room. A batch is
// compressed once, the first time it is sent, and kept compressed for
// retries. Delivery is at least once: a request that timed out may have
// been received, and is sent again.

type upBatch struct {
	raw  []byte // "[...]" until compressed
	gz   []byte
	n    int   // records
	size int64 // bytes it holds in memory
}

type uploader struct {
	url        string
	headers    map[string]string
	tokenFile  string
	client     *http.Client
	timeout    time.Duration
	batchBytes int
	interval   time.Duration
	maxBytes   int64
	minBackoff time.Duration
	maxBackoff time.Duration
	c          *counters

	mu      sync.Mutex
	cur     []byte // "[" and the records so far, comma-separated
	curN    int
	queue   []*upBatch // sealed batches, oldest first
	held    int64      // bytes of cur, queue and the batch in flight
	pending atomic.Int64

	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closeCtx context.Context // set before stop is closed
	unsent   int             // records drain gave up on

	gzw *gzip.Writer // reused by run
}

func newUploader(cfg Config, c *counters) *uploader {
	return &uploader{
		url: cfg.UploadURL, headers: cfg.UploadHeaders, tokenFile: cfg.UploadTokenFile,
		client:     &http.Client{},
		timeout:    cfg.UploadTimeout,
		batchBytes: cfg.UploadBatchBytes,
		interval:   cfg.UploadInterval,
		maxBytes:   cfg.UploadBufferBytes,
		minBackoff: 100 * time.Millisecond,
		maxBackoff: 30 * time.Second,
		c:          c,
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// add queues one encoded record (no trailing newline). It never blocks on
// the network.
func (u *uploader) add(line []byte) {
	u.mu.Lock()
	if u.curN > 0 && len(u.cur)+len(line)+2 > u.batchBytes {
		u.sealLocked()
	}
	if u.curN == 0 {
		u.cur = append(u.cur[:0], '[')
		u.held++
	} else {
		u.cur = append(u.cur, ',')
	}
	u.cur = append(u.cur, line...)
	u.curN++
	u.held += int64(len(line) + 1)
	u.pending.Add(1)
	for u.held > u.maxBytes && len(u.queue) > 0 {
		old := u.queue[0]
		u.queue[0] = nil
		u.queue = u.queue[1:]
		u.held -= old.size
		u.pending.Add(-int64(old.n))
		u.c.drop(dUploadOverflow, uint64(old.n))
	}
	if len(u.cur) >= u.batchBytes {
		u.sealLocked()
	}
	u.mu.Unlock()
}

func (u *uploader) sealLocked() {
	if u.curN == 0 {
		return
	}
	u.cur = append(u.cur, ']')
	u.queue = append(u.queue, &upBatch{raw: u.cur, n: u.curN, size: int64(len(u.cur))})
	u.cur, u.curN = make([]byte, 0, min(u.batchBytes+1024, 64<<10)), 0
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

func (u *uploader) seal() {
	u.mu.Lock()
	u.sealLocked()
	u.mu.Unlock()
}

// take removes the oldest batch; put returns it to the front after a
// failure.
func (u *uploader) take() *upBatch {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.queue) == 0 {
		return nil
	}
	b := u.queue[0]
	u.queue[0] = nil
	u.queue = u.queue[1:]
	return b
}

func (u *uploader) put(b *upBatch) {
	u.mu.Lock()
	u.queue = append([]*upBatch{b}, u.queue...)
	u.mu.Unlock()
}

func (u *uploader) done1(b *upBatch) {
	u.mu.Lock()
	u.held -= b.size
	u.mu.Unlock()
	u.pending.Add(-int64(b.n))
}

// run sends batches until Close, then drains within Close's context.
func (u *uploader) run() {
	defer close(u.done)
	tick := time.NewTicker(u.interval)
	defer tick.Stop()
	retry := u.backoff()
	for {
		select {
		case <-u.kick:
		case <-tick.C:
			u.seal()
		case <-u.stop:
			u.drain()
			return
		}
		for b := u.take(); b != nil; b = u.take() {
			if err := u.send(context.Background(), b); err != nil {
				u.put(b)
				select {
				case <-time.After(retry.NextBackOff()):
				case <-u.stop:
					u.drain()
					return
				}
				continue
			}
			retry.Reset()
		}
	}
}

// drain sends everything left, retrying until closeCtx ends; what is left
// then is counted as unsent.
func (u *uploader) drain() {
	ctx := u.closeCtx
	u.seal()
	retry := u.backoff()
	for b := u.take(); b != nil; b = u.take() {
		if err := u.send(ctx, b); err != nil {
			u.put(b)
			select {
			case <-time.After(retry.NextBackOff()):
				continue
			case <-ctx.Done():
			}
			for b := u.take(); b != nil; b = u.take() {
				u.done1(b)
				u.unsent += b.n
				u.c.drop(dUploadUnsent, uint64(b.n))
			}
			return
		}
	}
}

// send POSTs one batch; on success it is accounted for, on failure the
// caller puts it back.
func (u *uploader) send(ctx context.Context, b *upBatch) error {
	if b.gz == nil {
		var buf bytes.Buffer
		if u.gzw == nil {
			u.gzw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		} else {
			u.gzw.Reset(&buf)
		}
		u.gzw.Write(b.raw) // a bytes.Buffer does not fail
		u.gzw.Close()
		b.gz = buf.Bytes()
		u.mu.Lock()
		u.held += int64(len(b.gz)) - b.size
		u.mu.Unlock()
		b.size, b.raw = int64(len(b.gz)), nil
	}
	err := u.post(ctx, b.gz)
	if err != nil {
		u.c.uploadErrors.Add(1)
		u.c.setErr(err)
		return err
	}
	u.done1(b)
	u.c.uploaded.Add(uint64(b.n))
	u.c.uploadBatches.Add(1)
	return nil
}

func (u *uploader) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	for k, v := range u.headers {
		req.Header.Set(k, v)
	}
	if u.tokenFile != "" {
		tok, err := os.ReadFile(u.tokenFile)
		if err != nil {
			return fmt.Errorf("upload: token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("upload: %s: %w", resp.Status, errUploadStatus)
	}
	return nil
}

var errUploadStatus = errors.New("endpoint refused the batch")

// close drains within ctx and stops run.
func (u *uploader) close(ctx context.Context) error {
	u.closeCtx = ctx
	close(u.stop)
	<-u.done // drain gives up when ctx ends
	if u.unsent > 0 {
		return fmt.Errorf("decisionlog: %d records not uploaded: %w", u.unsent, ctx.Err())
	}
	return nil
}

// backoff is the wait after each failed send: minBackoff, doubling up to
// maxBackoff, ±20% jitter; a successful send starts it over.
func (u *uploader) backoff() *backoff.Backoff {
	return backoff.Exponential(u.minBackoff, u.maxBackoff, 2, 0.2)
}
