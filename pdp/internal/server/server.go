// Package server is the sidecar's HTTP edge on fasthttp: HTTP/1.1 with
// keep-alive on loopback (or a Unix socket). It checks the Host header
// (host.go) and the framing, routes, checks methods and content types,
// maps errors to statuses in one place (StatusOf), encodes answers and,
// with a tracer, starts and ends each request's server span (trace.go);
// what a decision means lives in pdp/decide. Health and metrics can also
// be served on a listener of their own (ServeHealth).
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
)

// ReadyCheck reports why the sidecar is not ready, or nil.
type ReadyCheck func() error

// Server serves the decision API.
type Server struct {
	svc     *decide.Service
	metrics *metrics.Metrics
	log     *slog.Logger
	ready   []ReadyCheck
	warn    []ReadyCheck
	hosts   hostPolicy
	srv     *fasthttp.Server
	health  *fasthttp.Server
	tracer  *tracing.Tracer // nil: not traced
}

// Options configure a Server.
type Options struct {
	Config  config.Config
	Service *decide.Service
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Ready are extra readiness checks (state, bundles, ...); a loaded
	// policy is always required.
	Ready []ReadyCheck
	// Degraded checks are reported by /health/ready without failing it
	// (e.g. a failing decision log sink when it is not configured to fail
	// readiness): {"status":"ready","degraded":["..."]}.
	Degraded []ReadyCheck
	// Tracer traces the decision API's requests (trace.go); nil: off.
	Tracer *tracing.Tracer
}

// New builds a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := o.Config
	s := &Server{svc: o.Service, metrics: o.Metrics, log: o.Logger, ready: o.Ready, warn: o.Degraded,
		hosts: newHostPolicy(c.Server.AllowedHosts), tracer: o.Tracer}
	s.srv = s.fasthttpServer(c, s.handle)
	s.health = s.fasthttpServer(c, s.handleHealth)
	return s
}

// fasthttpServer is a listener's server with the configured limits.
func (s *Server) fasthttpServer(c config.Config, h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                       h,
		ErrorHandler:                  s.handleTransportError,
		Name:                          "riskpdp",
		ReadTimeout:                   c.Server.ReadTimeout.D(),
		WriteTimeout:                  c.Server.WriteTimeout.D(),
		IdleTimeout:                   c.Server.IdleTimeout.D(),
		Concurrency:                   c.Server.MaxConns,
		MaxRequestBodySize:            c.Limits.MaxBodyBytes,
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		TCPKeepalive:                  true,
		Logger:                        fasthttpLogger{s.log},
	}
}

// Listen opens addr: "host:port" for TCP or "unix:/path" for a Unix socket
// (a stale socket file is replaced; the socket is made 0660).
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, err
		}
		return ln, os.Chmod(path, 0o660)
	}
	return net.Listen("tcp", addr)
}

// Serve serves the decision API (and health and metrics) on ln until
// Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// ServeHealth serves only /health/live, /health/ready and /metrics on ln
// (config health_addr), without the Host check, until Shutdown.
func (s *Server) ServeHealth(ln net.Listener) error { return s.health.Serve(ln) }

// Shutdown stops accepting, waits for in-flight requests (bounded by ctx)
// and closes idle keep-alive connections, on both listeners.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	if herr := s.health.ShutdownWithContext(ctx); err == nil {
		err = herr
	}
	return err
}

// Endpoint names used in metrics.
const (
	epDecide   = "decide"
	epData     = "data"
	epEvents   = "events"
	epVerify   = "verifications"
	epOutcomes = "outcomes"
	epAppeals  = "appeals"
	epStatus   = "account_status"
	epOther    = "other"
)

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	defer s.recoverPanic(ctx)
	if why := framingError(&ctx.Request.Header); why != "" {
		ctx.SetConnectionClose()
		s.fail(ctx, "transport", pdp.Errorf(pdp.CodeInvalidValue, "headers", "ambiguous request framing: %s", why))
		return
	}
	if e := s.hosts.checkRequest(ctx); e != nil {
		ctx.SetConnectionClose()
		s.fail(ctx, "transport", e)
		return
	}
	path := ctx.Path()
	if r := exactDecision[string(path)]; r != nil {
		s.serveRoute(ctx, r)
		return
	}
	switch {
	case bytes.HasPrefix(path, accountsPrefix):
		s.accountRoute(ctx)
	case isDataPath(path):
		if s.method(ctx, epData, fasthttp.MethodPost, fasthttp.MethodGet) {
			s.data(ctx, string(path[len(dataPath):]))
		}
	default:
		s.fail(ctx, epOther, pdp.Errorf(pdp.CodeNotFound, "", "no route %s", path))
	}
}

// handleHealth serves the health listener: health and metrics only.
func (s *Server) handleHealth(ctx *fasthttp.RequestCtx) {
	defer s.recoverPanic(ctx)
	if why := framingError(&ctx.Request.Header); why != "" {
		ctx.SetConnectionClose()
		s.fail(ctx, "transport", pdp.Errorf(pdp.CodeInvalidValue, "headers", "ambiguous request framing: %s", why))
		return
	}
	path := ctx.Path()
	if r := exactHealth[string(path)]; r != nil {
		s.serveRoute(ctx, r)
		return
	}
	s.fail(ctx, epOther, pdp.Errorf(pdp.CodeNotFound, "", "no route %s", path))
}

