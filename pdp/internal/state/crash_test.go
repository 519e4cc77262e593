package state

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

const crashEnv = "STATE_CRASH_HELPER"

// TestCrashHelper runs only in the child of TestKill9KeepsAcknowledgedWrites:
// it writes a stream of sync changes (list entries, account updates, each
// with its audit record) and prints "ack N" after each one returned, while
// a goroutine keeps making async changes, until it is killed.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestKill9KeepsAcknowledgedWrites")
	}
	start, _ := strconv.Atoi(os.Getenv(crashEnv + "_START"))
	s, err := Open(Config{Path: path, FlushInterval: time.Millisecond})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	go func() { // about 10k async changes a second alongside
		for i := 0; ; i++ {
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
			_, _ = s.UpdateAccount(bg, fmt.Sprint("async-", i%100), Async, &pdp.AuditRecord{Action: "async"}, func(a *pdp.AccountState) error {
				a.Events = append(a.Events, pdp.AccountEvent{Kind: "login_failed", At: time.Now()})
				return nil
			})
		}
	}()
	for i := start; ; i++ {
		var err error
		if i%2 == 0 {
			err = s.PutListEntry(bg, block(pdp.SubjectDevice, fmt.Sprint("d-", i), strconv.Itoa(i)), pdp.AuditRecord{Action: "crash.put", UID: "u-crash", Detail: strconv.Itoa(i)})
		} else {
			_, err = s.UpdateAccount(bg, "u-crash", Sync, &pdp.AuditRecord{Action: "crash.update", Detail: strconv.Itoa(i)}, func(a *pdp.AccountState) error {
				a.Probation.Reason = strconv.Itoa(i)
				return nil
			})
		}
		if err != nil {
			fmt.Println("write:", err)
			os.Exit(3)
		}
		os.Stdout.WriteString("ack " + strconv.Itoa(i) + "\n")
	}
}

// Every write acknowledged before a SIGKILL is there after a restart,
// with its audit record.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	next := 0
	for round := range 3 {
		acked := killMidStream(t, path, next, 20+rand.IntN(80))
		if len(acked) == 0 {
			t.Fatalf("round %d: nothing acknowledged", round)
		}
		s, err := Open(Config{Path: path, SweepInterval: -1})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		audits := map[string]pdp.AuditRecord{}
		if err := s.Journal(bg, JournalFilter{UID: "u-crash"}, func(a pdp.AuditRecord) error {
			if strings.HasPrefix(a.Action, "crash.") {
				audits[a.Detail] = a
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		last := -1
		for _, i := range acked {
			if i%2 == 0 {
				r, err := s.Reputation(pdp.SubjectDevice, fmt.Sprint("d-", i), time.Now())
				if err != nil || r.BlockReason != strconv.Itoa(i) {
					t.Errorf("round %d: acknowledged put %d lost: %+v, %v", round, i, r, err)
				}
			} else {
				last = i
			}
			if a, ok := audits[strconv.Itoa(i)]; !ok {
				t.Errorf("round %d: audit record of acknowledged write %d lost", round, i)
			} else if (i%2 == 0) != (a.Action == "crash.put") {
				t.Errorf("round %d: audit of %d is %+v", round, i, a)
			}
		}
		if last >= 0 {
			a := mustAccount(t, s, "u-crash", time.Now())
			if n, _ := strconv.Atoi(a.Probation.Reason); n < last {
				t.Errorf("round %d: account at %d, last acknowledged update %d", round, n, last)
			}
		}
		t.Logf("round %d: %d acknowledged writes (%d..%d) all present, %d audit records", round, len(acked), acked[0], acked[len(acked)-1], len(audits))
		next = acked[len(acked)-1] + 100 // past anything unacknowledged
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// killMidStream runs the helper on path, SIGKILLs it once it acknowledged
// n writes, and returns every write it acknowledged.
func killMidStream(t *testing.T, path string, start, n int) []int {
	t.Helper()
	return killHelper(t, "^TestCrashHelper$", crashEnv, path, start, n)
}
