package state_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

func Example() {
	dir, _ := os.MkdirTemp("", "state-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := state.Open(state.Config{Path: filepath.Join(dir, "state.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// An operator blocks a device: durable, with its audit record, when
	// the call returns.
	err = s.PutListEntry(ctx,
		pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectDevice, Value: "d-77", Reason: "emulator farm"},
		pdp.AuditRecord{Actor: pdp.Actor{Operator: "alice", Ticket: "RISK-1"}})
	if err != nil {
		log.Fatal(err)
	}

	// The decision path reads the device's reputation and the account...
	now := time.Now()
	rep, _ := s.Reputation(pdp.SubjectDevice, "d-77", now)
	fmt.Println("blocked:", rep.Blocked)

	// ...and carries out the policy's obligation without waiting for disk.
	_, err = s.UpdateAccount(ctx, "u-1", state.Async, &pdp.AuditRecord{Action: "freeze", Actor: pdp.Actor{Operator: "pdp"}},
		func(a *pdp.AccountState) error {
			a.Freezes = append(a.Freezes, pdp.Freeze{Kind: pdp.FreezeTemporary, Since: now, Until: now.Add(30 * time.Minute), Rule: "device_blocklisted"})
			return nil
		})
	if err != nil {
		log.Fatal(err)
	}
	acct, _ := s.Account("u-1", now)
	fmt.Println("frozen:", len(acct.Freezes) == 1 && acct.Freezes[0].Active(now))
	// Output:
	// blocked: true
	// frozen: true
}
