package bench

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Load is one load phase against one target.
type Load struct {
	// Addr is HOST:PORT; Path the URL path every request is POSTed to.
	Addr, Path string
	// Bodies are cycled through in order, shared by all connections.
	Bodies [][]byte
	// Conns is the number of connections (and sending goroutines).
	Conns int
	// Duration of the measured phase.
	Duration time.Duration
	// Rate is the offered rate in requests per second for an open loop;
	// 0 runs a closed loop (each connection sends as soon as it has its
	// answer: the throughput at saturation).
	Rate float64
	// Timeout bounds one request. Default 5 s.
	Timeout time.Duration
	// Sessions, when set, replaces Bodies: the load is the queue's
	// sessions of calls (a customer's order, its payment, the answers to
	// a step-up, ...), each call made when it is due (its delay after the
	// answer before it), to the path the session names. Every decide call
	// takes one send slot (closed loop: the next free connection; open
	// loop: the next intended send time), a due one before a new session's
	// first; decide answers are what Requests, Latency and Outcomes count.
	// The other calls (verifications, events, outcome reports) are
	// SideCalls, sent when due by SideConns connections of their own, on
	// top of the decisions (as in production, where they do not take a
	// payment's place). The queue keeps its sessions in progress from one
	// Run to the next.
	Sessions *SessionQueue
	// SideConns is the number of connections sending side calls (default
	// Conns, at least 2: enough to send them when due, so that no backlog
	// of them builds up in one phase to burst into the next).
	SideConns int
}

// Percentiles of a latency distribution, microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

func percentiles(h *hdrhistogram.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	q := h.ValueAtPercentiles([]float64{50, 90, 99, 99.9})
	return Percentiles{Count: h.TotalCount(), Mean: h.Mean(), P50: float64(q[50]), P90: float64(q[90]),
		P99: float64(q[99]), P999: float64(q[99.9]), Max: float64(h.Max())}
}

// LoadResult is what one phase measured.
type LoadResult struct {
	Mode        string  `json:"mode"` // "closed" or "open"
	Conns       int     `json:"conns"`
	OfferedRate float64 `json:"offered_rps,omitempty"`
	Seconds     float64 `json:"seconds"`
	// Requests were answered 200 with an outcome; Errors were not
	// (transport error, timeout, other status, no outcome).
	Requests    int64  `json:"requests"`
	Errors      int64  `json:"errors"`
	ErrorSample string `json:"error_sample,omitempty"`
	// Unsent requests of an open loop were due but never sent before the
	// phase's hard stop (the target fell too far behind); each is in
	// Latency with the time it had waited by then, a lower bound.
	Unsent     int64   `json:"unsent,omitempty"`
	Throughput float64 `json:"throughput_rps"`
	// Latency: closed loop, from send to answer; open loop, from the
	// intended send time to the answer (corrected for coordinated
	// omission: a request the client could not send on time because the
	// target was slow counts the wait).
	Latency Percentiles `json:"latency"`
	// Service (open loop): from the actual send to the answer.
	Service *Percentiles `json:"service,omitempty"`
	// SendLag (open loop): actual minus intended send time, the client's
	// own scheduling delay plus any wait for a free connection.
	SendLag *Percentiles `json:"send_lag,omitempty"`
	// TookUs: the sidecar's own took_us, when answers carry it.
	TookUs *Percentiles `json:"took_us,omitempty"`
	// Sessions started and SideCalls answered (verifications and events)
	// with their latency, when the load is sessions.
	Sessions    int64            `json:"sessions,omitempty"`
	SideCalls   int64            `json:"side_calls,omitempty"`
	SideLatency *Percentiles     `json:"side_latency,omitempty"`
	Outcomes    map[string]int64 `json:"outcomes"`
	// Reasons counts the first reason code of each step_up and deny
	// answer: where the two targets' outcome shares differ, this says why.
	Reasons map[string]int64 `json:"reasons,omitempty"`
	Usage   *Usage           `json:"server_usage,omitempty"`

	hist *hdrhistogram.Histogram
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 3) }

// worker is the state of one sending goroutine.
type worker struct {
	lat, svc, lag, took, side *hdrhistogram.Histogram
	outcomes, reasons         map[string]int64
	ok, errs, sideOK          int64
	errSample                 string
}

func (w *worker) fail(err string) {
	w.errs++
	if w.errSample == "" {
		w.errSample = err
	}
}

// answer checks one response; it returns whether it counts as answered.
func (w *worker) answer(resp *fasthttp.Response, err error) bool {
	if err != nil {
		w.fail(err.Error())
		return false
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		w.fail(fmt.Sprintf("status %d: %.200s", sc, resp.Body()))
		return false
	}
	outcome, took, ok := ParseAnswer(resp.Body())
	if !ok {
		w.fail(fmt.Sprintf("no outcome in %.200s", resp.Body()))
		return false
	}
	w.ok++
	w.outcomes[outcome]++
	if outcome != "allow" {
		w.reasons[outcome+":"+FirstReason(resp.Body())]++
	}
	if took >= 0 {
		_ = w.took.RecordValue(max(took, 1))
	}
	return true
}

