package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// TestAuditVerifyAndExport: pdp audit verify passes on a state file a
// sidecar wrote, and names the seq of an altered record with exit status
// 1; pdp audit export writes one JSON line per record with its link.
func TestAuditVerifyAndExport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(state.Config{Path: path, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	actor := pdp.AuditRecord{Actor: pdp.Actor{Operator: "alice", Ticket: "RISK-1"}}
	for _, d := range []string{"d-1", "d-2", "d-3"} {
		e := pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectDevice, Value: d, Reason: "ring"}
		if err := st.PutListEntry(ctx, e, actor); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.UpdateAccount(ctx, "u-1", state.Async, &pdp.AuditRecord{Action: pdp.ActionDecision, Detail: `{"decision_id":"x"}`}, func(*pdp.AccountState) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := Run(ctx, []string{"audit", "verify", "--state", path}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "verified") {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}

	out := filepath.Join(t.TempDir(), "audit.jsonl")
	stdout.Reset()
	stderr.Reset()
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if code := Run(ctx, []string{"audit", "export", "--state", path, "--since", since, "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "exported 4 records; last chained: seq 3 link ") {
		t.Errorf("export summary: %s", stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), data)
	}
	var rec struct {
		Seq     uint64         `json:"seq"`
		At      string         `json:"at"`
		Actor   map[string]any `json:"actor"`
		Action  string         `json:"action"`
		Detail  map[string]any `json:"detail"`
		Link    string         `json:"link"`
		PrevSeq *uint64        `json:"prev_seq"`
		Record  string         `json:"record"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 2 || rec.Action != "list.put" || rec.Actor["operator"] != "alice" || rec.Detail["value"] != "d-2" ||
		len(rec.Link) != 64 || rec.PrevSeq == nil || *rec.PrevSeq != 1 || rec.Record == "" {
		t.Errorf("record 2: %s", lines[1])
	}
	if _, err := time.Parse(time.RFC3339Nano, rec.At); err != nil {
		t.Errorf("at: %v", err)
	}
	rec.Link = ""
	if err := json.Unmarshal([]byte(lines[3]), &rec); err != nil || rec.Action != pdp.ActionDecision || rec.Link != "" {
		t.Errorf("decision record: %s (%v)", lines[3], err)
	}

	// Alter record 2 in the file.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		j := tx.Bucket([]byte("journal"))
		v := bytes.Replace(bytes.Clone(j.Get(state.SeqKey(2))), []byte("alice"), []byte("mallory"), 1)
		return j.Put(state.SeqKey(2), v)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := Run(ctx, []string{"audit", "verify", "--state", path}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "BROKEN    first at seq 2: record altered") {
		t.Fatalf("verify after tampering: exit %d\n%s", code, stdout.String())
	}
}

// TestAuditVerifyOnRedis: with --redis-addr, as pdp serve takes it, pdp
// audit verify reads the chain on Redis beside a running sidecar's Store.
func TestAuditVerifyOnRedis(t *testing.T) {
	r := fleettest.Start(t)
	be, err := fleet.Open(fleet.Config{Addrs: []string{r.Addr}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(state.Config{Backend: be, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, d := range []string{"d-1", "d-2"} {
		e := pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectDevice, Value: d, Reason: "ring"}
		if err := st.PutListEntry(ctx, e, pdp.AuditRecord{Actor: pdp.Actor{Operator: "alice"}}); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := Run(ctx, []string{"audit", "verify", "--redis-addr", r.Addr}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "2 chained and checked") || !strings.Contains(stdout.String(), "verified") {
		t.Fatalf("verify on Redis: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
