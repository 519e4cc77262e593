package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
)

// A handler that panics answers 500 with the error envelope, is counted,
// and the server goes on (fasthttp itself does not recover). The service
// is missing here, so the decision handler dereferences nil.
func TestPanicAnswers500(t *testing.T) {
	var logs strings.Builder
	m := metrics.New()
	s := New(Options{Config: config.Default(), Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/decide")
	ctx.Request.Header.SetHost("127.0.0.1:9191")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyString(`{}`)
	s.handle(&ctx)
	var e struct{ Error struct{ Code string } }
	if ctx.Response.StatusCode() != 500 || json.Unmarshal(ctx.Response.Body(), &e) != nil || e.Error.Code != "internal" {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if !strings.Contains(logs.String(), "panic serving a request") {
		t.Errorf("panic not logged: %s", logs.String())
	}
	var buf bytes.Buffer
	m.Write(&buf)
	if !strings.Contains(buf.String(), `pdp_request_errors_total{code="internal",endpoint="other"} 1`) {
		t.Errorf("panic not counted:\n%s", buf.String())
	}
}
