package server

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPostsNeedJSONContentType: every POST endpoint of the decision
// listener refuses a body without Content-Type (a browser's fetch with a
// Blob body sends none, and needs no CORS preflight for it) and every
// non-JSON type with 415; application/json with parameters and +json
// types pass.
func TestPostsNeedJSONContentType(t *testing.T) {
	svc, m, cfg := newService(t)
	s := New(Options{Config: cfg, Service: svc, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	post := func(path, ctype string, set bool) (int, string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("127.0.0.1:9191")
		if set {
			ctx.Request.Header.Set("Content-Type", ctype)
		}
		ctx.Request.SetBodyString(`{"stage":"login","uid":"u-1","device":{"id":"d-1"}}`)
		s.handle(&ctx)
		var e struct{ Error struct{ Code string } }
		json.Unmarshal(ctx.Response.Body(), &e)
		return ctx.Response.StatusCode(), e.Error.Code
	}
	paths := []string{"/v1/decide", "/v1/events", "/v1/verifications", "/v1/outcomes", "/v1/appeals", "/v1/data/riskpdp/decision", "/v1/data"}
	for _, path := range paths {
		if code, ecode := post(path, "", false); code != 415 || ecode != "unsupported_media_type" {
			t.Errorf("%s without Content-Type: %d %s, want 415", path, code, ecode)
		}
		for _, ct := range []string{"", " ", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/jsonx", "application/json;;", "json", "*/*", "application/*",
			"text/json", "application/octet-stream"} {
			if code, ecode := post(path, ct, true); code != 415 || ecode != "unsupported_media_type" {
				t.Errorf("%s as %q: %d %s, want 415", path, ct, code, ecode)
			}
		}
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
			"Application/JSON", "application/problem+json", "application/vnd.riskpdp.v1+json; charset=utf-8"} {
			if code, ecode := post(path, ct, true); code == 415 {
				t.Errorf("%s as %q refused: %s", path, ct, ecode)
			}
		}
	}
	// A decision with a JSON type is decided.
	if code, _ := post("/v1/decide", "application/json; charset=utf-8", true); code != 200 {
		t.Errorf("decide as application/json; charset=utf-8: %d", code)
	}
}
