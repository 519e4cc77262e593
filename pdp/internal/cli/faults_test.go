package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Fault injection on a real `pdp serve` process (built from this tree):
// operator writes and decisions run under load while the process is
// stopped with SIGTERM or killed with SIGKILL; after a restart on the same
// state file every write the operator API acknowledged is in force, and no
// decision answered during the fault was an allow for a blocked device.

const faultToken = "fault-write-token-0123456789"

func startProc(t *testing.T, dir, addr, adminAddr string, extra ...string) *proc {
	t.Helper()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(faultToken+" write chaos\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--state", filepath.Join(dir, "state.db"), "--admin-addr", adminAddr, "--admin-token-file", tokens}
	p := spawn(t, addr, append(args, extra...)...)
	p.admin = "http://" + adminAddr
	return p
}

func (p *proc) op(method, path, body string) (int, []byte, error) {
	req, _ := http.NewRequest(method, p.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+faultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// deviceBody is a harmless small payment from a device (an allow unless
// the device is blocked).
func deviceBody(uid, device string) string {
	return fmt.Sprintf(`{"request_id":"r","stage":"payment","uid":%q,"device":{"id":%q},"txn":{"id":"t","amount":12,"currency":"CNY","category":"daily_goods"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`, uid, device)
}

func (p *proc) decide(body string) (int, map[string]any, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Post(p.url+"/v1/decide", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &m)
	return resp.StatusCode, m, nil
}

func TestFaultSIGTERMUnderLoad(t *testing.T) { faultUnderLoad(t, syscall.SIGTERM) }

func TestFaultSIGKILLUnderLoad(t *testing.T) { faultUnderLoad(t, syscall.SIGKILL) }

func faultUnderLoad(t *testing.T, sig syscall.Signal) {
	dir := t.TempDir()
	addr, adminAddr := freeAddr(t), freeAddr(t)
	p := startProc(t, dir, addr, adminAddr)

	var mu sync.Mutex
	var acked []string // devices whose block the API acknowledged
	var writes, answered, allowBlocked, refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ { // operators blocking devices
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				dev := fmt.Sprintf("d-%d-%d", w, n)
				code, _, err := p.op("PUT", "/admin/v1/lists/block/device/"+dev, `{"operator":"chaos","reason":"fault test","ticket":"CHAOS-1"}`)
				writes.Add(1)
				if err == nil && code == 200 {
					mu.Lock()
					acked = append(acked, dev)
					mu.Unlock()
				}
			}
		}()
	}
	for c := 0; c < 4; c++ { // callers paying from devices already blocked
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				if len(acked) == 0 {
					mu.Unlock()
					time.Sleep(time.Millisecond)
					continue
				}
				dev := acked[n%len(acked)]
				mu.Unlock()
				code, d, err := p.decide(deviceBody(fmt.Sprintf("c-%d-%d", c, n), dev))
				if err != nil {
					refused.Add(1) // the process is gone: no answer, never an allow
					continue
				}
				answered.Add(1)
				if code == 200 && d["outcome"] == "allow" {
					allowBlocked.Add(1)
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	p.stop(t, sig, 20*time.Second)     // SIGTERM: a clean exit
	time.Sleep(200 * time.Millisecond) // let the load notice
	close(stop)
	wg.Wait()

	// Restart on the same state: every acknowledged block is there.
	q := startProc(t, dir, freeAddr(t), freeAddr(t))
	lost := 0
	for _, dev := range acked {
		code, d, err := q.decide(deviceBody("after-"+dev, dev))
		if err != nil || code != 200 || d["outcome"] != "deny" {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged block of %s not in force after %v: %d %v %v", dev, sig, code, d, err)
			}
		}
	}
	if allowBlocked.Load() != 0 || lost != 0 || len(acked) == 0 || answered.Load() == 0 {
		t.Errorf("%v: %d acknowledged writes, %d lost, %d decisions answered, %d allows for blocked devices",
			sig, len(acked), lost, answered.Load(), allowBlocked.Load())
	}
	t.Logf("fault %v under load: %d operator writes tried, %d acknowledged, %d lost after restart; %d decisions answered, %d refused by the dead process, %d allows for blocked devices",
		sig, writes.Load(), len(acked), lost, answered.Load(), refused.Load(), allowBlocked.Load())
}
