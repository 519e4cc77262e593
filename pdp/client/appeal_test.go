package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/client"
	"github.com/riskpdp/riskpdp/pdp/internal/cli"
)

const opToken = "op-write-token-0123456789"

// startWithAdmin runs `pdp serve` with the operator API, for a test.
func startWithAdmin(t *testing.T) (addr, admin string) {
	t.Helper()
	dir := t.TempDir()
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	addr, admin = free(), free()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(opToken+" write alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cli.Run(ctx, []string{"serve", "--addr", addr, "--policies", "../../policies", "--state", filepath.Join(dir, "state.db"),
			"--admin-addr", admin, "--admin-token-file", tokens}, io.Discard, io.Discard)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr, "http://" + admin
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("sidecar not ready")
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Appeal and Status against a live sidecar: a frozen account appeals, the
// same request_id again answers the same appeal, the status shows it; an
// account in good standing gets a 409 *client.Error.
func TestAppealAndStatus(t *testing.T) {
	addr, admin := startWithAdmin(t)
	req, _ := http.NewRequest("POST", admin+"/admin/v1/accounts/u%2F7/freeze",
		strings.NewReader(`{"kind":"temporary","duration":"1h","functions":["withdrawal"],"operator":"alice","reason":"review","ticket":"RISK-1"}`))
	req.Header.Set("Authorization", "Bearer "+opToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("freeze: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	c, err := client.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	ar := &client.AppealRequest{UID: "u/7", Reason: "I was abroad", Documents: []string{"doc-1"}, RequestID: "r-1"}
	a, err := c.Appeal(ctx, ar)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != "open" || a.ID == "" || !a.AnswerDueAt.Equal(a.LodgedAt.Add(48*time.Hour)) || !a.AnsweredAt.IsZero() {
		t.Fatalf("appeal %+v", a)
	}
	if again, err := c.Appeal(ctx, ar); err != nil || *again != *a {
		t.Fatalf("again: %+v %v, first %+v", again, err, a)
	}
	st, err := c.Status(ctx, "u/7", "en")
	if err != nil {
		t.Fatal(err)
	}
	if st.UID != "u/7" || st.Status != "restricted" || len(st.Functions) != 1 || st.Functions[0] != "withdrawal" || st.Until.IsZero() ||
		st.Message == "" || !st.CanAppeal || len(st.Appeals) != 1 || st.Appeals[0] != *a {
		t.Fatalf("status %+v", st)
	}
	_, err = c.Appeal(ctx, &client.AppealRequest{UID: "u-fine", Reason: "why"})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 409 || e.Code != "nothing_to_appeal" {
		t.Fatalf("appeal in good standing: %v", err)
	}
	if st, err := c.Status(ctx, "u-fine", ""); err != nil || st.Status != "ok" || st.CanAppeal || st.Appeals == nil {
		t.Fatalf("status in good standing: %+v %v", st, err)
	}
}
