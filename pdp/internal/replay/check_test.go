package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/replay/replaytest"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// directCount is the check done by hand: every logged input
// rebuilt and evaluated with a separate engine over the candidate, and the
// transitions, stages, reasons, changed decisions and label rates counted
// here, without the replay pipeline.
type directCount struct {
	matrix     Matrix
	stages     map[string]*Matrix
	reasons    map[string][2]int64
	changedIDs []string
	// reasonsOnly counts decisions whose outcome stayed and reasons did not.
	reasonsOnly int64
	bad, legit  Rate
	complaint   Rate
	unlabelled  Rate
}

func countDirectly(t *testing.T, recs []*decisionlog.Record, candDir string, labels Labels) directCount {
	t.Helper()
	eng, err := policy.New(policy.Options{Source: policy.Source{FS: os.DirFS(candDir), Label: candDir}, Package: "riskpdp",
		EvalTimeout: 5 * time.Second, Limits: request.Limits{MaxDepth: 256, MaxAmount: 1e300}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	c := directCount{stages: map[string]*Matrix{}, reasons: map[string][2]int64{}}
	type txn struct{ live, cand pdp.Outcome }
	byTxn := map[string]*txn{}
	for _, rec := range recs {
		in, err := request.ReplayInput(rec.Input, rec.Timestamp, rec.Enrichment, request.Limits{MaxDepth: 256, MaxAmount: 1e300})
		if err != nil {
			t.Fatalf("%s: %v", rec.DecisionID, err)
		}
		res, _, err := eng.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		live, _ := pdp.ParseOutcome(rec.Outcome)
		cand := res.Outcome
		candReasons := res.Reasons
		if slices.Contains(rec.Result.Reasons, "plugin_unavailable") {
			t.Fatal("no plugins in this log")
		}
		c.matrix[live-1][cand-1]++
		if c.stages[rec.Stage] == nil {
			c.stages[rec.Stage] = new(Matrix)
		}
		c.stages[rec.Stage][live-1][cand-1]++
		seen := map[string]bool{}
		for _, r := range rec.Result.Reasons {
			if !seen["l"+r] {
				seen["l"+r] = true
				v := c.reasons[r]
				v[0]++
				c.reasons[r] = v
			}
		}
		for _, r := range candReasons {
			if !seen["c"+r] {
				seen["c"+r] = true
				v := c.reasons[r]
				v[1]++
				c.reasons[r] = v
			}
		}
		if live != cand {
			c.changedIDs = append(c.changedIDs, rec.DecisionID)
		} else if l, r := sortedSet(rec.Result.Reasons), sortedSet(candReasons); !slices.Equal(l, r) {
			c.reasonsOnly++
		}
		if rec.TxnID == "" {
			continue
		}
		if _, ok := labels[rec.TxnID]; !ok {
			c.unlabelled.add(live, cand)
			continue
		}
		if x := byTxn[rec.TxnID]; x != nil {
			x.live, x.cand = pdp.Stricter(x.live, live), pdp.Stricter(x.cand, cand)
		} else {
			byTxn[rec.TxnID] = &txn{live, cand}
		}
	}
	for id, x := range byTxn {
		switch labels[id] {
		case LabelFraud, LabelChargeback:
			c.bad.add(x.live, x.cand)
		case LabelComplaint:
			c.complaint.add(x.live, x.cand)
		case LabelLegit:
			c.legit.add(x.live, x.cand)
		}
	}
	return c
}

// How we will check it: decide requests through the real decision path
// with the decision log on, change one threshold in a copy of the
// policies, replay, and compare every number of the report with an
// independent count.
func TestReplayMatchesIndependentCount(t *testing.T) {
	dir := t.TempDir()
	n := 2000
	log := replaytest.GenerateLogSpec(t, dir, replaytest.LogSpec{N: n, MaxSizeMiB: 1, Verify: true})
	recs := readRecords(t, log)
	var verified int
	for _, rec := range recs {
		if len(rec.Result.Satisfied) > 0 {
			verified++
		}
	}
	if verified < 20 {
		t.Fatalf("%d decisions answered by a verification", verified)
	}
	if len(recs) != n {
		t.Fatalf("%d records", len(recs))
	}
	// Labels: some transactions fraud, chargeback, complaint or legit,
	// one labelled transaction the log does not have.
	var csv strings.Builder
	csv.WriteString("txn_id,label\n")
	for i, rec := range recs {
		if rec.TxnID == "" {
			continue
		}
		switch {
		case i%7 == 0:
			fmt.Fprintf(&csv, "%s,fraud\n", rec.TxnID)
		case i%11 == 0:
			fmt.Fprintf(&csv, "%s,Chargeback\n%s,complaint\n", rec.TxnID, rec.TxnID) // the stronger wins
		case i%13 == 0:
			fmt.Fprintf(&csv, "%s,complaint\n", rec.TxnID)
		case i%3 == 0:
			fmt.Fprintf(&csv, "%s,legit\n", rec.TxnID)
		}
	}
	csv.WriteString("T-not-in-the-log,fraud\n")
	labels, err := ReadLabels(strings.NewReader(csv.String()))
	if err != nil {
		t.Fatal(err)
	}

	// The extreme CNY amount: 50000 → 9000 (deny instead of allow or step_up).
	cand := copyPolicies(t, `"extreme": 50000,`, `"extreme": 9000,`)
	want := countDirectly(t, recs, cand, labels)
	var changed bytes.Buffer
	rep := runReplay(t, Options{Policies: cand, Logs: []string{log}, Labels: labels, Changed: &changed, Workers: 2})

	if rep.Records != int64(n) || rep.Compared != int64(n) || rep.Matrix != want.matrix || rep.Changed != int64(len(want.changedIDs)) ||
		rep.ReasonsChanged != want.reasonsOnly {
		t.Fatalf("records %d compared %d changed %d (reasons only %d) matrix %v; independent: changed %d (%d) matrix %v",
			rep.Records, rep.Compared, rep.Changed, rep.ReasonsChanged, rep.Matrix, len(want.changedIDs), want.reasonsOnly, want.matrix)
	}
	if want.matrix[pdp.Allow-1][pdp.Deny-1] == 0 || want.matrix[pdp.StepUp-1][pdp.Deny-1] == 0 {
		t.Fatalf("the threshold change is not exercised: %v", want.matrix)
	}
	if len(rep.Stages) != len(want.stages) {
		t.Fatalf("stages %+v, want %d", rep.Stages, len(want.stages))
	}
	for _, s := range rep.Stages {
		w := want.stages[s.Stage]
		if w == nil || s.Matrix != *w || s.Compared != w.Total() || s.Changed != w.Changed() {
			t.Errorf("stage %s: %+v, independent %v", s.Stage, s, w)
		}
	}
	got := map[string][2]int64{}
	for _, r := range rep.Reasons {
		got[r.Reason] = [2]int64{r.Live, r.Candidate}
	}
	if !maps.Equal(got, want.reasons) {
		t.Fatalf("reasons %v, independent %v", got, want.reasons)
	}
	if a, d := appearedDisappeared(want.reasons); !slices.Equal(rep.Appeared, a) || !slices.Equal(rep.Disappeared, d) {
		t.Fatalf("appeared %v disappeared %v, independent %v %v", rep.Appeared, rep.Disappeared, a, d)
	}
	var ids []string
	for sc := bufio.NewScanner(&changed); sc.Scan(); {
		var c Change
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.DecisionID)
	}
	if !slices.Equal(ids, want.changedIDs) {
		t.Fatalf("changed list (%d) differs from the independent one (%d)", len(ids), len(want.changedIDs))
	}

	l := rep.Labels
	if l == nil || l.Bad != want.bad || l.Legit != want.legit || l.Complaint != want.complaint || l.Unlabelled != want.unlabelled {
		t.Fatalf("labels %+v\nindependent bad %+v legit %+v complaint %+v unlabelled %+v", l, want.bad, want.legit, want.complaint, want.unlabelled)
	}
	if l.Labelled["fraud"] != l.Seen["fraud"]+1 || l.Seen["chargeback"] == 0 || l.Bad.CandidateFlagged < l.Bad.LiveFlagged ||
		l.Bad.CandidateDenied <= l.Bad.LiveDenied {
		t.Fatalf("labels %+v", l)
	}
	var text bytes.Buffer
	if err := WriteText(&text, rep, 3); err != nil {
		t.Fatal(err)
	}
	catch := fmt.Sprintf("%d/%d", l.Bad.CandidateDenied, l.Bad.N)
	if !strings.Contains(text.String(), "catch rate") || !strings.Contains(text.String(), catch) {
		t.Fatalf("text report lacks the catch rate %s:\n%s", catch, text.String())
	}
	if os.Getenv("REPLAY_SHOW") != "" {
		t.Log("\n" + text.String())
	}
	t.Logf("%d decisions (%d answered by a verification), matrix %v, catch (flagged) %d→%d of %d, false positives %d→%d of %d", n, verified, rep.Matrix,
		l.Bad.LiveFlagged, l.Bad.CandidateFlagged, l.Bad.N, l.FalsePositive().LiveFlagged, l.FalsePositive().CandidateFlagged, l.FalsePositive().N)
}

func appearedDisappeared(reasons map[string][2]int64) (appeared, disappeared []string) {
	appeared, disappeared = []string{}, []string{}
	for r, v := range reasons {
		switch {
		case v[0] == 0 && v[1] > 0:
			appeared = append(appeared, r)
		case v[0] > 0 && v[1] == 0:
			disappeared = append(disappeared, r)
		}
	}
	slices.Sort(appeared)
	slices.Sort(disappeared)
	return appeared, disappeared
}

func sortedSet(s []string) []string {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return slices.Sorted(maps.Keys(m))
}
