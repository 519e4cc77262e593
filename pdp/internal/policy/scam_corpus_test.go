package policy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
)

// The scam-statement corpus (testdata/scam_statements.jsonl) holds labelled
// statements as users type them, in Chinese, English and both: scam scripts
// of the source procedures (fake customer service, fake police, safe
// accounts, screen sharing and remote control, guidance over the phone,
// loan, task and investment scams, codes) and ordinary refunds, complaints,
// remote-work and screen-protector purchases, police reports and the like.
// It was written before the matcher; the phrase lists were tuned on the
// "dev" half only, and the "holdout" half measures them. A "stress" split
// (ordinary statements dense in actor and request words, scam paraphrases)
// was written after the tuning, before any evaluation of it.
type corpusStatement struct {
	ID      int    `json:"id"`
	Split   string `json:"split"`
	Label   string `json:"label"`
	Pattern string `json:"pattern"`
	Text    string `json:"text"`
}

func readCorpus(t testing.TB) []corpusStatement {
	t.Helper()
	f, err := os.Open("testdata/scam_statements.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusStatement
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s corpusStatement
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		if (s.Label != "scam" && s.Label != "legit") || (s.Split != "dev" && s.Split != "holdout" && s.Split != "stress") || s.Text == "" {
			t.Fatalf("line %d: bad entry %+v", len(out)+1, s)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// corpusRequest is a small payment that the reference policy allows, with
// the statement: whatever it answers comes from the statement.
func corpusRequest(statement string) string {
	b, _ := json.Marshal(statement)
	return `{"stage":"payment","uid":"u","device":{"id":"d","ip_country":"CN","new":false},` +
		`"txn":{"id":"t","amount":100,"currency":"CNY","category":"daily_goods"},` +
		`"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"},"context":{"user_statement":` + string(b) + `}}`
}

// confusion counts one split's answers: a statement is flagged when the
// payment is stepped up or denied.
type confusion struct{ tp, fp, fn, tn int }

func (c confusion) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c confusion) recall() float64    { return ratio(c.tp, c.tp+c.fn) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (c confusion) String() string {
	return fmt.Sprintf("precision %.3f (%d/%d), recall %.3f (%d/%d), legit flagged %d/%d",
		c.precision(), c.tp, c.tp+c.fp, c.recall(), c.tp, c.tp+c.fn, c.fp, c.fp+c.tn)
}

// Floors pinned a little under the measured figures (README, "Anti-scam"):
// a phrase change that makes the reference policy worse on the corpus
// fails the test suite.
const (
	corpusPrecisionFloor = 0.94 // measured 0.961 (221/230)
	corpusRecallFloor    = 0.83 // measured 0.857 (221/258)
)

// TestScamStatementCorpus evaluates the reference policy, through the
// engine and its fast path, on every statement of the corpus and holds its
// precision and recall (flagged: step_up or deny) to the floors. -v prints
// the figures per split; SCAM_CORPUS_ERRORS=dev (or holdout, all) lists
// the statements it gets wrong.
func TestScamStatementCorpus(t *testing.T) {
	corpus := readCorpus(t)
	if len(corpus) < 300 {
		t.Fatalf("corpus of %d statements, want at least 300", len(corpus))
	}
	e := newTestEngine(t)
	ps := e.cur.Load()
	if ps.fast == nil {
		t.Fatalf("reference policy not on the fast path: %v", ps.notes)
	}
	// Each phrase list runs as one scan of the statement, not as a regexp
	// (a pattern that is not only literals would).
	lists := map[int]bool{}
	for _, n := range ps.fast.Shape().Scans {
		lists[n] = true
	}
	if len(lists) != 4 {
		t.Errorf("%d phrase lists run as scans, want 4 (phrases, actors, requests, exclusions)", len(lists))
	}
	ctx := context.Background()
	base, _, err := e.Evaluate(ctx, mustDecode(t, strings.Replace(corpusRequest(""), `,"context":{"user_statement":""}`, "", 1)))
	if err != nil || base.Outcome != pdp.Allow {
		t.Fatalf("the payment without a statement: %+v %v", base, err)
	}
	show := os.Getenv("SCAM_CORPUS_ERRORS")
	splits := map[string]*confusion{"dev": {}, "holdout": {}, "stress": {}, "all": {}}
	for _, s := range corpus {
		r, _, err := e.Evaluate(ctx, mustDecode(t, corpusRequest(s.Text)))
		if err != nil {
			t.Fatalf("%d: %v", s.ID, err)
		}
		flagged := r.Outcome != pdp.Allow
		if flagged && (r.Outcome != pdp.StepUp || !slices.Equal(r.Reasons, []string{"scam_statement"}) || r.Warning != "anti_fraud") {
			t.Errorf("%d %q: %+v, want a step-up for scam_statement with the anti-fraud warning", s.ID, s.Text, r)
		}
		scam := s.Label == "scam"
		for _, name := range []string{s.Split, "all"} {
			c := splits[name]
			switch {
			case scam && flagged:
				c.tp++
			case scam:
				c.fn++
			case flagged:
				c.fp++
			default:
				c.tn++
			}
		}
		if scam != flagged && (show == s.Split || show == "all") {
			t.Logf("%s %d %s/%s flagged=%v: %s", s.Split, s.ID, s.Label, s.Pattern, flagged, s.Text)
		}
	}
	for _, name := range []string{"dev", "holdout", "stress", "all"} {
		t.Logf("%-7s %v", name, splits[name])
	}
	all := splits["all"]
	if all.precision() < corpusPrecisionFloor {
		t.Errorf("precision %.3f under the floor %.2f", all.precision(), corpusPrecisionFloor)
	}
	if all.recall() < corpusRecallFloor {
		t.Errorf("recall %.3f under the floor %.2f", all.recall(), corpusRecallFloor)
	}
}
