package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
)

// A damaged log (a corrupt gzip segment in a rotated file, a record of an
// older schema, a line that is not JSON, a truncated last line) is
// replayed: each damage skipped and counted with its file and line, every
// readable record compared, no error.
func TestReplayDamagedLog(t *testing.T) {
	dir := t.TempDir()
	log := generateLog(t, dir, 2500, 1)
	files, err := decisionlog.Files(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 || !strings.HasSuffix(files[1], ".gz") || files[len(files)-1] != log {
		t.Fatalf("want rotated, compressed files and the live one: %v", files)
	}
	total := int64(len(readRecords(t, log)))

	// The second rotated file: damage the middle of its compressed stream.
	gz, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	for i := len(gz) / 2; i < len(gz)/2+64; i++ {
		gz[i] ^= 0x5a
	}
	writeFile(t, files[1], gz)

	// The live file: an older-schema copy of its 4th record after line 4,
	// garbage after line 8 (now 9), and the first record cut in half at
	// the end, without its newline (a write cut short).
	live, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(live, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty tail after the last newline
	old := bytes.Replace(lines[3], []byte(`"schema":1,`), []byte(`"schema":0,`), 1)
	if bytes.Equal(old, lines[3]) {
		t.Fatalf("no schema field in %s", lines[3])
	}
	var b bytes.Buffer
	for i, l := range lines {
		b.Write(l)
		switch i {
		case 3:
			b.Write(old) // line 5
		case 7:
			b.WriteString("{\"schema\":1,\"decision_id\": GARBAGE\n") // line 10
		}
	}
	b.Write(lines[0][:len(lines[0])/2])
	writeFile(t, log, b.Bytes())
	liveLines := int64(len(lines) + 3)

	// The independent count: the log's own reader.
	rd := decisionlog.NewReader(files)
	var readable int64
	for {
		if _, err := rd.Next(); err != nil {
			break
		}
		readable++
	}
	defer rd.Close()
	if readable >= total || readable < total/3 {
		t.Fatalf("%d of %d records readable after the damage", readable, total)
	}

	// A generous evaluation budget: under -race on a loaded machine a 1 s
	// budget was seen to expire (a candidate error, not a difference).
	rep := runReplay(t, Options{Policies: copyPolicies(t, "", ""), Logs: []string{log}, EvalTimeout: time.Minute})
	// A gzip stream is checked only at its end, so the damaged one may
	// first inflate to lines that still read as records but whose fields
	// were garbled (seen: a garbled "outcome" key, repeated by later
	// back-references, left tens of records without an outcome): replay
	// counts them as failed, with file and line. Every other record is
	// compared.
	if rep.Records != readable || rep.Compared+rep.Failed.Count != readable || rep.Changed != 0 {
		t.Fatalf("records %d compared %d changed %d; the reader read %d; fallback %+v failed %+v candidate errors %+v",
			rep.Records, rep.Compared, rep.Changed, readable, rep.Fallback, rep.Failed, rep.CandidateErrors)
	}
	for _, f := range rep.Failed.First {
		if f.File != files[1] {
			t.Fatalf("a record outside the damaged stream failed: %+v", f)
		}
	}
	// Before its checksum fails, the damaged stream may inflate to lines
	// of garbage: skipped as corrupt, in that file. The report has what
	// the reader skipped, in order, with file and line.
	skips := rd.Skips()
	byReason := map[string]int64{}
	for _, sk := range skips {
		byReason[sk.Reason]++
	}
	var first []decisionlog.Skip // the first maxIssues, and the first of each other reason
	seen := map[string]bool{}
	for _, sk := range skips {
		if len(first) < maxIssues || !seen[sk.Reason] {
			first = append(first, sk)
		}
		seen[sk.Reason] = true
	}
	if rep.Skipped.Count != int64(len(skips)) || !maps.Equal(rep.Skipped.ByReason, byReason) || len(rep.Skipped.First) != len(first) {
		t.Fatalf("skipped %+v; the reader skipped %v", rep.Skipped, skips)
	}
	for i, is := range rep.Skipped.First {
		if sk := first[i]; is.File != sk.File || is.Line != sk.Line || is.Reason != sk.Reason {
			t.Fatalf("skip %d: %+v, the reader's %+v", i, is, sk)
		}
	}
	// What the damaged stream inflated to before its checksum failed is
	// garbage of any kind (usually "corrupt", but a garbled line can parse
	// as JSON of another schema); the other skips are exactly the four made.
	at := map[string]decisionlog.Skip{}
	made := map[string]int64{}
	var garbled int64
	for _, sk := range skips {
		if sk.File == files[1] && sk.Reason != decisionlog.SkipGzip {
			garbled++
			continue
		}
		at[sk.Reason] = sk
		made[sk.Reason]++
	}
	if want := map[string]int64{decisionlog.SkipGzip: 1, decisionlog.SkipSchema: 1, decisionlog.SkipCorrupt: 1,
		decisionlog.SkipTruncated: 1}; !maps.Equal(made, want) {
		t.Fatalf("skipped %v", skips)
	}
	want := map[string]struct {
		file string
		line int64
	}{
		decisionlog.SkipSchema:    {log, 5},
		decisionlog.SkipCorrupt:   {log, 10},
		decisionlog.SkipTruncated: {log, liveLines},
	}
	for reason, w := range want {
		if i := at[reason]; i.File != w.file || i.Line != w.line {
			t.Errorf("%s at %s:%d, want %s:%d", reason, i.File, i.Line, w.file, w.line)
		}
	}
	if i := at[decisionlog.SkipGzip]; i.File != files[1] || i.Line <= 0 || i.Detail == "" {
		t.Errorf("gzip skip %+v", i)
	}
	var text bytes.Buffer
	if err := WriteText(&text, rep, 5); err != nil {
		t.Fatal(err)
	}
	// The text lists the first skip of each reason: for "schema" that may
	// be a garbled line of the damaged stream, before decisions.log:5.
	firstSchema := at[decisionlog.SkipSchema]
	for _, sk := range first {
		if sk.Reason == decisionlog.SkipSchema {
			firstSchema = sk
			break
		}
	}
	for _, s := range []string{fmt.Sprintf("%d skipped lines", 4+garbled), "skipped " + filepath.Base(files[1]) + ":", " gzip: ",
		fmt.Sprintf("skipped %s:%d schema", filepath.Base(firstSchema.File), firstSchema.Line),
		"skipped decisions.log:" + fmt.Sprint(liveLines) + " truncated"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, text.String())
		}
	}
}