// recoverPanic answers 500 for a handler that panicked, logs the stack and
// counts it: fasthttp does not recover, so without this one request could
// stop every decision. The decision path has its own recover (the engine
// turns a panic into the fallback); this is the last line.
func (s *Server) recoverPanic(ctx *fasthttp.RequestCtx) {
	if p := recover(); p != nil {
		s.log.Error("panic serving a request", "path", string(ctx.Path()), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		ctx.Response.Reset()
		s.fail(ctx, epOther, &pdp.Error{Code: pdp.CodeInternal, Message: "internal error"})
	}
}

// method checks the request method; on mismatch it answers 405.
func (s *Server) method(ctx *fasthttp.RequestCtx, ep string, allowed ...string) bool {
	m := ctx.Method()
	for _, a := range allowed {
		if string(m) == a {
			return true
		}
	}
	ctx.Response.Header.Set("Allow", strings.Join(allowed, ", "))
	s.fail(ctx, ep, pdp.Errorf(pdp.CodeMethodNotAllowed, "", "use %s", strings.Join(allowed, " or ")))
	return false
}

// jsonBody checks that a POST carries JSON: Content-Type application/json
// or a +json type, with any parameters (charset=utf-8). Anything else —
// no Content-Type at all included — is refused with 415. A browser sends
// a cross-site POST without a CORS preflight only as a "simple" request:
// a form type, text/plain, or no Content-Type (fetch with a Blob body);
// refusing all of them leaves a web page no way to post to the sidecar.
func (s *Server) jsonBody(ctx *fasthttp.RequestCtx, ep string) bool {
	ct := ctx.Request.Header.ContentType()
	if string(ct) == "application/json" { // the common case, without parsing
		return true
	}
	if len(ct) == 0 {
		s.fail(ctx, ep, pdp.Errorf(pdp.CodeUnsupportedMedia, "", "Content-Type: application/json is required"))
		return false
	}
	mt, _, err := mime.ParseMediaType(string(ct))
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return true
	}
	s.fail(ctx, ep, pdp.Errorf(pdp.CodeUnsupportedMedia, "", "Content-Type must be application/json"))
	return false
}

func (s *Server) decide(ctx *fasthttp.RequestCtx) {
	if len(ctx.URI().QueryString()) > 0 && s.explain(ctx) {
		return
	}
	traceparent := string(ctx.Request.Header.Peek("traceparent"))
	span := s.startSpan(ctx, routeDecide, traceparent)
	d, err := s.svc.DecideTraced(ctx, ctx.PostBody(), traceparent, span)
	if err != nil {
		s.fail(ctx, epDecide, pdp.AsError(err))
		s.endSpan(ctx, span)
		return
	}
	buf := bufPool.Get().(*[]byte)
	*buf = appendDecision((*buf)[:0], d)
	writeJSON(ctx, fasthttp.StatusOK, *buf)
	bufPool.Put(buf)
	s.endSpan(ctx, span)
}

func (s *Server) data(ctx *fasthttp.RequestCtx, path string) {
	var body []byte
	if ctx.IsPost() {
		if !s.jsonBody(ctx, epData) {
			return
		}
		body = ctx.PostBody()
	}
	result, defined, err := s.svc.Data(ctx, path, body)
	if err != nil {
		s.failLogged(ctx, epData, err)
		return
	}
	if !defined {
		writeJSON(ctx, fasthttp.StatusOK, []byte(`{}`))
		return
	}
	buf := bufPool.Get().(*[]byte)
	b := append((*buf)[:0], `{"result":`...)
	b = append(b, result...)
	*buf = append(b, '}')
	writeJSON(ctx, fasthttp.StatusOK, *buf)
	bufPool.Put(buf)
}

func (s *Server) event(ctx *fasthttp.RequestCtx) {
	span := s.startSpan(ctx, routeEvents, "")
	defer s.endSpan(ctx, span)
	ev, err := s.svc.Event(ctx, ctx.PostBody())
	if err != nil {
		s.failLogged(ctx, epEvents, err)
		return
	}
	b := append([]byte(`{"recorded":true,"kind":`), jsonw.AppendString(nil, ev.Kind)...)
	b = appendKey(b, "at", false)
	b = appendTime(b, ev.At)
	writeJSON(ctx, fasthttp.StatusOK, append(b, '}'))
}

