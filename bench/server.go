package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Server is a target process on loopback.
type Server struct {
	// Name labels the target in results ("sidecar", "opa", "floor").
	Name string
	Bin  string
	Args []string
	// Env is added to the harness's environment.
	Env []string
	// Addr is the HOST:PORT it serves decisions on; Path the decision
	// path; Ready the path that answers 200 once it is ready.
	Addr, Path, Ready string
	// OPABody selects the OPA Data API body of each request.
	OPABody bool
	// Sessions, when set, is the load it is sent instead of the mix's
	// bodies: a sidecar started for a MixPopulation run plays the
	// population's sessions (a new source per start).
	Sessions *SessionQueue
	// Log receives the process's stdout and stderr.
	Log string

	cmd       *exec.Cmd
	exited    chan struct{}
	startSecs float64
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start runs the process and waits until its ready path answers 200.
func (s *Server) Start(ctx context.Context, timeout time.Duration) error {
	logf, err := os.Create(s.Log)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(s.Bin, s.Args...)
	s.cmd.Env = append(os.Environ(), s.Env...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited during start (%v); log: %s", s.Name, s.cmd.ProcessState, tail(s.Log))
		case <-ctx.Done():
			s.Stop()
			return ctx.Err()
		default:
		}
		resp, err := client.Get("http://" + s.Addr + s.Ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.startSecs = time.Since(t0).Seconds()
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("%s not ready after %v; log: %s", s.Name, timeout, tail(s.Log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID is the process id of the running server.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// StartSeconds is how long the server took to become ready.
func (s *Server) StartSeconds() float64 { return s.startSecs }

// Stop sends SIGTERM, waits up to 20 s for the process to exit (the
// sidecar drains and saves its velocity windows; a profiled one writes
// its profile), then kills it.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New(s.Name + " did not stop on SIGTERM; killed")
	}
}

// tail returns the end of a log file for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
}
