package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing/tracingtest"
)

// What the traced request carries that must never reach a trace: the uid,
// device, IP, card BIN, amount, transaction and request ids.
const (
	secretUID    = "u-trace-7f3a91"
	secretDevice = "dev-trace-c0ffee"
	secretIP     = "198.51.100.23"
	secretBIN    = "476173"
	secretAmount = "6873.25"
	secretTxn    = "txn-trace-5550123"
	secretReq    = "req-trace-0042"

	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan   = "00f067aa0ba902b7"
	callerParent = "00-" + callerTrace + "-" + callerSpan + "-01"
	callerState  = "vendor=opaque1"
)

var tracedBody = `{"request_id":"` + secretReq + `","stage":"payment","uid":"` + secretUID + `",
 "device":{"id":"` + secretDevice + `","ip":"` + secretIP + `","ip_country":"SG","new":true},
 "txn":{"id":"` + secretTxn + `","amount":` + secretAmount + `,"currency":"CNY","category":"digital","merchant":"m-1",
  "payment_method":"card","card_bin":"` + secretBIN + `","ship_country":"CN"},
 "account":{"home_country":"CN","created_at":"2021-03-01T00:00:00Z"},"context":{"channel":"app"}}`

// tracedServer is a Server over the embedded policies with risk state, the
// example plugins and the synchronous decision log (whose path it
// returns), tracing to the OTLP receiver the OTEL_* variables name.
func tracedServer(t *testing.T, withPlugins bool) (*Server, *tracing.Tracer, string) {
	t.Helper()
	tr, err := tracing.New(context.Background(), tracing.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if tr == nil {
		t.Fatal("tracing is off with OTEL_EXPORTER_OTLP_ENDPOINT set")
	}
	t.Cleanup(func() {
		// Bounded: an unreachable collector's export would hold it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	st, err := state.Open(state.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logPath := filepath.Join(t.TempDir(), "decisions.jsonl")
	dl, err := decisionlog.New(decisionlog.Config{Path: logPath, Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dl.Close(context.Background()) })
	o := benchOptions(t, true)
	o.State, o.DecisionLog, o.DecisionLogSync = st, dl, true
	if withPlugins {
		o.Plugins = examplePlugins(t)
	}
	cfg := config.Default()
	return New(Options{Config: cfg, Service: newDecide(t, o), Metrics: o.Metrics, Logger: slog.New(slog.DiscardHandler),
		Tracer: tr}), tr, logPath
}

// serveOne runs one request through the handler, as fasthttp would.
func serveOne(s *Server, path, body string, header map[string]string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI(path)
	req.Header.SetHost("127.0.0.1:9191")
	req.Header.SetContentType("application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.SetBodyString(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil) // a server's context (Done, Err) without one
	s.handle(&ctx)
	return &ctx
}

// setOTLP points the OTEL_* variables at r, with a short batch delay.
func setOTLP(t *testing.T, r *tracingtest.Receiver, protocol string) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
	t.Setenv("OTEL_SERVICE_NAME", "pdp-under-test")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// TestTraceDecision: a decision sent with a W3C traceparent is exported
// over OTLP/HTTP as a server span, the child of the caller's span in the
// caller's trace, with a child per step (decode, state, plugins, evaluate,
// log, apply); its attributes say the stage, outcome, reasons and
// evaluator; the decision log's record names the decision span; and no
// byte of any export holds the uid, device, IP, card BIN, amount,
// transaction or request id.
func TestTraceDecision(t *testing.T) {
	for _, protocol := range []string{tracing.ProtocolHTTP, tracing.ProtocolGRPC} {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) {
			r := tracingtest.NewHTTP(t)
			if protocol == tracing.ProtocolGRPC {
				r = tracingtest.NewGRPC(t)
			}
			setOTLP(t, r, protocol)
			s, tr, logPath := tracedServer(t, protocol == tracing.ProtocolHTTP)
			ctx := serveOne(s, "/v1/decide", tracedBody, map[string]string{"traceparent": callerParent, "tracestate": callerState})
			if ctx.Response.StatusCode() != 200 {
				t.Fatalf("decide: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			var answer struct {
				DecisionID string   `json:"decision_id"`
				Outcome    string   `json:"outcome"`
				Reasons    []string `json:"reasons"`
			}
			if err := json.Unmarshal(ctx.Response.Body(), &answer); err != nil {
				t.Fatal(err)
			}
			if err := tr.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			steps := []string{"decode", "state", "evaluate", "log", "apply"}
			if protocol == tracing.ProtocolHTTP {
				steps = append(steps, "plugins")
			}
			spans := r.WaitSpans(t, 1+len(steps))
			byName := map[string]tracingtest.Span{}
			for _, sp := range spans {
				if _, dup := byName[sp.Name]; dup {
					t.Fatalf("two spans named %q", sp.Name)
				}
				byName[sp.Name] = sp
			}
			root, ok := byName[routeDecide]
			if !ok {
				t.Fatalf("no %q span in %v", routeDecide, names(spans))
			}
			if root.Kind != tracepb.Span_SPAN_KIND_SERVER || root.TraceID != callerTrace || root.ParentID != callerSpan ||
				root.TraceState != callerState {
				t.Fatalf("root span: kind %v trace %s parent %s state %q; want server, the caller's trace, span and state",
					root.Kind, root.TraceID, root.ParentID, root.TraceState)
			}
			want := map[string]any{
				"riskpdp.decision_id": answer.DecisionID, "riskpdp.stage": "payment", "riskpdp.outcome": answer.Outcome,
				"riskpdp.reasons": int64(len(answer.Reasons)), "riskpdp.fallback": false, "riskpdp.evaluator": "fast",
				"http.request.method": "POST", "http.route": "/v1/decide", "http.response.status_code": int64(200),
			}
			for k, v := range want {
				if root.Attrs[k] != v {
					t.Errorf("root %s = %v (%T), want %v", k, root.Attrs[k], root.Attrs[k], v)
				}
			}
			if root.Resource["service.name"] != "pdp-under-test" || root.Resource["deployment.environment"] != "test" {
				t.Errorf("resource %v: want OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES", root.Resource)
			}
			for _, name := range steps {
				sp, ok := byName[name]
				if !ok {
					t.Errorf("no %q span in %v", name, names(spans))
					continue
				}
				if sp.ParentID != root.SpanID || sp.TraceID != callerTrace || sp.Kind != tracepb.Span_SPAN_KIND_INTERNAL {
					t.Errorf("%s: parent %s trace %s kind %v; want the decision span's child", name, sp.ParentID, sp.TraceID, sp.Kind)
				}
				if sp.StartUnixNano < root.StartUnixNano || sp.EndUnixNano > root.EndUnixNano {
					t.Errorf("%s is not within the decision span", name)
				}
			}
			if ev := byName["evaluate"]; ev.Attrs["riskpdp.evaluator"] != "fast" {
				t.Errorf("evaluate span: %v", ev.Attrs)
			}
			if pl, ok := byName["plugins"]; ok && pl.Attrs["riskpdp.plugins"] != int64(3) {
				t.Errorf("plugins span: %v, want 3 scores", pl.Attrs)
			}
			for _, raw := range r.Raw() {
				for _, secret := range []string{secretUID, secretDevice, secretIP, secretBIN, secretAmount, secretTxn, secretReq} {
					if bytes.Contains(raw, []byte(secret)) {
						t.Errorf("an export holds %q", secret)
					}
				}
			}
			rec := lastRecord(t, logPath)
			if rec["trace_id"] != callerTrace || rec["span_id"] != root.SpanID {
				t.Errorf("decision log trace_id %v span_id %v; want %s %s (the decision span)", rec["trace_id"], rec["span_id"],
					callerTrace, root.SpanID)
			}
		})
	}
}

// TestTraceOtherEndpoints: events, verifications, outcomes and appeals
// have a server span each, a new trace's root without a traceparent, with
// the status and, for a refusal, the error code; a 4xx does not fail the
// span.
func TestTraceOtherEndpoints(t *testing.T) {
	r := tracingtest.NewHTTP(t)
	setOTLP(t, r, tracing.ProtocolHTTP)
	s, tr, _ := tracedServer(t, false)
	cases := []struct {
		path, body string
		status     int
		errorType  string
	}{
		{"/v1/events", `{"uid":"` + secretUID + `","kind":"phone_change"}`, 200, ""},
		{"/v1/events", `{"uid":"` + secretUID + `","kind":"hair_cut"}`, 400, "invalid_value"},
		{"/v1/verifications", `{"challenge_id":"nope","result":"passed"}`, 400, ""},
		{"/v1/outcomes", `{"uid":"` + secretUID + `","txn_id":"` + secretTxn + `","status":"completed"}`, 404, "not_found"},
		{"/v1/appeals", `{}`, 400, ""},
	}
	for _, c := range cases {
		ctx := serveOne(s, c.path, c.body, nil)
		if ctx.Response.StatusCode() != c.status {
			t.Fatalf("%s %s: %d %s", c.path, c.body, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := r.WaitSpans(t, len(cases))
	if len(spans) != len(cases) {
		t.Fatalf("spans %v, want one per request", names(spans))
	}
	for i, c := range cases {
		sp := spans[i]
		if sp.Name != "POST "+c.path || sp.ParentID != "" || sp.Kind != tracepb.Span_SPAN_KIND_SERVER ||
			sp.Attrs["http.response.status_code"] != int64(c.status) {
			t.Errorf("%s: span %q parent %q kind %v attrs %v", c.path, sp.Name, sp.ParentID, sp.Kind, sp.Attrs)
		}
		if _, failed := sp.Attrs["error.type"]; failed != (c.status >= 400) {
			t.Errorf("%s: error.type %v for status %d", c.path, sp.Attrs["error.type"], c.status)
		}
		if c.errorType != "" && sp.Attrs["error.type"] != c.errorType {
			t.Errorf("%s: error.type %v, want %s", c.path, sp.Attrs["error.type"], c.errorType)
		}
		if sp.StatusCode == tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("%s: a %d failed the span", c.path, c.status)
		}
	}
	for _, raw := range r.Raw() {
		for _, secret := range []string{secretUID, secretTxn} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("an export holds %q", secret)
			}
		}
	}
}

// TestTraceSampledOut: a caller's unsampled traceparent is followed (the
// default sampler is parent-based): nothing is exported, the decision is
// made, and its record still carries the caller's trace id.
func TestTraceSampledOut(t *testing.T) {
	r := tracingtest.NewHTTP(t)
	setOTLP(t, r, tracing.ProtocolHTTP)
	s, tr, logPath := tracedServer(t, false)
	ctx := serveOne(s, "/v1/decide", tracedBody, map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-00"})
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("decide: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	// A sampled one after it, so that the flush below proves the first
	// was not queued rather than not yet sent.
	serveOne(s, "/v1/decide", tracedBody, map[string]string{"traceparent": callerParent})
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, sp := range r.WaitSpans(t, 6) {
		if sp.Name == routeDecide && sp.ParentID != callerSpan {
			t.Fatalf("exported a decision span of another parent: %+v", sp)
		}
	}
	recs := records(t, logPath)
	if len(recs) != 2 || recs[0]["trace_id"] != callerTrace {
		t.Fatalf("records %v: want the unsampled caller's trace id in the first", recs)
	}
}

// TestTraceUnreachableCollector: a collector that never answers (each
// export hangs until the test ends) neither slows nor fails decisions: with
// an export in flight and the span queue full, hundreds more are answered
// 200 (the batch processor drops the spans it cannot queue).
func TestTraceUnreachableCollector(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	}))
	// Close waits for the handlers: release them first (LIFO).
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", hang.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tracing.ProtocolHTTP)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "1")
	t.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "16")
	t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8")
	s, _, _ := tracedServer(t, false)
	decideOK := func(n int) {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n / 4 {
					ctx := serveOne(s, "/v1/decide", tracedBody, map[string]string{"traceparent": callerParent})
					if ctx.Response.StatusCode() != 200 {
						t.Errorf("worker %d: %d %s", w, ctx.Response.StatusCode(), ctx.Response.Body())
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	decideOK(8)
	select {
	case <-entered:
	case <-time.After(time.Minute): // a deadline against a hang, not a measure
		t.Fatal("no export reached the collector")
	}
	decideOK(400) // ~2 800 spans against a queue of 16, the export stuck
}

func names(spans []tracingtest.Span) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name)
	}
	return n
}

// records reads the decision log's records.
func records(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func lastRecord(t *testing.T, path string) map[string]any {
	t.Helper()
	recs := records(t, path)
	if len(recs) == 0 {
		t.Fatal("no decision recorded")
	}
	return recs[len(recs)-1]
}
