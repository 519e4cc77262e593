package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// StateInfo describes a prepared state file: what `pdp simulate
// prime-state` printed.
type StateInfo struct {
	Keys int `json:"keys"`
	// Accounts primed with the population's history (MixPopulation).
	Accounts  int     `json:"accounts,omitempty"`
	FileBytes int64   `json:"file_bytes"`
	LoadSecs  float64 `json:"load_seconds"`
}

// FillState writes a new state file at path with the sidecar binary pdp:
// `pdp simulate prime-state` writes keys block-list entries for the
// devices "bd-0" … "bd-<keys-1>" (the Zipf mix's blocklisted-device
// requests draw from them) through the sidecar's own store, and with a
// MixPopulation mix primes it with the history of the population
// NewTraffic(mix) makes — the same seed, accounts and time — as a
// sidecar that served it would hold it (first sight, known devices,
// habits, the VIP list).
func FillState(ctx context.Context, pdpBin, path string, keys int, mix MixConfig) (StateInfo, error) {
	args := primeStateArgs(path, keys, mix)
	cmd := exec.CommandContext(ctx, pdpBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return StateInfo{}, fmt.Errorf("fill state: pdp %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var info StateInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return StateInfo{}, fmt.Errorf("fill state: pdp %s printed %q: %w", strings.Join(args, " "), out, err)
	}
	return info, nil
}

// primeStateArgs are the arguments of `pdp simulate prime-state` for
// FillState: every parameter NewTraffic(mix) makes its population from
// (mix.withDefaults() fills them as NewTraffic does), or no population
// for the Zipf mix.
func primeStateArgs(path string, keys int, mix MixConfig) []string {
	mix = mix.withDefaults()
	args := []string{"simulate", "prime-state", "--state", path, "--block-devices", strconv.Itoa(keys)}
	if mix.Kind != MixPopulation {
		return append(args, "--accounts", "0")
	}
	return append(args, "--seed", strconv.FormatUint(mix.Seed, 10), "--accounts", strconv.Itoa(mix.UIDs),
		"--now", mix.Now.Format(time.RFC3339Nano))
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
