// Package client is the Go client payment services use to ask the sidecar
// for a decision before they authorize an operation.
//
// It keeps connections to the sidecar open (HTTP/1.1 keep-alive), bounds
// every call with a timeout, and returns a typed outcome. When the sidecar
// cannot be reached in time, Decide returns an error and the caller applies
// its own fail-safe; the recommended one is Fallback (step_up), never allow.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
)

// Fallback is the outcome a caller should apply when the sidecar cannot
// answer: verify first, release after.
const Fallback = pdp.StepUp

// Client talks to one sidecar. It is safe for concurrent use.
type Client struct {
	hc      *fasthttp.HostClient
	base    string
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds each call (default 100ms): decisions take
// microseconds, so a slow answer means the sidecar is in trouble.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithMaxConns caps open connections to the sidecar (default 64).
func WithMaxConns(n int) Option { return func(c *Client) { c.hc.MaxConns = n } }

// New returns a client for the sidecar at addr: "127.0.0.1:9191" (or
// "http://127.0.0.1:9191"), or a Unix socket as "unix:/run/pdp.sock".
// Every request carries Content-Type: application/json and addr as its
// Host: the sidecar answers only to loopback names (localhost,
// 127.0.0.0/8, [::1]) and to the names of its server.allowed_hosts (a
// Unix socket is not checked).
func New(addr string, opts ...Option) (*Client, error) {
	addr = strings.TrimPrefix(addr, "http://")
	if addr == "" || addr == "unix:" {
		return nil, errors.New("client: empty sidecar address")
	}
	var dial fasthttp.DialFunc
	if sock, ok := strings.CutPrefix(addr, "unix:"); ok {
		addr = "localhost"
		dial = func(string) (net.Conn, error) { return net.DialTimeout("unix", sock, time.Second) }
	}
	c := &Client{
		hc: &fasthttp.HostClient{
			Addr:                     addr,
			Dial:                     dial,
			MaxConns:                 64,
			MaxIdleConnDuration:      90 * time.Second,
			ReadTimeout:              time.Second,
			WriteTimeout:             time.Second,
			NoDefaultUserAgentHeader: true,
			DisablePathNormalizing:   true, // a UID's escaped "/" stays escaped
		},
		base:    "http://" + addr,
		timeout: 100 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Request is a decide request (see the README's Decision API).
type Request struct {
	RequestID   string         `json:"request_id,omitempty"`
	ChallengeID string         `json:"challenge_id,omitempty"`
	Stage       pdp.Stage      `json:"-"`
	UID         string         `json:"uid"`
	Device      *Device        `json:"device,omitempty"`
	Txn         *Txn           `json:"txn,omitempty"`
	Account     *Account       `json:"account,omitempty"`
	Context     map[string]any `json:"context,omitempty"`
}

// Device is where the operation comes from.
type Device struct {
	ID        string `json:"id,omitempty"`
	IP        string `json:"ip,omitempty"`
	IPCountry string `json:"ip_country,omitempty"`
	New       *bool  `json:"new,omitempty"`
	Emulator  bool   `json:"emulator,omitempty"`
	Rooted    bool   `json:"rooted,omitempty"`
	Proxy     bool   `json:"proxy,omitempty"`
}

// Txn is the operation's money movement or order.
type Txn struct {
	ID             string  `json:"id"`
	Amount         float64 `json:"amount"`
	Currency       string  `json:"currency,omitempty"`
	Category       string  `json:"category,omitempty"`
	Merchant       string  `json:"merchant,omitempty"`
	PaymentMethod  string  `json:"payment_method,omitempty"`
	ShipCountry    string  `json:"ship_country,omitempty"`
	CardBIN        string  `json:"card_bin,omitempty"`
	Purpose        string  `json:"purpose,omitempty"`
	DestinationNew bool    `json:"destination_new,omitempty"`
}

// Account is the caller's profile of the account.
type Account struct {
	HomeCountry   string          `json:"home_country,omitempty"`
	CreatedAt     *time.Time      `json:"created_at,omitempty"`
	VIP           bool            `json:"vip,omitempty"`
	RecentChanges []AccountChange `json:"recent_changes,omitempty"`
}

// AccountChange is a sensitive change reported inline.
type AccountChange struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
}

// MarshalJSON adds the stage's wire name.
func (r Request) MarshalJSON() ([]byte, error) {
	type plain Request
	return json.Marshal(struct {
		Stage string `json:"stage"`
		plain
	}{r.Stage.String(), plain(r)})
}

// Decision is the sidecar's answer.
type Decision struct {
	DecisionID     string      `json:"decision_id"`
	RequestID      string      `json:"request_id"`
	Outcome        pdp.Outcome `json:"outcome"`
	Reasons        []string    `json:"reasons"`
	StepUp         *StepUp     `json:"step_up"`
	Message        string      `json:"message"`
	Warning        *Warning    `json:"warning"`
	Limit          *Limit      `json:"limit"`
	Fallback       bool        `json:"fallback"`
	PolicyRevision string      `json:"policy_revision"`
	TookUS         int64       `json:"took_us"`
}

// StepUp says how to verify before retrying.
type StepUp struct {
	Methods     []string  `json:"methods"`
	ChallengeID string    `json:"challenge_id"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Warning is a notice to show the user.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Limit is a cap on a conditional release.
type Limit struct {
	MaxAmount   float64   `json:"max_amount"`
	DailyAmount float64   `json:"daily_amount"`
	Currency    string    `json:"currency"`
	Until       time.Time `json:"until"`
}

// TransportError is a call without an answer: the sidecar could not be
// reached, or did not answer within the timeout (Timeout reports which).
// Apply Fallback.
type TransportError struct {
	Path string
	Err  error
}

func (e *TransportError) Error() string { return fmt.Sprintf("pdp: %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the call ran out of time.
func (e *TransportError) Timeout() bool {
	return errors.Is(e.Err, fasthttp.ErrTimeout) || errors.Is(e.Err, context.DeadlineExceeded)
}

// Error is an error answer from the sidecar (4xx/5xx).
type Error struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("pdp: %d %s: %s: %s", e.Status, e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("pdp: %d %s: %s", e.Status, e.Code, e.Message)
}

// Decide asks for a decision. A *Error means the request was refused (fix
// the request); any other error means no answer (apply Fallback).
func (c *Client) Decide(ctx context.Context, r *Request) (*Decision, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("pdp: encode request: %w", err)
	}
	var d Decision
	if err := c.do(ctx, fasthttp.MethodPost, "/v1/decide", body, c.timeout, false, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// AppealRequest is a user's appeal of a freeze, restriction, limit or
// probation (README "Appeals and what the app shows"): the user's words
// and references to documents the service keeps, never documents or
// identity numbers.
type AppealRequest struct {
	UID       string   `json:"uid"`
	Reason    string   `json:"reason"`
	Documents []string `json:"documents,omitempty"`
	// RequestID makes the call safe to retry: the same one again answers
	// the appeal it lodged.
	RequestID string `json:"request_id,omitempty"`
}

// Appeal is an appeal as the app may show it.
type Appeal struct {
	ID          string    `json:"appeal_id"`
	Status      string    `json:"status"` // open, granted, rejected
	LodgedAt    time.Time `json:"lodged_at"`
	AnswerDueAt time.Time `json:"answer_due_at"`
	// AnsweredAt and Answer are set once it is closed.
	AnsweredAt time.Time `json:"answered_at"`
	Answer     string    `json:"answer"`
}

// Status is what the app may show of an account.
type Status struct {
	UID string `json:"uid"`
	// Status is ok, frozen, restricted, limited or probation (the most
	// severe).
	Status string `json:"status"`
	// Functions are the stages the account cannot use.
	Functions []string `json:"functions"`
	// Until is when it ends; zero when no end is set.
	Until     time.Time `json:"until"`
	Message   string    `json:"message"`
	CanAppeal bool      `json:"can_appeal"`
	Appeals   []Appeal  `json:"appeals"`
}

// Appeal lodges a user's appeal. A *Error with Status 409 means the
// account has nothing to appeal (Code "nothing_to_appeal") or too many
// appeals open ("too_many_appeals"); 400 names the field to fix. With a
// RequestID the call is retried once after a connection failure.
func (c *Client) Appeal(ctx context.Context, r *AppealRequest) (*Appeal, error) {
	var a Appeal
	if err := c.send(ctx, "/v1/appeals", r, r.RequestID != "", &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Status reads what the app may show of uid's account; locale ("" for the
// sidecar's messages.locale) chooses the message's language.
func (c *Client) Status(ctx context.Context, uid, locale string) (*Status, error) {
	path := "/v1/accounts/" + url.PathEscape(uid) + "/status"
	if locale != "" {
		path += "?locale=" + url.QueryEscape(locale)
	}
	var s Status
	if err := c.do(ctx, fasthttp.MethodGet, path, nil, max(c.timeout, writeTimeout), true, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// do sends a request and decodes a 2xx answer into out; within timeout
// or ctx's deadline, whichever comes first. An idempotent call is sent
// once more when the first attempt failed on its connection (the sidecar
// restarted, an idle connection closed) and time is left.
func (c *Client) do(ctx context.Context, method, path string, body []byte, timeout time.Duration, idempotent bool, out any) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(method)
	if method == fasthttp.MethodPost {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}

	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	err := c.hc.DoDeadline(req, resp, deadline)
	if err != nil && idempotent && !errors.Is(err, fasthttp.ErrTimeout) && time.Now().Before(deadline) && ctx.Err() == nil {
		err = c.hc.DoDeadline(req, resp, deadline)
	}
	if err != nil {
		return &TransportError{Path: path, Err: err}
	}
	if code := resp.StatusCode(); code < 200 || code > 299 {
		var env struct {
			Error Error `json:"error"`
		}
		if err := json.Unmarshal(resp.Body(), &env); err != nil || env.Error.Code == "" {
			return &Error{Status: code, Code: "unexpected_response", Message: string(resp.Body())}
		}
		env.Error.Status = code
		return &env.Error
	}
	if err := json.Unmarshal(resp.Body(), out); err != nil {
		return fmt.Errorf("pdp: decode %s answer: %w", path, err)
	}
	return nil
}
