package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/client"
	"github.com/riskpdp/riskpdp/pdp/internal/cli"
)

// countingProxy forwards every connection to target and counts them.
func countingProxy(t *testing.T, target string) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return ln.Addr().String(), conns
}

// The loop a payment service runs, through the client against pdp serve:
// decide, step up, verify, retry, allow; the outcome and an event; errors
// typed; every call on one kept-alive connection.
func TestClientStepUpLoop(t *testing.T) {
	addr, _ := startWithAdmin(t)
	proxy, conns := countingProxy(t, addr)
	c, err := client.New(proxy, client.WithTimeout(2*time.Second)) // a loaded test machine
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	created := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	payment := func(dev, country string) *client.Request {
		return &client.Request{Stage: pdp.StagePayment, UID: "u-loop",
			Device:  &client.Device{ID: dev, IP: "203.0.113.7", IPCountry: country},
			Txn:     &client.Txn{ID: "t-abroad", Amount: 6000, Currency: "CNY", Category: "digital"},
			Account: &client.Account{HomeCountry: "CN", CreatedAt: &created}}
	}
	d, err := c.Decide(ctx, payment("d-hotel", "SG"))
	if err != nil || d.Outcome != pdp.StepUp || d.StepUp == nil {
		t.Fatalf("6 000 CNY abroad: %+v %v", d, err)
	}
	var v *client.VerificationStatus
	for _, m := range d.StepUp.Methods {
		if v, err = c.Verify(ctx, &client.Verification{ChallengeID: d.StepUp.ChallengeID, Method: m, Result: "passed", UID: "u-loop"}); err != nil {
			t.Fatalf("verify %s: %v", m, err)
		}
	}
	if v.Status != "passed" {
		t.Fatalf("after every method passed: %+v", v)
	}
	if d, err = c.Decide(ctx, payment("d-hotel", "SG")); err != nil || d.Outcome != pdp.Allow {
		t.Fatalf("the verified retry: %+v %v", d, err)
	}
	o, err := c.Outcome(ctx, &client.Outcome{UID: "u-loop", TxnID: "t-abroad", Status: "completed"})
	if err != nil || !o.Recorded || !o.Known || len(o.Outcomes) != 1 {
		t.Fatalf("outcome: %+v %v", o, err)
	}
	if o, err = c.Outcome(ctx, &client.Outcome{UID: "u-loop", TxnID: "t-abroad", Status: "completed"}); err != nil || o.Recorded {
		t.Fatalf("the same outcome again: %+v %v, want recorded false", o, err)
	}
	e, err := c.Event(ctx, &client.Event{UID: "u-loop", Kind: "phone_change"})
	if err != nil || !e.Recorded || e.Kind != "phone_change" {
		t.Fatalf("event: %+v %v", e, err)
	}

	// Refusals are typed and name what to fix.
	var apiErr *client.Error
	if _, err := c.Event(ctx, &client.Event{UID: "u-loop", Kind: "teleported"}); !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Field != "kind" {
		t.Errorf("an unknown event kind: %v", err)
	}
	if _, err := c.Outcome(ctx, &client.Outcome{UID: "u-loop", TxnID: "t-never", Status: "completed"}); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("an outcome of an unknown payment: %v", err)
	}
	if _, err := c.Verify(ctx, &client.Verification{ChallengeID: "c2.forged", Method: "face", Result: "passed"}); !errors.As(err, &apiErr) || apiErr.Status/100 != 4 {
		t.Errorf("a forged challenge: %v", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential calls, want one kept alive", n)
	}
}

// No answer is a *TransportError, never a decision: a timeout says so.
func TestClientTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c, _ := client.New(ln.Addr().String(), client.WithTimeout(50*time.Millisecond))
	var te *client.TransportError
	_, err = c.Decide(context.Background(), &client.Request{Stage: pdp.StageLogin, UID: "u-1"})
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("a sidecar that does not answer: %v, want a timeout", err)
	}
	closed := ln.Addr().String()
	ln.Close()
	c, _ = client.New(closed, client.WithTimeout(50*time.Millisecond))
	if err := c.Ready(context.Background()); !errors.As(err, &te) || te.Timeout() {
		t.Errorf("nothing listening: %v, want a transport error that is not a timeout", err)
	}
}

// A sidecar on a Unix socket.
func TestClientUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "pdp-client") // short: a socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "pdp.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cli.Run(ctx, []string{"serve", "--addr", "unix:" + sock, "--policies", "../../policies", "--state", filepath.Join(dir, "state.db")},
			io.Discard, io.Discard)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	c, err := client.New("unix:"+sock, client.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); c.Ready(context.Background()) != nil; time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("sidecar not ready on its socket")
		}
	}
	d, err := c.Decide(context.Background(), &client.Request{Stage: pdp.StageLogin, UID: "u-sock",
		Device: &client.Device{ID: "d-1", IP: "203.0.113.7", IPCountry: "CN"}})
	if err != nil || !d.Outcome.Valid() {
		t.Fatalf("decide over the socket: %+v %v", d, err)
	}
}
