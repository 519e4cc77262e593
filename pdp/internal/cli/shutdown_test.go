package cli

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A real SIGTERM while a request is half sent: the sidecar stops accepting
// new connections, waits for that request, answers it with its decision,
// then exits 0.
func TestSIGTERMFinishesInFlightRequest(t *testing.T) {
	p := spawn(t, freeAddr(t), "--state", filepath.Join(t.TempDir(), "state.db"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := stepUpBody
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /v1/decide HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:half])
	time.Sleep(200 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.url, "http://"), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting 10 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.hasExited() {
		t.Fatalf("exited (%v) with a request in flight", p.exitErr)
	}
	if _, err := conn.Write([]byte(body[half:])); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the in-flight request: %v\n%s", err, p.logs)
	}
	var raw strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&raw)
	if resp.StatusCode != 200 || !strings.Contains(raw.String(), `"outcome":"step_up"`) {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, raw.String())
	}
	p.awaitExit(t, 20*time.Second, true)
}
