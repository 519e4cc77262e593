// Package admin is the operator API: lists, freezes and releases, limits,
// an account's full state and the audit journal. It listens apart from the
// decision API (loopback or a Unix socket by default), requires a bearer
// token for everything (read tokens may only read), and appends every
// change to the durable audit journal before it answers.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/admin/console"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/openapi"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// maxBody bounds an operator request body.
const maxBody = 64 << 10

// Options configure the operator API.
type Options struct {
	Store    *state.Store
	Velocity *velocity.Tracker // optional: an account's velocity
	Tokens   *Tokens
	// Probation returns the probation a release starts when the operator
	// names none (the policy data's freeze.probation_duration).
	Probation func() time.Duration
	// AnswerTime is how long open work may wait for an operator: the
	// queue's due times (the procedures answer appeals within 48 hours).
	// Default config.DefaultAnswerTime.
	AnswerTime time.Duration
	// UserStatus returns what the app shows the user of an account: the
	// JSON answer of the decision API's GET /v1/accounts/{uid}/status in
	// a locale ("" for the configured one). Nil without a decision service
	// (GET /admin/v1/accounts/{uid}/user-status answers 404 then).
	UserStatus func(ctx context.Context, uid, locale string) ([]byte, error)
	Logger     *slog.Logger
	Now        func() time.Time
}

// Server is the operator API.
type Server struct {
	o   Options
	srv *http.Server
	// methods are the methods of each route path, while New registers them.
	methods map[string][]string
	// routes are every method and path the mux serves (Routes).
	routes []server.Route
	// sessions are the console's (session.go).
	sessions sessions
}

// New builds the operator API.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AnswerTime <= 0 {
		o.AnswerTime = config.DefaultAnswerTime
	}
	if o.Probation == nil {
		o.Probation = func() time.Duration { return 24 * time.Hour }
	}
	s := &Server{o: o, methods: map[string][]string{}}
	mux := http.NewServeMux()
	s.route(mux, "GET /admin/v1/accounts/{uid}", RoleRead, s.getAccount)
	s.route(mux, "GET /admin/v1/accounts/{uid}/user-status", RoleRead, s.userStatus)
	s.route(mux, "POST /admin/v1/accounts/{uid}/freeze", RoleWrite, s.freeze)
	s.route(mux, "POST /admin/v1/accounts/{uid}/release", RoleWrite, s.release)
	s.route(mux, "PUT /admin/v1/accounts/{uid}/limit", RoleWrite, s.setLimit)
	s.route(mux, "DELETE /admin/v1/accounts/{uid}/limit", RoleWrite, s.clearLimit)
	s.route(mux, "GET /admin/v1/lists/{list}/{kind}", RoleRead, s.listEntries)
	s.route(mux, "POST /admin/v1/lists/import", RoleWrite, s.importLists)
	s.route(mux, "PUT /admin/v1/lists/{list}/{kind}/{value}", RoleWrite, s.putEntry)
	s.route(mux, "DELETE /admin/v1/lists/{list}/{kind}/{value}", RoleWrite, s.deleteEntry)
	// An IP range with its slash unencoded: /lists/block/ip/10.0.0.0/8.
	s.route(mux, "PUT /admin/v1/lists/{list}/{kind}/{value}/{bits}", RoleWrite, s.putEntry)
	s.route(mux, "DELETE /admin/v1/lists/{list}/{kind}/{value}/{bits}", RoleWrite, s.deleteEntry)
	s.route(mux, "GET /admin/v1/journal", RoleRead, s.journal)
	s.route(mux, "GET /admin/v1/labels", RoleRead, s.labels)
	s.route(mux, "GET /admin/v1/cases", RoleRead, s.cases)
	s.route(mux, "GET /admin/v1/cases/{uid}", RoleRead, s.caseTrail)
	s.route(mux, "POST /admin/v1/cases/{uid}/close", RoleWrite, s.closeCase)
	s.route(mux, "GET /admin/v1/queue", RoleRead, s.queue)
	s.route(mux, "POST /admin/v1/accounts/{uid}/assign", RoleWrite, s.assign)
	s.route(mux, "POST /admin/v1/accounts/{uid}/claim", RoleWrite, s.claim)
	s.route(mux, "POST /admin/v1/accounts/{uid}/notes", RoleWrite, s.note)
	s.route(mux, "POST /admin/v1/accounts/{uid}/approvals/{id}/approve", RoleWrite, s.decideApproval(true))
	s.route(mux, "POST /admin/v1/accounts/{uid}/approvals/{id}/reject", RoleWrite, s.decideApproval(false))
	s.route(mux, "POST /admin/v1/accounts/{uid}/appeals/{id}/answer", RoleWrite, s.answerAppeal)
	// Go's profiles, for finding where time and memory go in production;
	// write tokens only (a CPU profile or trace costs the sidecar while it
	// runs).
	s.route(mux, "GET /debug/pprof", RoleWrite, profile)
	s.route(mux, "GET /debug/pprof/{name}", RoleWrite, profile)
	// The console's sign-in, session and sign-out (session.go).
	s.open(mux, "POST /console/api/session", s.signIn)
	s.open(mux, "GET /console/api/session", s.currentSession)
	s.open(mux, "DELETE /console/api/session", s.currentSession)
	// The API's OpenAPI description, without authentication: it holds no
	// data, and a client generator or a reviewer reads it before holding a
	// token.
	s.open(mux, "GET /openapi.json", serveOpenAPI)
	// The console's page and files (pdp/internal/admin/console).
	mux.Handle(console.Prefix, console.Handler())
	s.routes = append(s.routes, server.Route{Method: "GET", Path: console.Prefix}, server.Route{Method: "GET", Path: console.Prefix + "{asset}"})
	// A known path with another method: 405 with the error envelope (the
	// mux's own answer is plain text).
	for p, methods := range s.methods {
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, pdp.Errorf(pdp.CodeMethodNotAllowed, "", "use %s", allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, pdp.Errorf(pdp.CodeNotFound, "", "no route %s %s", r.Method, r.URL.Path))
	})
	s.srv = &http.Server{Handler: canonical(mux), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
	return s
}