// sideAnswer checks the answer to a session's verification or event.
func (w *worker) sideAnswer(path string, resp *fasthttp.Response, err error) bool {
	if err != nil {
		w.fail(err.Error())
		return false
	}
	if sc := resp.StatusCode(); sc < 200 || sc > 299 {
		w.fail(fmt.Sprintf("%s: status %d: %.200s", path, sc, resp.Body()))
		return false
	}
	w.sideOK++
	return true
}

func us(d time.Duration) int64 { return max(d.Microseconds(), 1) }

// sideCalls sends q's side calls when they are due, from start until end:
// each answer is checked and its latency recorded in w, and the session's
// next call queued.
func sideCalls(hc *fasthttp.HostClient, base string, q *SessionQueue, w *worker, start, end time.Time, timeout time.Duration) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	var uri []byte
	time.Sleep(time.Until(start))
	for {
		now := time.Now()
		if !now.Before(end) {
			return
		}
		call, next, ok := q.takeSide(now)
		if !ok {
			// Nothing due: wait for the next one (or a little, for
			// the calls the decisions' answers will queue).
			wait := 2 * time.Millisecond
			if !next.IsZero() {
				wait = min(wait, next.Sub(now))
			}
			time.Sleep(min(wait, end.Sub(now)))
			continue
		}
		uri = append(append(uri[:0], base...), call.path...)
		req.SetRequestURIBytes(uri)
		req.SetBodyRaw(call.body)
		t0 := time.Now()
		err := hc.DoTimeout(req, resp, timeout)
		t1 := time.Now()
		if w.sideAnswer(string(call.path), resp, err) {
			_ = w.side.RecordValue(us(t1.Sub(t0)))
			if qerr := q.answered(call.s, resp.Body(), t1); qerr != nil {
				w.fail(qerr.Error())
			}
		}
	}
}

