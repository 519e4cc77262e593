package server

import (
	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
)

// Tracing the decision API (pdp/internal/tracing): a server span per
// request to /v1/decide (with the decision's steps as children, see
// decide.DecideTraced), /v1/events, /v1/verifications, /v1/outcomes and
// /v1/appeals, named for the method and route, the child of the caller's
// W3C traceparent/tracestate. Requests refused before their handler
// (framing, Host, method, media type) have none. Without a tracer the
// spans are zero: one nil check a request.

// The span names: method and route, as OpenTelemetry's HTTP conventions
// name a server span.
const (
	routeDecide   = "POST /v1/decide"
	routeEvents   = "POST /v1/events"
	routeVerify   = "POST /v1/verifications"
	routeOutcomes = "POST /v1/outcomes"
	routeAppeals  = "POST /v1/appeals"
)

// errorCodeKey is the request's user value holding the error code fail
// answered with, read by endSpan (set only when tracing is on).
const errorCodeKey = "riskpdp.error_code"

// startSpan begins the request's server span; traceparent is the header
// when the caller already read it ("" reads it here).
func (s *Server) startSpan(ctx *fasthttp.RequestCtx, route, traceparent string) tracing.Span {
	if s.tracer == nil {
		return tracing.Span{}
	}
	if traceparent == "" {
		traceparent = string(ctx.Request.Header.Peek("traceparent"))
	}
	span := s.tracer.Start(route, traceparent, string(ctx.Request.Header.Peek("tracestate")))
	if span.Recording() {
		span.String("http.request.method", fasthttp.MethodPost)
		span.String("http.route", route[len("POST "):])
	}
	return span
}

// endSpan ends the request's span with the answer's status and, for an
// error, its code (error.type); a 5xx fails the span (a 4xx is the
// caller's mistake, not the server's, by OpenTelemetry's HTTP
// conventions).
func (s *Server) endSpan(ctx *fasthttp.RequestCtx, span tracing.Span) {
	if !span.Recording() {
		span.End()
		return
	}
	status := ctx.Response.StatusCode()
	span.Int("http.response.status_code", status)
	if code, ok := ctx.UserValue(errorCodeKey).(pdp.ErrorCode); ok {
		span.String("error.type", string(code))
		if status >= 500 {
			span.Fail(string(code))
		}
	}
	span.End()
}
