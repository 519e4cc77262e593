package decisionlog

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// collector is an upload endpoint that decodes OPA-style batches.
type collector struct {
	t        *testing.T
	mu       sync.Mutex
	ids      map[string]int // request_id → times received
	requests int
	failNext int           // answer this many requests with 500
	failAll  bool          // answer every request with 503
	hangNext int           // hold this many requests past the client timeout
	hang     time.Duration //
	auth     []string
	raw      strings.Builder
}

func newCollector(t *testing.T) (*collector, *httptest.Server) {
	c := &collector{t: t, ids: map[string]int{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests++
	fail := c.failAll || c.failNext > 0
	hang := !fail && c.hangNext > 0
	if c.failNext > 0 {
		c.failNext--
	}
	if hang {
		c.hangNext--
	}
	c.auth = append(c.auth, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Pdp"))
	c.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/json" {
		c.t.Errorf("request %s %q %q", r.Method, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type"))
	}
	if hang {
		time.Sleep(c.hang)
	}
	if fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		c.t.Errorf("gzip: %v", err)
		http.Error(w, "bad gzip", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		c.t.Errorf("gzip body: %v", err)
	}
	var events []Record
	if err := json.Unmarshal(body, &events); err != nil {
		c.t.Errorf("not a JSON array of events: %v", err)
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, e := range events {
		c.ids[e.RequestID]++
	}
	c.raw.Write(body)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *collector) received() (distinct, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.ids {
		distinct++
		total += n
	}
	return distinct, total
}

func fastRetry(u *uploader) { u.minBackoff, u.maxBackoff = time.Millisecond, 20*time.Millisecond }

func TestUpload(t *testing.T) {
	c, srv := newCollector(t)
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("s3cr3t-token\n"), 0o600)
	l := newLogger(t, Config{
		UploadURL: srv.URL + "/logs", UploadBatchBytes: 16 << 10, UploadTokenFile: tok,
		UploadHeaders: map[string]string{"X-Pdp": "pdp-0"}, testUploader: fastRetry,
	})
	const n = 1000
	for i := range n {
		r := typicalRecord(i)
		if i%50 == 0 {
			r = leakyRecord(i)
		}
		if err := l.Log(r); err != nil {
			t.Fatal(err)
		}
	}
	closeLogger(t, l)
	distinct, total := c.received()
	st := l.Stats()
	if distinct != n || total != n || st.Uploaded != n || st.Logged != n || st.UploadPending != 0 {
		t.Fatalf("received %d distinct, %d total; stats %+v", distinct, total, st)
	}
	if st.UploadBatches < 10 {
		t.Fatalf("%d batches of at most 16 KiB for %d records", st.UploadBatches, n)
	}
	if c.auth[0] != "Bearer s3cr3t-token|pdp-0" {
		t.Fatalf("headers %q", c.auth[0])
	}
	for _, s := range secretValues {
		if strings.Contains(c.raw.String(), s) {
			t.Fatalf("secret %q uploaded", s)
		}
	}
}

// TestUploadRetries: server errors and a timeout are retried until every
// record is delivered.
func TestUploadRetries(t *testing.T) {
	c, srv := newCollector(t)
	c.failNext, c.hangNext, c.hang = 3, 1, 300*time.Millisecond
	l := newLogger(t, Config{
		UploadURL: srv.URL, UploadBatchBytes: 8 << 10, UploadTimeout: 100 * time.Millisecond,
		testUploader: fastRetry,
	})
	for i := range 200 {
		if err := l.Log(smallRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeLogger(t, l)
	distinct, total := c.received()
	st := l.Stats()
	if distinct != 200 || st.Uploaded != 200 || st.UploadErrors < 4 {
		t.Fatalf("received %d distinct (%d total); stats %+v", distinct, total, st)
	}
	if err := l.Healthy(); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Fatalf("unhealthy after retries that succeeded: %v", err)
	}
}

// TestUploadBounded: with the endpoint down, the upload buffer stays within
// its bound by dropping the oldest batches, and Close gives up in time; all
// of it counted.
func TestUploadBounded(t *testing.T) {
	c, srv := newCollector(t)
	c.failAll = true
	l := newLogger(t, Config{
		UploadURL: srv.URL, UploadBatchBytes: 4 << 10, UploadBufferBytes: 32 << 10,
		testUploader: fastRetry,
	})
	const n = 2000
	var held int64
	for i := range n {
		if err := l.Log(smallRecord(i)); err != nil {
			t.Fatal(err)
		}
		held = max(held, l.Stats().UploadBytes)
	}
	waitFor(t, func() bool { return l.Stats().Logged == n })
	if err := l.Healthy(); err == nil {
		t.Fatal("healthy while dropping uploads")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := l.Close(ctx); err == nil {
		t.Fatal("Close reported success with the endpoint down")
	}
	st := l.Stats()
	over, unsent := st.Dropped[DropUploadOverflow], st.Dropped[DropUploadUnsent]
	if over == 0 || unsent == 0 || over+unsent != n || st.Uploaded != 0 || st.UploadPending != 0 {
		t.Fatalf("overflow %d unsent %d; stats %+v", over, unsent, st)
	}
	if held > 32<<10+2*(4<<10) { // the bound, plus a batch in flight and one filling
		t.Fatalf("%d bytes held for upload", held)
	}
	t.Logf("at most %d bytes held; %d records dropped, %d unsent", held, over, unsent)
}

// TestBothSinks: the file and the endpoint each get every record.
func TestBothSinks(t *testing.T) {
	c, srv := newCollector(t)
	path := logPath(t)
	l := newLogger(t, Config{Path: path, UploadURL: srv.URL, UploadInterval: 10 * time.Millisecond})
	for i := range 500 {
		if err := l.Log(smallRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The interval sends a partial batch without waiting for Close.
	waitFor(t, func() bool { d, _ := c.received(); return d == 500 })
	closeLogger(t, l)
	if recs, _ := readAll(t, path); len(recs) != 500 {
		t.Fatalf("%d records in the file", len(recs))
	}
}
