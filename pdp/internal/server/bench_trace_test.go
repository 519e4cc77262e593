package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
)

// BenchmarkHandlerTracing is BenchmarkHandler with a traceparent header:
// tracing off (no OTEL_* variable: the zero spans), on and sampled (seven
// spans a decision, batched and exported over OTLP/HTTP to an in-process
// collector that reads and drops them; cpu-ns/op counts the export and
// the collector too, both in this process), and on with the caller's
// trace not sampled (the span's ids only).
func BenchmarkHandlerTracing(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchTraced(b, nil, callerParent) })
	b.Run("on", func(b *testing.B) { benchTraced(b, benchTracer(b), callerParent) })
	b.Run("on_unsampled", func(b *testing.B) {
		benchTraced(b, benchTracer(b), "00-"+callerTrace+"-"+callerSpan+"-00")
	})
}

// benchTracer traces to an OTLP/HTTP collector that drops what it reads.
func benchTracer(b *testing.B) *tracing.Tracer {
	b.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(sink.Close)
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.URL)
	b.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tracing.ProtocolHTTP)
	tr, err := tracing.New(context.Background(), tracing.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil || tr == nil {
		b.Fatalf("tracing.New = %v, %v", tr, err)
	}
	b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

func benchTraced(b *testing.B, tr *tracing.Tracer, traceparent string) {
	o := benchOptions(b, true)
	s := New(Options{Config: config.Default(), Service: newDecide(b, o), Metrics: metrics.New(),
		Logger: slog.New(slog.DiscardHandler), Tracer: tr})
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for b.Loop() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/v1/decide")
		ctx.Request.Header.SetHost("127.0.0.1:9191")
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.Header.Set("traceparent", traceparent)
		ctx.Request.SetBodyRaw(representative)
		s.handle(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatal(string(ctx.Response.Body()))
		}
	}
}
