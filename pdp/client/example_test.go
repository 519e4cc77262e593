package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/client"
	"github.com/riskpdp/riskpdp/pdp/internal/cli"
)

// startSidecar runs `pdp serve` in-process on a free port, for the example.
func startSidecar() (addr string, stop func()) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr = ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		state, _ := os.MkdirTemp("", "pdp-example")
		defer os.RemoveAll(state)
		cli.Run(ctx, []string{"serve", "--addr", addr, "--policies", "../../policies", "--state", state + "/state.db"}, io.Discard, io.Discard)
		close(done)
	}()
	for i := 0; i < 200; i++ {
		if resp, err := http.Get("http://" + addr + "/health/ready"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return addr, func() { cancel(); <-done }
}

func Example() {
	addr, stop := startSidecar()
	defer stop()

	c, _ := client.New(addr, client.WithTimeout(50*time.Millisecond))
	defer c.Close()

	isNew := true
	opened := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	d, err := c.Decide(context.Background(), &client.Request{
		Stage:   pdp.StagePayment,
		UID:     "u-1001",
		Device:  &client.Device{ID: "d-77", IP: "203.0.113.7", IPCountry: "SG", New: &isNew},
		Txn:     &client.Txn{ID: "t-9", Amount: 6800, Currency: "CNY", Category: "digital"},
		Account: &client.Account{HomeCountry: "CN", CreatedAt: &opened},
	})
	var refused *client.Error
	switch {
	case errors.As(err, &refused):
		fmt.Println("fix the request:", refused.Field, refused.Message)
		return
	case err != nil:
		fmt.Println("no answer, apply", client.Fallback) // never allow on error
		return
	}
	switch d.Outcome {
	case pdp.Allow:
		fmt.Println("authorize")
	case pdp.StepUp:
		fmt.Println("verify with", d.StepUp.Methods, "because", d.Reasons)
	case pdp.Deny:
		fmt.Println("block:", d.Message)
	}

	_, err = c.Decide(context.Background(), &client.Request{Stage: pdp.StagePayment, UID: "u-1"})
	if errors.As(err, &refused) {
		fmt.Println(refused.Status, refused.Code, refused.Field)
	}
	// Output:
	// verify with [face] because [large_amount new_device_foreign_ip]
	// 400 missing_field txn
}
