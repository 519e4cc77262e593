package replay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReplayLog replays arbitrary bytes as a decision log file against the
// reference policies. It must never panic or fail: what it cannot read is
// skipped, what it cannot rebuild or decide is counted; every record is
// accounted for once; and the three reports render, the HTML one with no
// markup from the log.
func FuzzReplayLog(f *testing.F) {
	dir := f.TempDir()
	recs, err := os.ReadFile(generateLog(f, dir, 12, 100))
	if err != nil {
		f.Fatal(err)
	}
	lines := bytes.SplitAfter(recs, []byte("\n"))
	for _, l := range lines[:6] {
		f.Add(l)
	}
	f.Add(recs)
	f.Add(bytes.Replace(lines[1], []byte(`"schema":1`), []byte(`"schema":0`), 1))
	f.Add(bytes.Replace(lines[2], []byte(`"uid":"`), []byte(`"uid":"<script>\x1b[2J`), 2))
	f.Add(bytes.Replace(lines[3], []byte(`"enrichment":{`), []byte(`"enrichment":{"velocity":{"uid":{"count_1h":-1}},`), 1))
	f.Add(lines[4][:len(lines[4])/2])
	f.Add([]byte("{\"schema\":1,\"outcome\":\"allow\",\"result\":{\"outcome\":\"allow\"},\"input\":{}}\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255, 1, 2, 3})

	log := filepath.Join(dir, "fuzz.log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		f.Fatal(err)
	}
	r, err := New(Options{Policies: copyPolicies(f, "", ""), Logs: []string{log}, Workers: 1, Sample: 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(r.Close)

	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(log, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r.total = int64(len(data))
		var changed bytes.Buffer
		r.opts.Changed = &changed
		rep, err := r.Run(context.Background())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rep.Records != rep.Compared+rep.Fallback.Count+rep.Failed.Count+rep.CandidateErrors.Count {
			t.Fatalf("records %d = compared %d + fallback %d + failed %d + candidate errors %d does not hold",
				rep.Records, rep.Compared, rep.Fallback.Count, rep.Failed.Count, rep.CandidateErrors.Count)
		}
		if rep.Matrix.Total() != rep.Compared || rep.Matrix.Changed() != rep.Changed ||
			int64(bytes.Count(changed.Bytes(), []byte("\n"))) != rep.Changed {
			t.Fatalf("matrix %v, compared %d, changed %d, changed lines %d", rep.Matrix, rep.Compared, rep.Changed, bytes.Count(changed.Bytes(), []byte("\n")))
		}
		var stageSum int64
		for _, s := range rep.Stages {
			stageSum += s.Compared
		}
		if stageSum != rep.Compared {
			t.Fatalf("stages add up to %d of %d", stageSum, rep.Compared)
		}
		var text, js, html bytes.Buffer
		if err := WriteText(&text, rep, 10); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&js, rep); err != nil {
			t.Fatal(err)
		}
		if err := WriteHTML(&html, rep); err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsRune(text.Bytes(), 0x1b) {
			t.Fatal("the text report passes an escape character from the log to the terminal")
		}
		if strings.Contains(html.String(), "<script") {
			t.Fatal("log content reached the HTML report unescaped")
		}
	})
}

// FuzzReadLabels parses arbitrary labels files: never a panic; when
// accepted, every transaction id is non-empty and every label known.
func FuzzReadLabels(f *testing.F) {
	f.Add("txn_id,label\nT1,fraud\nT2,legit\nT1,chargeback\n")
	f.Add("\ufeffLabel,note,TXN_ID\nFraud,\"a, b\",T9\n")
	f.Add("txn_id,label\n,fraud\n")
	f.Add("txn_id,label\nT1,frod\n")
	f.Add("txn_id\nT1\n")
	f.Add("txn_id,label\n\"T1,fraud\n")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ReadLabels(strings.NewReader(s))
		if err != nil {
			if l != nil {
				t.Fatal("labels returned with an error")
			}
			return
		}
		for id, lab := range l {
			if strings.TrimSpace(id) == "" || id != strings.TrimSpace(id) || lab < LabelLegit || lab > LabelChargeback {
				t.Fatalf("%q: %v", id, lab)
			}
		}
	})
}
