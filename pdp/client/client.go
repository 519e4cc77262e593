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

// New returns a client for the sidecar at addr ("127.0.0.1:9191"). Every
// request carries Content-Type: application/json and addr as its Host: the
// sidecar answers only to loopback names (localhost, 127.0.0.0/8, [::1])
// and to the names of its server.allowed_hosts.
func New(addr string, opts ...Option) (*Client, error) {
	addr = strings.TrimPrefix(addr, "http://")
	if addr == "" {
		return nil, errors.New("client: empty sidecar address")
	}
	c := &Client{
		hc: &fasthttp.HostClient{
			Addr:                     addr,
			MaxConns:                 64,
			MaxIdleConnDuration:      90 * time.Second,
			ReadTimeout:              time.Second,
			WriteTimeout:             time.Second,
			NoDefaultUserAgentHeader: true,
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
	if err := c.post(ctx, "/v1/decide", body, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// post sends body to path and decodes the answer into out.
func (c *Client) post(ctx context.Context, path string, body []byte, out any) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)

	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.hc.DoDeadline(req, resp, deadline); err != nil {
		return fmt.Errorf("pdp: %s: %w", path, err)
	}
	if code := resp.StatusCode(); code != fasthttp.StatusOK {
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
