package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/riskpdp/riskpdp/pdp/internal/server"
)

// The contract test holds the OpenAPI descriptions (pdp/internal/openapi)
// to a live sidecar: every documented operation is called, every
// documented status reached (but those listed in unreached, with why), and
// each request that is meant to be valid is validated against the
// description, each answer (status, documented headers, content type,
// body, error code) with kin-openapi's OpenAPI 3.1 validator (JSON Schema
// 2020-12). Schemas close their objects (additionalProperties or
// unevaluatedProperties false), so a field the description does not
// declare fails it; TestContractCatchesMismatch shows that it does.

// unreached are the documented answers the contract test does not provoke,
// each with the reason. Statuses of the listener itself (400 for framing,
// 408, 413, 415, 421, 431) are reached once per document, not per
// operation: listenerWide.
var unreached = map[string]string{
	"500":                             "an internal fault: a store that fails (pdp/internal/admin and pdp/internal/state test them)",
	"408":                             "a request not received within server.read_timeout",
	"POST /v1/decide 503":             "a decision log sink configured to fail decisions (pdp/internal/decide tests it)",
	"POST /v1/decide 403":             "explain=true from an address that is not the loopback (pdp/internal/server TestExplainOnLoopbackAndSocketOnly)",
	"POST /v1/data 503":               "a closed-mode scoring plugin that fails (not tested here)",
	"POST /v1/data/{path} 503":        "as POST /v1/data",
	"GET /v1/data 503":                "as POST /v1/data",
	"GET /v1/data/{path} 503":         "as POST /v1/data",
	"GET /health/ready 503":           "no policy loaded: the sidecar does not start without one",
	"HEAD /health/ready 503":          "as GET",
	"POST /v1/verifications 409":      "an expired challenge (step_up.challenge_ttl): pdp/internal/decide challenge_test.go",
	"POST /console/api/session 409":   "10 000 console sessions at once",
	"POST /admin/v1/lists/import 500": "a store that fails part-way (TestListImportStoreFailsPartWay)",
	"POST /admin/v1/accounts/{uid}/approvals/{id}/approve 409": "a freeze put on after the release was asked for (TestFourEyesRelease)",
	"GET /admin/v1/accounts/{uid}/user-status 404":             "the operator API without a decision service (TestUserStatusWithoutDecisionService)",
}

// listenerWide are answers of the listener for any route: reached on one
// operation, they count for every operation of the document.
var listenerWide = []string{"400", "408", "413", "415", "421", "431"}

type contract struct {
	t    *testing.T
	doc  *openapi3.T
	name string
	base string
	// seen[op][status]: the answers reached.
	seen map[string]map[string]bool
}

func loadContract(t *testing.T, name string, b []byte, base string) *contract {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &contract{t: t, doc: doc, name: name, base: base, seen: map[string]map[string]bool{}}
}

// call is one request of the contract test.
type call struct {
	c            *contract
	method, tmpl string
	path         string
	params       map[string]string
	body         []byte
	header       http.Header
	host         string
	bad          bool // the request is meant to break the description
}

// req starts a call of the operation method tmpl at path (tmpl with its
// parameters filled in, and a query).
func (c *contract) req(method, tmpl, path string, params ...string) *call {
	k := &call{c: c, method: method, tmpl: tmpl, path: path, params: map[string]string{}, header: http.Header{}}
	for i := 0; i+1 < len(params); i += 2 {
		k.params[params[i]] = params[i+1]
	}
	return k
}

func (k *call) json(body string) *call {
	k.body = []byte(body)
	k.header.Set("Content-Type", "application/json")
	return k
}

func (k *call) raw(contentType string, body []byte) *call {
	k.body = body
	if contentType != "" {
		k.header.Set("Content-Type", contentType)
	}
	return k
}

func (k *call) set(name, value string) *call { k.header.Set(name, value); return k }
func (k *call) token(tok string) *call       { return k.set("Authorization", "Bearer "+tok) }
func (k *call) invalid() *call               { k.bad = true; return k }
func (k *call) withHost(h string) *call      { k.host = h; return k }

