package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/tracing/tracingtest"
)

// TestServeTracing: `pdp serve` with OTEL_EXPORTER_OTLP_ENDPOINT exports a
// decision's spans to the collector, the child of the caller's traceparent,
// and flushes them at shutdown: the batch delay is an hour, so only the
// flush of SIGTERM's path can have sent them. No span holds the uid.
func TestServeTracing(t *testing.T) {
	r := tracingtest.NewHTTP(t)
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "pdp-serve-test")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000")
	s := startSidecar(t)
	if !strings.Contains(s.logs.String(), "tracing: spans exported over OTLP") {
		t.Fatalf("no tracing line at start:\n%s", s.logs)
	}
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/decide", strings.NewReader(stepUpAs("u-traced-5150")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", parent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("decide: %d", resp.StatusCode)
	}
	if n := len(r.Spans()); n != 0 {
		t.Fatalf("%d spans exported before shutdown with an hour's batch delay", n)
	}
	if code := s.shutdown(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.logs)
	}
	spans := r.WaitSpans(t, 6)
	var root tracingtest.Span
	for _, sp := range spans {
		if sp.Name == "POST /v1/decide" {
			root = sp
		}
	}
	if root.TraceID != "0af7651916cd43dd8448eb211c80319c" || root.ParentID != "b7ad6b7169203331" ||
		root.Resource["service.name"] != "pdp-serve-test" {
		t.Fatalf("decision span %+v; want the caller's child, service pdp-serve-test", root)
	}
	for _, sp := range spans {
		if sp.Name != root.Name && sp.ParentID != root.SpanID {
			t.Errorf("span %s is not the decision span's child", sp.Name)
		}
	}
	for _, raw := range r.Raw() {
		if bytes.Contains(raw, []byte("u-traced-5150")) {
			t.Error("an export holds the uid")
		}
	}
}

// TestServeRefusesBadTracing: an invalid OTEL_* value stops the start
// (and --check-config) with the variable named.
func TestServeRefusesBadTracing(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_TRACES_SAMPLER", "sometimes")
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"serve", "--check-config"}, io.Discard, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "OTEL_TRACES_SAMPLER") {
		t.Fatalf("exit %d, stderr %q; want a failure naming OTEL_TRACES_SAMPLER", code, stderr.String())
	}
}
