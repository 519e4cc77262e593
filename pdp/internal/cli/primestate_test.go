package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/sim"
)

// pdp simulate prime-state writes the state file the load harness starts
// pdp serve on: the block-listed devices bd-0 … and the history of
// exactly the population bench's sim.NewTraffic(seed, accounts, now)
// plays, and prints what it wrote.
func TestSimulatePrimeState(t *testing.T) {
	const seed, accounts, blocked = 3, 300, 2500
	now := time.Date(2026, 12, 7, 6, 30, 15, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "state.db")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"simulate", "prime-state", "--state", path, "--block-devices", fmt.Sprint(blocked),
		"--seed", fmt.Sprint(seed), "--accounts", fmt.Sprint(accounts), "--now", now.Format(time.RFC3339)}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var info struct {
		Keys      int     `json:"keys"`
		Accounts  int     `json:"accounts"`
		FileBytes int64   `json:"file_bytes"`
		LoadSecs  float64 `json:"load_seconds"`
	}
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	pop := sim.NewTraffic(seed, accounts, now).Population()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys != blocked || info.Accounts != len(pop.Accounts)+len(pop.Mules) || info.FileBytes != fi.Size() || info.LoadSecs <= 0 {
		t.Fatalf("printed %+v; want %d keys, %d accounts, %d bytes", info, blocked, len(pop.Accounts)+len(pop.Mules), fi.Size())
	}
	if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("partial file left: %v", err)
	}

	st, err := state.Open(state.Config{Path: path, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	values := map[string]bool{}
	for after := ""; ; {
		page, err := st.ListEntries(ctx, pdp.ListBlock, pdp.SubjectDevice, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			values[e.Value] = true
		}
		after = page[len(page)-1].Value
	}
	if len(values) != blocked {
		t.Fatalf("%d block-listed devices, want %d", len(values), blocked)
	}
	for _, i := range []int{0, 1, blocked / 2, blocked - 1} {
		if v := fmt.Sprintf("bd-%d", i); !values[v] {
			t.Errorf("%s is not block-listed", v)
		}
	}
	if r, err := st.Reputation(pdp.SubjectDevice, "bd-7", now); err != nil || !r.Blocked {
		t.Errorf("reputation of bd-7: %+v, %v", r, err)
	}

	vips := 0
	for _, group := range [][]*sim.Account{pop.Accounts, pop.Mules} {
		for _, a := range group {
			s, err := st.Account(a.UID, now)
			if err != nil {
				t.Fatal(err)
			}
			if s.FirstSeen.IsZero() || s.FirstSeen.After(now) || len(s.Devices) == 0 || s.Devices[0].ID != a.Phone ||
				len(s.Destinations) != 1 {
				t.Fatalf("%s not primed: %+v", a.UID, s)
			}
			if a.VIP {
				vips++
			}
		}
	}
	n := 0
	for after := ""; ; {
		page, err := st.ListEntries(ctx, pdp.ListVIP, pdp.SubjectUID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		n += len(page)
		after = page[len(page)-1].Value
	}
	if vips == 0 || n != vips {
		t.Fatalf("%d VIP list entries, the population has %d VIPs", n, vips)
	}
}

// prime-state writes a new file or nothing: it refuses an existing one
// (a state a sidecar may be serving) and bad flags, naming the flag.
func TestSimulatePrimeStateRefuses(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--state: required"},
		{[]string{"--state", existing, "--accounts", "0"}, "exists"},
		{[]string{"--state", fresh, "--block-devices", "-1"}, "--block-devices"},
		{[]string{"--state", fresh, "--seed", "0"}, "--seed"},
		{[]string{"--state", fresh, "--accounts", "-1"}, "--accounts"},
		{[]string{"--state", fresh, "--now", "yesterday"}, "--now"},
		{[]string{"--state", filepath.Join(dir, "missing", "s.db"), "--accounts", "0"}, "--state"},
		{[]string{"--state", fresh, "extra"}, "unknown command"},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"simulate", "prime-state"}, tc.args...), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, %q (want %q)", tc.args, code, stderr.String(), tc.want)
		}
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "keep" {
		t.Fatalf("existing file: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("refused runs left files: %v", entries)
	}
}
