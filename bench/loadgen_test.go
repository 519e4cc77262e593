package bench

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestParseAnswer(t *testing.T) {
	for _, c := range []struct {
		body    string
		outcome string
		took    int64
		ok      bool
	}{
		{`{"decision_id":"x","outcome":"step_up","reasons":["large_amount"],"took_us":31}`, "step_up", 31, true},
		{`{"result":{"outcome":"deny","reasons":["blocked_device"],"obligations":[]}}`, "deny", -1, true},
		{string(floorAnswer), "allow", 0, true},
		{`{"outcome":"maybe"}`, "", -1, false},
		{`{"result":{}}`, "", -1, false},
		{`{"outcome":"allow`, "", -1, false},
		{``, "", -1, false},
	} {
		o, took, ok := ParseAnswer([]byte(c.body))
		if o != c.outcome || took != c.took || ok != c.ok {
			t.Errorf("ParseAnswer(%s) = %q, %d, %v; want %q, %d, %v", c.body, o, took, ok, c.outcome, c.took, c.ok)
		}
	}
}

func TestFirstReason(t *testing.T) {
	for body, want := range map[string]string{
		`{"outcome":"deny","reasons":["blocked_device","x"]}`: "blocked_device",
		`{"result":{"outcome":"allow","reasons":[]}}`:         "none",
		`{"outcome":"deny","reasons":[{"reason":"x"}]}`:       "?",
		`{"outcome":"deny"}`:                                  "?",
		`{"reasons":["unterminated`:                           "?",
	} {
		if got := FirstReason([]byte(body)); got != want {
			t.Errorf("FirstReason(%s) = %q, want %q", body, got, want)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(floorAnswer))
	f.Add([]byte(`{"result":{"outcome":"deny","reasons":["a"]},"took_us":99999999999999999999}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, took, ok := ParseAnswer(b)
		if ok != (o == "allow" || o == "step_up" || o == "deny") {
			t.Fatalf("ok=%v with outcome %q", ok, o)
		}
		if !ok && took != -1 {
			t.Fatalf("took %d without an outcome", took)
		}
		_ = FirstReason(b)
	})
}

// serve runs h on a loopback listener for the test.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func TestRunClosedAndOpen(t *testing.T) {
	addr := serve(t, FloorHandler)
	bodies := [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}
	closed, err := Run(Load{Addr: addr, Path: "/v1/decide", Bodies: bodies, Conns: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if closed.Mode != "closed" || closed.Requests == 0 || closed.Errors != 0 || closed.Latency.Count != closed.Requests ||
		closed.Outcomes["allow"] != closed.Requests || closed.Throughput <= 0 {
		t.Fatalf("closed loop: %+v", closed)
	}
	open, err := Run(Load{Addr: addr, Path: "/v1/decide", Bodies: bodies, Conns: 4, Duration: 500 * time.Millisecond, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	// 200/s for 0.5 s: exactly 100 requests are due, all answered.
	if open.Mode != "open" || open.Requests != 100 || open.Unsent != 0 || open.Errors != 0 || open.Latency.Count != 100 ||
		open.Service == nil || open.SendLag == nil || open.Service.Count != 100 {
		t.Fatalf("open loop: %+v", open)
	}
	if open.Latency.P50 < open.Service.P50 {
		t.Errorf("latency from the intended time (p50 %v) below the service time (p50 %v)", open.Latency.P50, open.Service.P50)
	}
}

// A target slower than the offered rate: the open loop charges each
// request the wait since its intended send time (coordinated omission
// corrected), and what it never sent is counted, not dropped.
func TestOpenLoopSlowTarget(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(100 * time.Millisecond)
		FloorHandler(ctx)
	})
	res, err := Run(Load{Addr: addr, Path: "/", Bodies: [][]byte{[]byte(`{}`)}, Conns: 1, Duration: time.Second, Rate: 50})
	if err != nil {
		t.Fatal(err)
	}
	// 50 due in 1 s, one at a time at 100 ms each, until the hard stop 2 s
	// after the end: about 30 answered, the rest unsent.
	if res.Requests < 10 || res.Requests >= 50 || res.Unsent == 0 || res.Requests+res.Unsent != 50 || res.Latency.Count != 50 {
		t.Fatalf("requests %d unsent %d recorded %d", res.Requests, res.Unsent, res.Latency.Count)
	}
	// The service time stays near 100 ms; the corrected latency grows to
	// seconds, as a caller would see it.
	if res.Service.P50 > 500_000 || res.Latency.P99 < 1_000_000 {
		t.Fatalf("service p50 %v µs, latency p99 %v µs", res.Service.P50, res.Latency.P99)
	}
}

func TestRunErrorsCounted(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"error":"bad"}`)
	})
	res, err := Run(Load{Addr: addr, Path: "/", Bodies: [][]byte{[]byte(`{}`)}, Conns: 1, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors == 0 || !strings.Contains(res.ErrorSample, "status 400") {
		t.Fatalf("%+v", res)
	}
	if err := Check(&Results{}); err == nil {
		t.Fatal("Check passed an empty result")
	}
}
