package fleettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// errTaken: another process answers on the port (it was picked free a
// moment earlier, and another test process took it in between).
var errTaken = errors.New("the port is taken by another process")

// freeAddr picks a loopback address free at this moment.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// launch starts redis-server (bin, args) in dir, to listen on addr, and
// waits until it answers there. It checks that the server answering is
// the one it started (INFO's process_id): a client of a server that lost
// the race for its port would otherwise talk to another test's Redis and
// never see its own outage.
func launch(bin, dir, addr string, args ...string) (*server, error) {
	_, port, _ := net.SplitHostPort(addr)
	logFile := filepath.Join(dir, "redis.log")
	cmd := exec.Command(bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--logfile", logFile}, args...)...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &server{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(srv.exited) }()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for i := 0; ; i++ {
		select {
		case <-srv.exited:
			return nil, fmt.Errorf("redis-server on %s exited: %w", addr, errTaken)
		default:
		}
		info, err := c.Info(context.Background(), "server").Result()
		if err == nil {
			if pid, _ := infoField(info, "process_id"); pid != strconv.Itoa(cmd.Process.Pid) {
				srv.kill()
				return nil, fmt.Errorf("redis-server %s answers on %s: %w", pid, addr, errTaken)
			}
			return srv, nil
		}
		if i > 500 {
			srv.kill()
			log, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("redis-server on %s did not start: %v\n%s", addr, err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// server is a running redis-server.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// kill kills the server (SIGKILL) and waits until it is gone.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// launchFree launches redis-server on a free loopback port, trying
// another port when the one picked is taken meanwhile.
func launchFree(t testing.TB, bin, dir string, args ...string) (string, *server) {
	t.Helper()
	for try := 0; ; try++ {
		addr := freeAddr(t)
		srv, err := launch(bin, dir, addr, args...)
		if err == nil {
			return addr, srv
		}
		if !errors.Is(err, errTaken) || try == 5 {
			t.Fatal(err)
		}
		t.Logf("%v: trying another port", err)
	}
}

func infoField(info, key string) (string, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v, true
		}
	}
	return "", false
}
