package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/replay"
	"github.com/riskpdp/riskpdp/pdp/internal/replay/replaytest"
	"github.com/riskpdp/riskpdp/pdp/sim"
)

// pdp simulate end to end: the report, the chart, the labels and the
// decision log land in --out, and pdp replay reads the log with the
// labels and finds the catch rate the report gives.
func TestSimulateCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sim")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"simulate", "--out", out, "--seed", "5", "--days", "2", "--accounts", "200",
		"--fraud-min", "3", "--format", "json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep sim.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil || !bytes.Equal(b, stdout.Bytes()) {
		t.Fatalf("report.json (%v) is not the report printed", err)
	}
	if rep.Seed != 5 || rep.Days != 2 || rep.Accounts != 200 || rep.Fraud.Transactions == 0 || rep.Legit.Transactions == 0 {
		t.Fatalf("report %+v", rep)
	}
	if svg, err := os.ReadFile(filepath.Join(out, "report.svg")); err != nil || !bytes.HasPrefix(svg, []byte("<svg ")) {
		t.Fatalf("report.svg: %v %.40s", err, svg)
	}
	labels, err := replay.LoadLabels(filepath.Join(out, "labels.csv"))
	if err != nil || len(labels) != rep.Legit.Transactions+rep.Fraud.Transactions {
		t.Fatalf("labels: %v, %d rows for %d transactions", err, len(labels), rep.Legit.Transactions+rep.Fraud.Transactions)
	}
	if !strings.Contains(stderr.String(), "simulated 2 days") {
		t.Fatalf("stderr: %s", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	code = Run(context.Background(), []string{"replay", "--log", filepath.Join(out, "decisions.jsonl"), "--labels",
		filepath.Join(out, "labels.csv"), "--policies", replaytest.CopyPolicies(t, "", ""), "--format", "json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, stderr.String())
	}
	var rr replay.Report
	if err := json.Unmarshal(stdout.Bytes(), &rr); err != nil {
		t.Fatal(err)
	}
	if rr.Records != rep.Calls.Decide || rr.Changed != 0 || rr.Labels.Bad.LiveFlagged != int64(rep.Fraud.SteppedUpOrDenied) {
		t.Fatalf("replay: %d records (%d decisions), %d changed, fraud %+v (report %+v)",
			rr.Records, rep.Calls.Decide, rr.Changed, rr.Labels.Bad, rep.Fraud)
	}

	// A second run into the same directory would mix two runs in one log.
	stderr.Reset()
	if code := Run(context.Background(), []string{"simulate", "--out", out, "--accounts", "10"}, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "already holds a decision log") {
		t.Fatalf("second run into %s: exit %d, %s", out, code, stderr.String())
	}
}

// Bad flags fail before anything runs, naming the flag.
func TestSimulateRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--out: required"},
		{[]string{"--out", dir, "--seed", "0"}, "--seed"},
		{[]string{"--out", dir, "--days", "0"}, "--days"},
		{[]string{"--out", dir, "--accounts", "-3"}, "--accounts"},
		{[]string{"--out", dir, "--fraud-min", "-1"}, "--fraud-min"},
		{[]string{"--out", dir, "--format", "yaml"}, "--format"},
		{[]string{"--out", dir, "--policies", notDir}, "--policies"},
		{[]string{"--out", dir, "--plugins", filepath.Join(dir, "missing")}, "--plugins"},
		{[]string{"--out", dir, "extra"}, "unknown command"},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"simulate"}, tc.args...), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, %q (want %q)", tc.args, code, stderr.String(), tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("refused runs left files in --out: %v", entries)
	}
}
