package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// StateInfo describes a risk state file WriteState wrote.
type StateInfo struct {
	// Keys is the number of block-list entries (the devices "bd-0" …).
	Keys int `json:"keys"`
	// Accounts is the number of accounts primed with the population's
	// history (its customers and mule accounts; 0 without a population).
	Accounts  int     `json:"accounts,omitempty"`
	FileBytes int64   `json:"file_bytes"`
	LoadSecs  float64 `json:"load_seconds"`
}

// stateBatch is how many block-list entries WriteState writes per
// transaction.
const stateBatch = 100_000

// WriteState writes a new risk state file at path, as `pdp serve --state`
// opens it, for a load harness whose sidecar serves the population's
// sessions (Traffic) or other traffic (`pdp simulate prime-state`):
// blockedDevices block-list entries for the devices "bd-0" …
// "bd-<blockedDevices-1>" (operator "bench", created at the wall clock's
// now), in bulk transactions of 100 000 through the sidecar's own store —
// the file format and indexes the operator API's writes produce, without
// an HTTP round trip per entry; then, when pop is not nil, the
// population's history as a sidecar that served it would hold it (what
// Run primes its own state with: first sight, known devices, habits, the
// VIP list).
//
// Nothing must exist at path: the file is written under path + ".partial"
// (removed first if a failed run left it) and renamed to path once
// complete, so a failed run leaves nothing at path.
func WriteState(ctx context.Context, path string, blockedDevices int, pop *Population) (StateInfo, error) {
	if blockedDevices < 0 {
		return StateInfo{}, fmt.Errorf("%d block-list entries", blockedDevices)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			err = fmt.Errorf("%s exists (the state file is written new)", path)
		}
		return StateInfo{}, err
	}
	tmp := path + ".partial"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return StateInfo{}, err
	}
	start := time.Now()
	info, err := writeState(ctx, tmp, blockedDevices, pop)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return StateInfo{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return StateInfo{}, err
	}
	info.FileBytes, info.LoadSecs = fi.Size(), time.Since(start).Seconds()
	return info, nil
}

func writeState(ctx context.Context, path string, keys int, pop *Population) (StateInfo, error) {
	s, err := state.Open(state.Config{Path: path, SweepInterval: -1})
	if err != nil {
		return StateInfo{}, err
	}
	batch := make([]pdp.ListEntry, 0, min(keys, stateBatch))
	now := time.Now().UTC()
	actor := pdp.Actor{Operator: "bench", Reason: "device threat feed", Ticket: "BENCH-1"}
	for i := range keys {
		batch = append(batch, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectDevice,
			Value: fmt.Sprintf("bd-%d", i), Reason: "device threat feed", Created: now, Actor: actor})
		if len(batch) == cap(batch) || i == keys-1 {
			if err := s.PutListEntries(ctx, batch, pdp.AuditRecord{Actor: actor}); err != nil {
				s.Close()
				return StateInfo{}, fmt.Errorf("block list: %w", err)
			}
			batch = batch[:0]
		}
	}
	info := StateInfo{Keys: keys}
	if pop != nil {
		if err := pop.prime(ctx, s); err != nil {
			s.Close()
			return StateInfo{}, err
		}
		info.Accounts = len(pop.Accounts) + len(pop.Mules)
	}
	return info, s.Close()
}