// Run drives the target and returns what it measured.
func Run(l Load) (*LoadResult, error) {
	if l.Conns <= 0 || (len(l.Bodies) == 0 && l.Sessions == nil) || l.Duration <= 0 {
		return nil, errors.New("load: conns, bodies (or sessions) and duration are required")
	}
	if l.Timeout <= 0 {
		l.Timeout = 5 * time.Second
	}
	queue := l.Sessions
	sideConns := 0
	if queue != nil {
		sideConns = l.SideConns
		if sideConns <= 0 {
			sideConns = max(2, l.Conns)
		}
	}
	hc := &fasthttp.HostClient{Addr: l.Addr, MaxConns: l.Conns + sideConns, ReadTimeout: l.Timeout, WriteTimeout: l.Timeout,
		MaxIdleConnDuration: time.Minute, MaxConnWaitTimeout: l.Timeout}
	defer hc.CloseIdleConnections()
	uri := "http://" + l.Addr + l.Path
	workers := make([]*worker, l.Conns)
	var next atomic.Uint64
	var wg sync.WaitGroup

	open := l.Rate > 0
	start := time.Now().Add(20 * time.Millisecond)
	end := start.Add(l.Duration)
	// An open loop that falls behind stops at hardStop; what was due by
	// then and never sent is counted as unsent.
	hardStop := end.Add(max(l.Duration/2, 2*time.Second))
	intervalNs := 0.0
	total := uint64(0)
	if open {
		intervalNs = 1e9 / l.Rate
		total = uint64(l.Rate * l.Duration.Seconds())
	}
	due := func(i uint64) time.Time { return start.Add(time.Duration(float64(i) * intervalNs)) }
	var sent atomic.Uint64
	var started int64
	if queue != nil {
		started = queue.started.Load()
	}
	for k := range workers {
		w := &worker{lat: newHist(), took: newHist(), side: newHist(), outcomes: map[string]int64{}, reasons: map[string]int64{}}
		if open {
			w.svc, w.lag = newHist(), newHist()
		}
		workers[k] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(uri)
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			time.Sleep(time.Until(start))
			for {
				i := next.Add(1) - 1
				var intended time.Time
				if open {
					if i >= total {
						return
					}
					intended = due(i)
					if d := time.Until(intended); d > 0 {
						time.Sleep(d)
					} else if time.Now().After(hardStop) {
						return
					}
				} else if time.Now().After(end) {
					return
				}
				var call pendingCall
				if queue != nil {
					var err error
					if call, err = queue.take(time.Now()); err != nil {
						w.fail(err.Error())
						return
					}
					req.SetBodyRaw(call.body)
				} else {
					req.SetBodyRaw(l.Bodies[i%uint64(len(l.Bodies))])
				}
				t0 := time.Now()
				err := hc.DoTimeout(req, resp, l.Timeout)
				t1 := time.Now()
				if open {
					sent.Add(1)
				}
				if !w.answer(resp, err) {
					continue
				}
				if queue != nil {
					if qerr := queue.answered(call.s, resp.Body(), t1); qerr != nil {
						w.fail(qerr.Error())
					}
				}
				if open {
					_ = w.lat.RecordValue(us(t1.Sub(intended)))
					_ = w.svc.RecordValue(us(t1.Sub(t0)))
					_ = w.lag.RecordValue(us(t0.Sub(intended)))
				} else {
					_ = w.lat.RecordValue(us(t1.Sub(t0)))
				}
			}
		}()
	}
	// Side calls: verifications, events and outcome reports when due, on
	// connections of their own, until the decisions' phase ends.
	for range sideConns {
		w := &worker{lat: newHist(), took: newHist(), side: newHist(), outcomes: map[string]int64{}}
		workers = append(workers, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sideCalls(hc, "http://"+l.Addr, queue, w, start, end, l.Timeout)
		}()
	}
	wg.Wait()
	finished := time.Now()

	res := &LoadResult{Mode: "closed", Conns: l.Conns, Outcomes: map[string]int64{}, hist: newHist()}
	svc, lag, took, side := newHist(), newHist(), newHist(), newHist()
	for _, w := range workers {
		res.hist.Merge(w.lat)
		took.Merge(w.took)
		side.Merge(w.side)
		res.SideCalls += w.sideOK
		if open && w.svc != nil {
			svc.Merge(w.svc)
			lag.Merge(w.lag)
		}
		res.Requests += w.ok
		res.Errors += w.errs
		if res.ErrorSample == "" {
			res.ErrorSample = w.errSample
		}
		for k, v := range w.outcomes {
			res.Outcomes[k] += v
		}
		for k, v := range w.reasons {
			if res.Reasons == nil {
				res.Reasons = map[string]int64{}
			}
			res.Reasons[k] += v
		}
	}
	res.Seconds = finished.Sub(start).Seconds()
	if open {
		res.Mode, res.OfferedRate = "open", l.Rate
		for i := sent.Load(); i < total; i++ {
			_ = res.hist.RecordValue(us(finished.Sub(due(i))))
			res.Unsent++
		}
		s, g := percentiles(svc), percentiles(lag)
		res.Service, res.SendLag = &s, &g
		// The offered load ends at end: throughput over the phase as
		// scheduled, or longer when the target fell behind.
		res.Seconds = max(l.Duration.Seconds(), res.Seconds)
	}
	if took.TotalCount() > 0 {
		t := percentiles(took)
		res.TookUs = &t
	}
	if queue != nil {
		res.Sessions = queue.started.Load() - started
		if side.TotalCount() > 0 {
			p := percentiles(side)
			res.SideLatency = &p
		}
	}
	res.Latency = percentiles(res.hist)
	if res.Seconds > 0 {
		res.Throughput = float64(res.Requests) / res.Seconds
	}
	return res, nil
}

// ParseAnswer finds the outcome and, when present, took_us in an answer
// of the sidecar ({"outcome":"allow",…,"took_us":31}), of OPA
// ({"result":{"outcome":…}}) or of the floor. took is -1 when absent.
func ParseAnswer(b []byte) (outcome string, took int64, ok bool) {
	const key = `"outcome":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", -1, false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 || j > 16 {
		return "", -1, false
	}
	switch o := string(rest[:j]); o {
	case "allow", "step_up", "deny":
		outcome = o
	default:
		return "", -1, false
	}
	took = -1
	const tk = `"took_us":`
	if k := bytes.Index(b, []byte(tk)); k >= 0 {
		num := b[k+len(tk):]
		n := 0
		for n < len(num) && n < 19 && num[n] >= '0' && num[n] <= '9' {
			n++
		}
		if v, err := strconv.ParseInt(string(num[:n]), 10, 64); err == nil {
			took = v
		}
	}
	return outcome, took, true
}

// FirstReason returns the first entry of the answer's "reasons" array
// when it is a plain string code (both the sidecar and the OPA decision
// rule answer that way), "none" for an empty array and "?" otherwise.
func FirstReason(b []byte) string {
	const key = `"reasons":[`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "?"
	}
	rest := b[i+len(key):]
	if len(rest) > 0 && rest[0] == ']' {
		return "none"
	}
	if len(rest) < 2 || rest[0] != '"' {
		return "?"
	}
	j := bytes.IndexByte(rest[1:], '"')
	if j <= 0 || j > 64 {
		return "?"
	}
	return string(rest[1 : 1+j])
}