// A record the sidecar logged as a fallback (the policy failed live) has no
// policy answer to compare with; a record whose input cannot be rebuilt
// (an enrichment key this version does not know) is counted as failed;
// both with their line, and the rest is compared; a decision a failed
// closed-mode plugin made a step-up stays one.
func TestReplayFallbackAndUnrebuildable(t *testing.T) {
	dir := t.TempDir()
	log := generateLog(t, dir, 50, 100)
	live, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(live, []byte("\n"))
	var rec decisionlog.Record
	if err := json.Unmarshal(lines[4], &rec); err != nil {
		t.Fatal(err)
	}
	rec.Fallback, rec.Result.PolicyErrors = true, "policy evaluation timed out"
	if lines[4], err = json.Marshal(&rec); err != nil {
		t.Fatal(err)
	}
	lines[4] = append(lines[4], '\n')
	// Line 15: an allow the sidecar made a step-up because a closed-mode
	// plugin failed; the candidate gets the same treatment.
	for i := 14; ; i++ {
		var r decisionlog.Record
		if err := json.Unmarshal(lines[i], &r); err != nil {
			t.Fatal(err)
		}
		if r.Outcome != "allow" {
			continue
		}
		r.Outcome, r.Result.Outcome = "step_up", "step_up"
		r.Result.Reasons = append(r.Result.Reasons, ReasonPluginUnavailable)
		if lines[i], err = json.Marshal(&r); err != nil {
			t.Fatal(err)
		}
		lines[i] = append(lines[i], '\n')
		break
	}
	lines[9] = bytes.Replace(lines[9], []byte(`"enrichment":{`), []byte(`"enrichment":{"from_the_future":1,`), 1)
	writeFile(t, log, bytes.Join(lines, nil))

	rep := runReplay(t, Options{Policies: copyPolicies(t, "", ""), Logs: []string{log}})
	if rep.Records != 50 || rep.Compared != 48 || rep.Changed != 0 || rep.ReasonsChanged != 0 || rep.PluginUnavailable != 1 ||
		rep.Fallback.Count != 1 || rep.Failed.Count != 1 {
		t.Fatalf("records %d compared %d changed %d fallback %+v failed %+v", rep.Records, rep.Compared, rep.Changed, rep.Fallback, rep.Failed)
	}
	if rep.Fallback.First[0].Line != 5 || rep.Fallback.First[0].Detail != "policy evaluation timed out" || rep.Failed.First[0].Line != 10 || !strings.Contains(rep.Failed.First[0].Detail, "from_the_future") {
		t.Fatalf("fallback %+v failed %+v", rep.Fallback.First, rep.Failed.First)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
