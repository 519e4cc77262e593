package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
)

// TestExplainOnLoopbackAndSocketOnly: POST /v1/decide?explain=true
// answers the explanation over loopback TCP and a Unix socket, with the
// outcome and reasons /v1/decide answers and no decision id; from another
// address it is 403 naming the parameter, and a value other than true or
// false is 400 naming it. explain=false is a decision.
func TestExplainOnLoopbackAndSocketOnly(t *testing.T) {
	svc, m, cfg := newService(t)
	s := New(Options{Config: cfg, Service: svc, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	sock := filepath.Join(t.TempDir(), "pdp.sock")
	uln, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	tln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, s, uln, false)
	go s.srv.Serve(tln)
	post := func(network, addr, uri string) (int, map[string]any) {
		t.Helper()
		code, body := rawRequest(t, network, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", uri, len(representative), representative))
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: %v %s", uri, err, body)
		}
		return code, v
	}
	code, d := post("tcp", tln.Addr().String(), "/v1/decide")
	if code != 200 || d["outcome"] != "step_up" {
		t.Fatalf("decide: %d %v", code, d)
	}
	for _, c := range []struct{ network, addr string }{{"tcp", tln.Addr().String()}, {"unix", sock}} {
		code, x := post(c.network, c.addr, "/v1/decide?explain=true")
		if code != 200 {
			t.Fatalf("%s: %d %v", c.network, code, x)
		}
		xd, _ := x["decision"].(map[string]any)
		if xd == nil || xd["outcome"] != d["outcome"] || fmt.Sprint(xd["reasons"]) != fmt.Sprint(d["reasons"]) || xd["decision_id"] != nil {
			t.Errorf("%s: explained decision %v, decided %v", c.network, xd, d)
		}
		rules, _ := x["rules"].([]any)
		fired := map[string]bool{}
		for _, r := range rules {
			r := r.(map[string]any)
			if r["location"] == "" || r["inputs"] == nil {
				t.Errorf("rule %v", r)
			}
			if v, ok := r["value"].(string); ok {
				fired[v] = true
			}
		}
		for _, reason := range d["reasons"].([]any) {
			if !fired[reason.(string)] {
				t.Errorf("%s: reason %v explained by no rule: %v", c.network, reason, rules)
			}
		}
		in, _ := x["input"].(map[string]any)
		if in == nil || in["derived"] == nil {
			t.Errorf("%s: no policy input: %v", c.network, x["input"])
		}
	}
	if code, v := post("tcp", tln.Addr().String(), "/v1/decide?explain=false"); code != 200 || v["decision_id"] == nil {
		t.Errorf("explain=false: %d %v", code, v)
	}
	if code, v := post("tcp", tln.Addr().String(), "/v1/decide?explain=yes"); code != 400 || !strings.Contains(fmt.Sprint(v), "field:explain") {
		t.Errorf("explain=yes: %d %v", code, v)
	}
	// From an address that is not the loopback (a Host the check allows).
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 40000}, nil)
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/decide?explain=true")
	ctx.Request.Header.SetHost("127.0.0.1:9191")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBody(representative)
	s.handle(&ctx)
	var e struct{ Error pdp.Error }
	json.Unmarshal(ctx.Response.Body(), &e)
	if ctx.Response.StatusCode() != 403 || e.Error.Code != pdp.CodeForbidden || e.Error.Field != "explain" {
		t.Errorf("explain from 192.0.2.10: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}
