package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/sim"
	"github.com/riskpdp/riskpdp/pdp/state"
)

// StateInfo describes a prepared state file.
type StateInfo struct {
	Keys int `json:"keys"`
	// Accounts primed with the population's history (MixPopulation).
	Accounts  int     `json:"accounts,omitempty"`
	FileBytes int64   `json:"file_bytes"`
	LoadSecs  float64 `json:"load_seconds"`
}

// FillState writes a state file at path holding keys block-list entries
// for the devices "bd-0" … "bd-<keys-1>" (the Zipf mix's
// blocklisted-device requests draw from them), in bulk transactions of
// 100 000 through pdp/state, the sidecar's own store: the same file format
// and indexes the operator API's writes produce, without an HTTP round
// trip per entry. With pop (MixPopulation), the file is primed with the
// population's history as a sidecar that served it would hold it
// (sim.Population.Prime: first sight, known devices, habits, the VIP
// list).
func FillState(ctx context.Context, path string, keys int, pop *sim.Population) (StateInfo, error) {
	_ = os.Remove(path)
	start := time.Now()
	s, err := state.Open(state.Config{Path: path, SweepInterval: -1})
	if err != nil {
		return StateInfo{}, err
	}
	const batchSize = 100_000
	batch := make([]pdp.ListEntry, 0, min(keys, batchSize))
	now := time.Now().UTC()
	actor := pdp.Actor{Operator: "bench", Reason: "device threat feed", Ticket: "BENCH-1"}
	for i := range keys {
		batch = append(batch, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectDevice,
			Value: fmt.Sprintf("bd-%d", i), Reason: "device threat feed", Created: now, Actor: actor})
		if len(batch) == cap(batch) || i == keys-1 {
			if err := s.PutListEntries(ctx, batch, pdp.AuditRecord{Actor: actor}); err != nil {
				s.Close()
				return StateInfo{}, fmt.Errorf("fill state: %w", err)
			}
			batch = batch[:0]
		}
	}
	info := StateInfo{Keys: keys}
	if pop != nil {
		if err := pop.Prime(ctx, s); err != nil {
			s.Close()
			return StateInfo{}, fmt.Errorf("fill state: %w", err)
		}
		info.Accounts = len(pop.Accounts) + len(pop.Mules)
	}
	if err := s.Close(); err != nil {
		return StateInfo{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return StateInfo{}, err
	}
	info.FileBytes, info.LoadSecs = fi.Size(), time.Since(start).Seconds()
	return info, nil
}

// copyFile copies src to dst (a fresh state file per server start, so no
// run inherits the accounts, freezes and habits an earlier run wrote).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