// want sends the call, checks the status and validates request and answer
// against the description; it returns the answer's body and headers.
func (k *call) want(status int) ([]byte, http.Header) {
	c := k.c
	c.t.Helper()
	op := k.method + " " + k.tmpl
	pi := c.doc.Paths.Value(k.tmpl)
	if pi == nil || pi.GetOperation(k.method) == nil {
		c.t.Fatalf("%s: %s is not in the description", c.name, op)
	}
	req, err := http.NewRequest(k.method, c.base+k.path, bytes.NewReader(k.body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = k.header.Clone()
	if k.host != "" {
		req.Host = k.host
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: k.params,
		Route:   &routers.Route{Spec: c.doc, Path: k.tmpl, PathItem: pi, Method: k.method, Operation: pi.GetOperation(k.method)},
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if !k.bad {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("%s %s: the request breaks the description: %v", op, k.path, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(k.body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", op, k.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("%s %s: %v", op, k.path, err)
	}
	c.check(op, k.path, in, resp.StatusCode, resp.Header, body)
	if resp.StatusCode != status {
		c.t.Errorf("%s %s: %d %s, want %d", op, k.path, resp.StatusCode, clip(body), status)
	}
	return body, resp.Header
}

// check validates an answer against the description and records it.
func (c *contract) check(op, path string, in *openapi3filter.RequestValidationInput, status int, h http.Header, body []byte) {
	c.t.Helper()
	if c.seen[op] == nil {
		c.seen[op] = map[string]bool{}
	}
	c.seen[op][fmt.Sprint(status)] = true
	if err := c.validate(in, status, h, body); err != nil {
		c.t.Errorf("%s %s: the answer breaks the description: %d %s\n%v", op, path, status, clip(body), err)
	}
}

func (c *contract) validate(in *openapi3filter.RequestValidationInput, status int, h http.Header, body []byte) error {
	if len(body) > 0 && h.Get("Content-Type") == "" {
		return fmt.Errorf("a body without a Content-Type")
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}})
}

// complete fails for a documented answer no call reached (but unreached
// and listener-wide ones).
func (c *contract) complete() {
	c.t.Helper()
	wide := map[string]bool{}
	for _, st := range c.seen {
		for s := range st {
			if slices.Contains(listenerWide, s) {
				wide[s] = true
			}
		}
	}
	for path, pi := range c.doc.Paths.Map() {
		for method, o := range pi.Operations() {
			op := method + " " + path
			if c.seen[op] == nil {
				c.t.Errorf("%s: %s never called", c.name, op)
				continue
			}
			for status := range o.Responses.Map() {
				if c.seen[op][status] || wide[status] {
					continue
				}
				if _, ok := unreached[status]; ok {
					continue
				}
				if _, ok := unreached[op+" "+status]; ok {
					continue
				}
				c.t.Errorf("%s: %s %s documented, never reached", c.name, op, status)
			}
		}
	}
}

// routes are the description's operations as server.Route.
func (c *contract) routes() []server.Route {
	var out []server.Route
	for path, pi := range c.doc.Paths.Map() {
		for method := range pi.Operations() {
			out = append(out, server.Route{Method: method, Path: path})
		}
	}
	return sortRoutes(out)
}

func sortRoutes(rs []server.Route) []server.Route {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Path != rs[j].Path {
			return rs[i].Path < rs[j].Path
		}
		return rs[i].Method < rs[j].Method
	})
	return rs
}

// routeDiff lists the differences between the routes a description has
// and those the server registers.
func routeDiff(name string, documented, served []server.Route) []string {
	var diff []string
	for _, r := range sortRoutes(slices.Clone(served)) {
		if !slices.Contains(documented, r) {
			diff = append(diff, fmt.Sprintf("%s: the server answers %s %s, the description does not have it", name, r.Method, r.Path))
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			diff = append(diff, fmt.Sprintf("%s: the description has %s %s, the server does not answer it", name, r.Method, r.Path))
		}
	}
	return diff
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// rawPost posts an oversized body on a raw connection (the sidecar answers
// 413 from Content-Length and hangs up: see postOversized) and validates
// the answer.
func (c *contract) rawPost(tmpl, path, host string, size int) {
	c.t.Helper()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	body := `{"x":"` + strings.Repeat("a", size) + `"}`
	wrote := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, host, len(body), body)
		wrote <- err
	}()
	defer func() { conn.Close(); <-wrote }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		c.t.Fatalf("%s: no answer: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pi := c.doc.Paths.Value(tmpl)
	req, _ := http.NewRequest("POST", c.base+path, nil)
	in := &openapi3filter.RequestValidationInput{Request: req,
		Route: &routers.Route{Spec: c.doc, Path: tmpl, PathItem: pi, Method: "POST", Operation: pi.GetOperation("POST")}}
	c.check("POST "+tmpl, path, in, resp.StatusCode, resp.Header, b)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		c.t.Errorf("%s with %d bytes: %d, want 413", path, len(body), resp.StatusCode)
	}
}

func field(t *testing.T, b []byte, keys ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %s", clip(b))
	}
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			if i >= len(x) {
				t.Fatalf("no %v in %s", keys, clip(b))
			}
			v = x[i]
		}
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("no string at %v in %s", keys, clip(b))
	}
	return s
}

// The text formats the descriptions use that kin-openapi has no decoder
// for: the body is a string.
func init() {
	text := func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	}
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, text)
	}
}

const (
	readToken   = "op-read-token-0123456789"
	carolToken  = "op3-write-token-0123456789"
	adminPrefix = "/admin/v1"
)
