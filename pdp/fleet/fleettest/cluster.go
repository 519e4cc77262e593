package fleettest

import (
	"context"
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

// StartCluster starts a Redis Cluster of three masters (no replicas) on
// loopback ports, with redis-server and redis-cli, and returns their
// addresses; it skips the test where either binary is missing. The
// servers are killed when the test ends.
func StartCluster(t testing.TB) []string {
	t.Helper()
	srv, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		t.Skip("redis-server and redis-cli are needed for a cluster")
	}
	var addrs []string
	for i := range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, port, _ := net.SplitHostPort(addr)
		dir := filepath.Join(t.TempDir(), strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(srv, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		waitPing(t, addr)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs { // every node must agree, not just the first
		c := redis.NewClient(&redis.Options{Addr: a})
		for i := 0; ; i++ {
			info, _ := c.ClusterInfo(context.Background()).Result()
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			if i > 500 {
				c.Close()
				t.Fatalf("cluster node %s not ok after 10 s:\n%s", a, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.Close()
	}
	return addrs
}

func waitPing(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if i > 200 {
			t.Fatalf("redis-server on %s did not start", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