func (s *Server) outcome(ctx *fasthttp.RequestCtx) {
	span := s.startSpan(ctx, routeOutcomes, "")
	defer s.endSpan(ctx, span)
	o, err := s.svc.Outcome(ctx, ctx.PostBody())
	if err != nil {
		s.failLogged(ctx, epOutcomes, err)
		return
	}
	b := append([]byte(`{"recorded":`), strconv.AppendBool(nil, !o.Duplicate)...)
	b = appendKey(b, "uid", false)
	b = jsonw.AppendString(b, o.UID)
	b = appendKey(b, "txn_id", false)
	b = jsonw.AppendString(b, o.TxnID)
	b = appendKey(b, "status", false)
	b = jsonw.AppendString(b, o.Status.String())
	b = appendKey(b, "known", false)
	b = strconv.AppendBool(b, o.Known)
	b = appendKey(b, "outcomes", false)
	b = append(b, '[')
	for i, m := range o.Outcomes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"status":`...)
		b = jsonw.AppendString(b, m.Status.String())
		b = appendKey(b, "at", false)
		b = appendTime(b, m.At)
		b = append(b, '}')
	}
	writeJSON(ctx, fasthttp.StatusOK, append(b, "]}"...))
}

func (s *Server) verify(ctx *fasthttp.RequestCtx) {
	span := s.startSpan(ctx, routeVerify, "")
	defer s.endSpan(ctx, span)
	v, err := s.svc.Verify(ctx, ctx.PostBody())
	if err != nil {
		s.failLogged(ctx, epVerify, err)
		return
	}
	b := append([]byte(`{"status":`), jsonw.AppendString(nil, v.Status())...)
	b = appendKey(b, "methods", false)
	b = appendList(b, v.Methods)
	passed := make([]string, 0, len(v.Methods))
	for _, m := range v.Methods {
		if v.Results[m] == pdp.VerificationPassed {
			passed = append(passed, m)
		}
	}
	b = appendKey(b, "passed", false)
	b = appendList(b, passed)
	writeJSON(ctx, fasthttp.StatusOK, append(b, '}'))
}

// failLogged answers an error, logging internal ones (their detail never
// reaches the caller).
func (s *Server) failLogged(ctx *fasthttp.RequestCtx, ep string, err error) {
	e := pdp.AsError(err)
	if e.Code == pdp.CodeInternal {
		s.log.Error("request failed", "endpoint", ep, "error", err)
	}
	s.fail(ctx, ep, e)
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	if !s.svc.Ready() {
		s.fail(ctx, epOther, pdp.Errorf(pdp.CodeNotReady, "", "no policy loaded"))
		return
	}
	for _, check := range s.ready {
		if err := check(); err != nil {
			s.fail(ctx, epOther, pdp.Errorf(pdp.CodeNotReady, "", "%v", err))
			return
		}
	}
	b := []byte(`{"status":"ready"`)
	n := 0
	for _, check := range s.warn {
		if err := check(); err != nil {
			if n == 0 {
				b = append(b, `,"degraded":[`...)
			} else {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, err.Error())
			n++
		}
	}
	if n > 0 {
		b = append(b, ']')
	}
	writeJSON(ctx, fasthttp.StatusOK, append(b, '}'))
}

func (s *Server) metricsz(ctx *fasthttp.RequestCtx) {
	var buf bytes.Buffer
	if err := s.metrics.Write(&buf); err != nil {
		s.log.Error("render metrics", "error", err)
		s.fail(ctx, epOther, &pdp.Error{Code: pdp.CodeInternal, Message: "internal error"})
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(metrics.ContentType)
	ctx.SetBody(buf.Bytes())
}

// fail answers with the error envelope and counts it.
func (s *Server) fail(ctx *fasthttp.RequestCtx, ep string, e *pdp.Error) {
	s.metrics.RequestError(ep, e.Code)
	if s.tracer != nil {
		ctx.SetUserValue(errorCodeKey, e.Code) // the span's error.type (trace.go)
	}
	buf := bufPool.Get().(*[]byte)
	*buf = appendError((*buf)[:0], e)
	writeJSON(ctx, StatusOf(e.Code), *buf)
	bufPool.Put(buf)
}

// handleTransportError answers errors fasthttp meets before the handler
// runs: oversized bodies or headers, timeouts, malformed HTTP.
func (s *Server) handleTransportError(ctx *fasthttp.RequestCtx, err error) {
	var e *pdp.Error
	var status int
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = pdp.Errorf(pdp.CodeBodyTooLarge, "", "request body exceeds the configured limit")
	case isTimeout(err):
		e, status = pdp.Errorf(pdp.CodeMalformedJSON, "", "request not received in time"), fasthttp.StatusRequestTimeout
	case strings.Contains(err.Error(), "headers: missing required host header in request"):
		// HTTP/1.1 without Host (fasthttp refuses it before the handler)
		e = pdp.Errorf(pdp.CodeMissingField, "host", "the Host header is required")
	case strings.Contains(err.Error(), "small read buffer"):
		e, status = pdp.Errorf(pdp.CodeInvalidValue, "headers", "request headers too large"), fasthttp.StatusRequestHeaderFieldsTooLarge
	default:
		e = pdp.Errorf(pdp.CodeInvalidValue, "", "malformed HTTP request")
	}
	s.metrics.RequestError("transport", e.Code)
	if status == 0 {
		status = StatusOf(e.Code)
	}
	ctx.SetConnectionClose()
	writeJSON(ctx, status, appendError(nil, e))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// fasthttpLogger routes fasthttp's own messages to slog.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "message", strings.TrimSpace(fmt.Sprintf(format, args...)))
}