// open registers h without authentication.
func (s *Server) open(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.methods[path] = append(s.methods[path], method)
	s.routes = append(s.routes, server.Route{Method: method, Path: path})
	mux.HandleFunc(pattern, h)
}

// Routes lists every method and path the operator API answers, the paths
// written as its OpenAPI description writes them (the mux's patterns; an
// IP range's "/{bits}" is a route of its own). GET routes answer HEAD too
// (net/http's mux), which the description leaves out.
func (s *Server) Routes() []server.Route { return slices.Clone(s.routes) }

// serveOpenAPI answers the operator API's OpenAPI description.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", openapi.ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openapi.Operator())
}

// canonical answers 404 for a path with empty, "." or ".." segments, which
// the mux would answer with a redirect to the cleaned path: an operator
// tool must name the account or list entry it means. The console's page,
// /console/, is the one path with a trailing slash.
func canonical(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "" || p[0] != '/' || path.Clean(p) != p && p != console.Prefix {
			writeError(w, pdp.Errorf(pdp.CodeNotFound, "", "no route %s %s (empty, . or .. path segment)", r.Method, p))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// caller is who is calling: the token's name, kept in the journal next to
// the operator the body names.
type caller struct {
	token string
}

type handler func(w http.ResponseWriter, r *http.Request, c caller) error

// route registers h behind authentication: no or an unknown token → 401,
// a read token on a write route → 403. A request without an Authorization
// header may authenticate with the console's session cookie instead (a
// change then needs the session's CSRF token: session.go).
func (s *Server) route(mux *http.ServeMux, pattern string, need Role, h handler) {
	method, path, _ := strings.Cut(pattern, " ")
	s.methods[path] = append(s.methods[path], method)
	s.routes = append(s.routes, server.Route{Method: method, Path: path})
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		role, name, ok := s.o.Tokens.check(r)
		if !ok && r.Header.Get("Authorization") == "" {
			// No bearer token: the console's session cookie, if any.
			var e *pdp.Error
			if role, name, e = s.sessionAuth(r); e != nil {
				if e.Code == pdp.CodeUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="pdp-admin"`)
				}
				writeError(w, e)
				return
			}
			ok = true
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pdp-admin"`)
			writeError(w, pdp.Errorf(pdp.CodeUnauthorized, "", "a valid bearer token is required"))
			return
		}
		if role < need {
			writeError(w, pdp.Errorf(pdp.CodeForbidden, "", "this token may only read"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := h(w, r, caller{token: name}); err != nil {
			e := pdp.AsError(err)
			if e.Code == pdp.CodeInternal && errors.Is(err, state.ErrInvalid) {
				// The store refused an argument the handler let through:
				// the caller's input, not an internal fault.
				e = pdp.Errorf(pdp.CodeInvalidValue, "", "%v", err)
			}
			if e.Code == pdp.CodeInternal {
				s.o.Logger.Error("operator request failed", "method", r.Method, "path", r.URL.Path, "error", err)
				e = &pdp.Error{Code: pdp.CodeInternal, Message: "the change could not be made durable; nothing was changed"}
			}
			writeError(w, e)
		}
	})
}

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server gracefully.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// action is the part every change carries: who, why, and the ticket.
type action struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
	Ticket   string `json:"ticket"`
}

// check refuses a change without a readable operator and reason (see
// textRule): every operator write calls it.
func (a action) check() error {
	if err := operatorText.check(a.Operator, "who makes this change"); err != nil {
		return err
	}
	if err := reasonText.check(a.Reason, "why this change is made"); err != nil {
		return err
	}
	return ticketText.check(a.Ticket, "the ticket of this change")
}

func (a action) actor() pdp.Actor {
	return pdp.Actor{Operator: a.Operator, Reason: a.Reason, Ticket: a.Ticket}
}

// decode reads a JSON body into v under the sidecar's strict rules.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return pdp.Errorf(pdp.CodeBodyTooLarge, "", "request body over %d bytes", maxBody)
		}
		return pdp.Errorf(pdp.CodeMalformedJSON, "", "could not read the body: %v", err)
	}
	return request.DecodeStrict(body, 8, v)
}

// detail renders a change for the journal.
func detail(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *pdp.Error) {
	type body struct {
		Code    pdp.ErrorCode `json:"code"`
		Message string        `json:"message"`
		Field   string        `json:"field,omitempty"`
	}
	writeJSON(w, server.StatusOf(e.Code), map[string]body{"error": {e.Code, e.Message, e.Field}})
}

// profile serves net/http/pprof: the index, a named profile (heap,
// goroutine, allocs, block, mutex, threadcreate), profile (CPU), trace,
// symbol, cmdline.
func profile(w http.ResponseWriter, r *http.Request, _ caller) error {
	switch r.PathValue("name") {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	default:
		pprof.Index(w, r)
	}
	return nil
}
