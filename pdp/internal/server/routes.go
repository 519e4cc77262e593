package server

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp/internal/openapi"
)

// Route is one method and path the server answers, the path written as
// the OpenAPI description writes it ("/v1/accounts/{uid}/status").
type Route struct {
	Method string
	Path   string
}

// route is an entry of a listener's routing table: the table is what the
// handlers dispatch on and what Routes lists, so the two cannot differ.
type route struct {
	path    string // exact path, or the OpenAPI template of a prefix route
	ep      string // the metrics endpoint
	methods []string
	json    bool // a POST must carry JSON (415 otherwise)
	serve   func(s *Server, ctx *fasthttp.RequestCtx)
}

var (
	get      = []string{fasthttp.MethodGet}
	getHead  = []string{fasthttp.MethodGet, fasthttp.MethodHead}
	post     = []string{fasthttp.MethodPost}
	postGet  = []string{fasthttp.MethodPost, fasthttp.MethodGet}
	dataPath = []byte("/v1/data")
)

// decisionRoutes are the decision listener's exact paths; healthRoutes
// are served on both listeners.
var (
	decisionRoutes = []route{
		{path: "/v1/decide", ep: epDecide, methods: post, json: true, serve: (*Server).decide},
		{path: "/v1/events", ep: epEvents, methods: post, json: true, serve: (*Server).event},
		{path: "/v1/verifications", ep: epVerify, methods: post, json: true, serve: (*Server).verify},
		{path: "/v1/outcomes", ep: epOutcomes, methods: post, json: true, serve: (*Server).outcome},
		{path: "/v1/appeals", ep: epAppeals, methods: post, json: true, serve: (*Server).appeal},
		{path: "/openapi.json", ep: epOther, methods: getHead, serve: serveOpenAPI},
	}
	healthRoutes = []route{
		{path: "/health/live", ep: epOther, methods: getHead, serve: func(_ *Server, ctx *fasthttp.RequestCtx) {
			writeJSON(ctx, fasthttp.StatusOK, []byte(`{"status":"ok"}`))
		}},
		{path: "/health/ready", ep: epOther, methods: getHead, serve: (*Server).readyz},
		{path: "/metrics", ep: epOther, methods: get, serve: (*Server).metricsz},
	}
	// prefixRoutes are served by the prefix branches of handle: their
	// paths are templates.
	prefixRoutes = []route{
		{path: "/v1/accounts/{uid}/status", methods: get},
		{path: "/v1/data", methods: postGet},
		{path: "/v1/data/{path}", methods: postGet},
	}
	exactDecision = routeMap(decisionRoutes, healthRoutes)
	exactHealth   = routeMap(healthRoutes)
)

func routeMap(tables ...[]route) map[string]*route {
	m := map[string]*route{}
	for _, t := range tables {
		for i := range t {
			m[t[i].path] = &t[i]
		}
	}
	return m
}

// Routes lists what the decision listener answers (the health listener
// answers healthRoutes only), in a stable order.
func Routes() []Route {
	var out []Route
	for _, t := range [][]route{decisionRoutes, prefixRoutes, healthRoutes} {
		for _, r := range t {
			for _, m := range r.methods {
				out = append(out, Route{Method: m, Path: r.path})
			}
		}
	}
	return out
}

// HealthRoutes lists what the health listener (health_addr) answers.
func HealthRoutes() []Route {
	var out []Route
	for _, r := range healthRoutes {
		for _, m := range r.methods {
			out = append(out, Route{Method: m, Path: r.path})
		}
	}
	return out
}

// serveRoute answers a request for an exact route: the method, the
// content type of a POST, then the handler.
func (s *Server) serveRoute(ctx *fasthttp.RequestCtx, r *route) {
	if !s.method(ctx, r.ep, r.methods...) {
		return
	}
	if r.json && !s.jsonBody(ctx, r.ep) {
		return
	}
	r.serve(s, ctx)
}

// isDataPath reports whether path is /v1/data or under it.
func isDataPath(path []byte) bool {
	return bytes.HasPrefix(path, dataPath) && (len(path) == len(dataPath) || path[len(dataPath)] == '/')
}

// serveOpenAPI answers the decision API's OpenAPI description.
func serveOpenAPI(_ *Server, ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(openapi.ContentType)
	ctx.SetBody(openapi.Decision())
}
