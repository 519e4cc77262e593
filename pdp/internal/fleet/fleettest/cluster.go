package fleettest

import (
	"context"
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
	bin, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		t.Skip("redis-server and redis-cli are needed for a cluster")
	}
	var addrs []string
	for i := range 3 {
		dir := filepath.Join(t.TempDir(), strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		addr, srv := launchFree(t, bin, dir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--appendonly", "no")
		t.Cleanup(srv.kill)
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
