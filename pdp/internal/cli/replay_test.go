package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/replay"
	"github.com/riskpdp/riskpdp/pdp/internal/replay/replaytest"
)

// pdp replay end to end: a log of the reference policies, a candidate with
// one threshold lowered, the text, JSON, HTML and changed-decision outputs
// agreeing with each other, and a progress bar only when asked.
func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	log := replaytest.GenerateLog(t, dir, 800, 100)
	cand := replaytest.CopyPolicies(t, `"large": 5000,`, `"large": 3000,`)
	html := filepath.Join(dir, "out", "report.html")
	changed := filepath.Join(dir, "out", "changed.jsonl")
	if err := os.Mkdir(filepath.Dir(html), 0o755); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"replay", "--log", log, "--policies", cand, "--format", "json",
		"--html", html, "--changed", changed, "--show", "5", "--progress"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep replay.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if rep.Records != 800 || rep.Compared != 800 || rep.Changed == 0 || rep.Matrix.Changed() != rep.Changed || len(rep.Sample) != 5 {
		t.Fatalf("records %d compared %d changed %d matrix %v sample %d", rep.Records, rep.Compared, rep.Changed, rep.Matrix, len(rep.Sample))
	}
	// --changed holds every changed decision, the report's sample first.
	f, err := os.Open(changed)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var c replay.Change
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if n < 5 && c.DecisionID != rep.Sample[n].DecisionID {
			t.Fatalf("changed line %d is %s, sample has %s", n+1, c.DecisionID, rep.Sample[n].DecisionID)
		}
	}
	if n != rep.Changed {
		t.Fatalf("%d changed decisions in --changed, %d in the report", n, rep.Changed)
	}
	// The HTML page is self-contained and carries the same numbers.
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", rep.Sample[0].DecisionID, "Replay: " + itoa(rep.Changed) + " of 800 decisions change outcome"} {
		if !strings.Contains(string(page), s) {
			t.Errorf("HTML report lacks %q", s)
		}
	}
	for _, s := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(string(page), s) {
			t.Errorf("HTML report is not self-contained: %q", s)
		}
	}
	if !strings.Contains(stderr.String(), "replay") || !strings.Contains(stderr.String(), "100%") {
		t.Errorf("--progress drew no bar: %q", stderr.String())
	}
	if entries, _ := os.ReadDir(filepath.Dir(html)); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}

	// Text to stdout, no bar when stderr is not a terminal, the log given
	// as an argument.
	stdout.Reset()
	stderr.Reset()
	if code := Run(context.Background(), []string{"replay", "--policies", cand, "--show", "3", log}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	text := stdout.String()
	for _, s := range []string{"pdp replay: 800 records in 1 file", "outcome changed " + itoa(rep.Changed),
		"transitions: allow→step_up " + itoa(rep.Matrix[0][1]), "large_amount", "Changed decisions (3 of " + itoa(rep.Changed)} {
		if !strings.Contains(text, s) {
			t.Errorf("text report lacks %q:\n%s", s, text)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q", stderr.String())
	}

	// --show 0 lists none, and says so.
	stdout.Reset()
	if code := Run(context.Background(), []string{"replay", "--policies", cand, "--show", "0", "--html", html, log}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	page, _ = os.ReadFile(html)
	if !strings.Contains(stdout.String(), "Changed decisions (0 of "+itoa(rep.Changed)) ||
		!strings.Contains(string(page), itoa(rep.Changed)+" changed decisions, not listed") {
		t.Errorf("--show 0:\n%s", stdout.String())
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// --explain: each changed decision carries the candidate's rules that
// fired with the values that made them fire; with the large-amount
// threshold lowered to 3 000, a decision that became a step-up names
// large_amount, its location and the threshold it read.
func TestReplayExplain(t *testing.T) {
	dir := t.TempDir()
	log := replaytest.GenerateLog(t, dir, 300, 100)
	cand := replaytest.CopyPolicies(t, `"large": 5000,`, `"large": 3000,`)
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"replay", "--log", log, "--policies", cand, "--format", "json", "--explain", "--show", "50"},
		&stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep replay.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rep.Sample {
		if len(c.CandidateRules) == 0 {
			t.Fatalf("changed decision %s without its rules", c.DecisionID)
		}
		for _, r := range c.CandidateRules {
			if r.Rule == "step_up" && r.Value == "large_amount" && strings.HasPrefix(r.Location, "riskpdp/rules.rego:") &&
				r.Refs["data.riskpdp.th.large"] == float64(3000) {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no changed decision names large_amount with the candidate's threshold: %+v", rep.Sample)
	}
	stdout.Reset()
	if code := Run(context.Background(), []string{"replay", "--log", log, "--policies", cand, "--explain", "--show", "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if text := stdout.String(); !strings.Contains(text, "the candidate's rules that fired") || !strings.Contains(text, "data.riskpdp.th.large = 3000") {
		t.Errorf("text report:\n%s", text)
	}
}

// A wrong policy directory, a missing log, a bad labels file or output path
// fail at once, before any log is read, and leave no output behind.
func TestReplayCommandFailsFast(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "decisions.log")
	writeFile(t, log, "")
	good := replaytest.CopyPolicies(t, "", "")
	broken := replaytest.CopyPolicies(t, `"large": 5000,`, `"large": 5000,,`)
	html := filepath.Join(dir, "r.html")
	labels := filepath.Join(dir, "labels.csv")
	writeFile(t, labels, "txn_id,label\nT1,frod\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log", log, "--policies", filepath.Join(dir, "nope"), "--html", html}, "policies"},
		{[]string{"--log", log, "--policies", log}, "not a directory"},
		{[]string{"--log", log, "--policies", filepath.Join(good, "riskpdp"), "--html", html}, "riskpdp"}, // one level too deep: no package
		{[]string{"--log", log, "--policies", broken, "--html", html}, "load policies"},
		{[]string{"--log", log}, "--policies"},
		{[]string{"--policies", good}, "--log"},
		{[]string{"--log", filepath.Join(dir, "missing.log"), "--policies", good}, "missing.log"},
		{[]string{"--log", log, "--policies", good, "--labels", labels}, "line 2: label"},
		{[]string{"--log", log, "--policies", good, "--html", filepath.Join(dir, "no", "r.html")}, "--html"},
		{[]string{"--log", log, "--policies", good, "--format", "xml"}, "--format"},
	} {
		var stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"replay"}, c.args...), io.Discard, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error naming %q", c.args, code, stderr.String(), c.want)
		}
	}
	if _, err := os.Stat(html); !os.IsNotExist(err) {
		t.Errorf("a failed replay left %s", html)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left behind: %v", entries)
	}
}
