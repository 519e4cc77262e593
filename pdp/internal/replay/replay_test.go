package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/replay/replaytest"
)

// The reference policies replayed on their own log change nothing, not
// even on retries answered by a verification.
func TestReplaySamePolicies(t *testing.T) {
	dir := t.TempDir()
	log := replaytest.GenerateLogSpec(t, dir, replaytest.LogSpec{N: 600, MaxSizeMiB: 100, Verify: true})
	rep := runReplay(t, Options{Policies: copyPolicies(t, "", ""), Logs: []string{log}})
	if rep.Records != 600 || rep.Compared != 600 || rep.Changed != 0 || rep.ReasonsChanged != 0 {
		t.Fatalf("records %d compared %d changed %d reasons changed %d; failed %+v, candidate errors %+v",
			rep.Records, rep.Compared, rep.Changed, rep.ReasonsChanged, rep.Failed, rep.CandidateErrors)
	}
	if rep.Matrix.Changed() != 0 || len(rep.Appeared)+len(rep.Disappeared) != 0 {
		t.Fatalf("matrix %v appeared %v disappeared %v", rep.Matrix, rep.Appeared, rep.Disappeared)
	}
	// The log is varied enough to be a test: every outcome occurs.
	for _, o := range outcomes {
		if rep.Matrix.Live(o) == 0 {
			t.Fatalf("no %s in the generated log: %v", o, rep.Matrix)
		}
	}
}

// expected is an independent count, from the log records alone, of what
// lowering the "large" threshold from 5000 to 3000 (base currency, CNY)
// must change: the large_amount rule newly fires on money movements worth
// 3000·m to 5000·m CNY (m = 3 for VIP accounts; the amount converted at
// the policy's rates) by accounts that are not trusted, and
// repeated_large_amounts on money movements whose UID moved 9000 to 15000
// CNY in the hour (three times the large threshold) in two transactions or
// more, and anti_scam_guidance on money movements with a scam statement
// worth 3000 to 5000 CNY not denied for it already (a deny: no VIP
// multiplier), which turns their step-up into a deny.
type expected struct {
	large, repeated, scam        int64 // decisions gaining each reason
	liveLarge, liveRep, liveScam int64 // decisions carrying each reason live
	allowToStepUp, stepUpToDeny  int64
	changedIDs                   []string
}

func countExpected(t *testing.T, recs []*decisionlog.Record) expected {
	var e expected
	for _, rec := range recs {
		var in struct {
			Txn struct {
				Currency string `json:"currency"`
			} `json:"txn"`
			Context struct {
				Statement string `json:"user_statement"`
			} `json:"context"`
		}
		var en struct {
			Derived struct {
				Money          bool    `json:"money"`
				VIP            bool    `json:"vip"`
				AgeDays        float64 `json:"account_age_days"`
				SensitiveHours float64 `json:"sensitive_change_hours"`
				DeviceKnown    bool    `json:"device_known"`
			} `json:"derived"`
			Reputation struct {
				UID struct {
					Allowed bool `json:"allowed"`
				} `json:"uid"`
			} `json:"reputation"`
			AccountState struct {
				EverFrozen bool `json:"ever_frozen"`
			} `json:"account_state"`
			Velocity struct {
				UID struct {
					Amount1h float64 `json:"amount_1h"`
					Count1h  int     `json:"count_1h"`
				} `json:"uid"`
				Spent24h float64 `json:"spent_24h"`
			} `json:"velocity"`
		}
		if err := json.Unmarshal(rec.Input, &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(rec.Enrichment, &en); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(rec.Result.Reasons, "large_amount") {
			e.liveLarge++
		}
		if slices.Contains(rec.Result.Reasons, "repeated_large_amounts") {
			e.liveRep++
		}
		if slices.Contains(rec.Result.Reasons, "anti_scam_guidance") {
			e.liveScam++
		}
		d := en.Derived
		if !d.Money {
			continue
		}
		mult := 1.0
		if d.VIP {
			mult = 3
		}
		rate := map[string]float64{"CNY": 1, "USD": 7.1, "EUR": 7.8}[in.Txn.Currency]
		amount := math.Round(rec.Amount*rate*1e6) / 1e6 // the sidecar's amount_base, as the policy sees it
		recentChange := d.SensitiveHours >= 0 && d.SensitiveHours < 72
		trusted := (d.AgeDays >= 730 && !en.AccountState.EverFrozen && !recentChange && d.DeviceKnown) || en.Reputation.UID.Allowed
		large := amount >= 3000*mult && amount < 5000*mult && !trusted
		// repeated_large_amounts: from the medium amount, at least two
		// transactions in the hour moving 3 × large together, and so much
		// money moved (the day's spend and this one): 9 000 with the
		// candidate's large of 3 000, 15 000 live.
		v := en.Velocity
		repeatedAt := func(total float64) bool {
			return amount >= 2000 && v.UID.Count1h >= 2 && v.UID.Amount1h >= total && v.Spent24h+amount >= total
		}
		repeated := repeatedAt(9000) && !repeatedAt(15000)
		if large {
			e.large++
		}
		if repeated {
			e.repeated++
		}
		if (large || repeated) && rec.Result.Outcome == "allow" {
			e.allowToStepUp++
			e.changedIDs = append(e.changedIDs, rec.DecisionID)
		}
		// The generator's only statement is a scam one; a decision that
		// denies it already (a new destination) gains nothing.
		if in.Context.Statement != "" && amount >= 3000 && amount < 5000 && !slices.Contains(rec.Result.Reasons, "anti_scam_guidance") {
			e.scam++
			if rec.Result.Outcome == "step_up" {
				e.stepUpToDeny++
				e.changedIDs = append(e.changedIDs, rec.DecisionID)
			}
		}
	}
	return e
}

func reasonCount(rep *Report, reason string) ReasonCount {
	for _, r := range rep.Reasons {
		if r.Reason == reason {
			return r
		}
	}
	return ReasonCount{Reason: reason}
}

// A lowered threshold, replayed on a few thousand decisions of the
// reference policies (rotated, compressed log files), changes exactly the
// decisions an independent count of the log finds.
func TestReplayThresholdChange(t *testing.T) {
	dir := t.TempDir()
	n := 3000
	log := generateLog(t, dir, n, 1) // rotates about every 800 records
	files, _ := decisionlog.Files(log)
	if len(files) < 3 || !strings.HasSuffix(files[0], ".gz") {
		t.Fatalf("want rotated, compressed files: %v", files)
	}
	recs := readRecords(t, log)
	if len(recs) != n {
		t.Fatalf("%d records in the log", len(recs))
	}
	want := countExpected(t, recs)
	if want.allowToStepUp < 50 || want.large < 50 || want.repeated < 20 || want.stepUpToDeny == 0 {
		t.Fatalf("the generated log barely exercises the threshold: %+v", want)
	}

	cand := copyPolicies(t, `"large": 5000,`, `"large": 3000,`)
	var changed bytes.Buffer
	rep := runReplay(t, Options{Policies: cand, Logs: []string{log}, Changed: &changed, Sample: 10, Workers: 3})

	if rep.Records != int64(n) || rep.Compared != int64(n) || rep.Skipped.Count+rep.Failed.Count+rep.CandidateErrors.Count+rep.Fallback.Count != 0 {
		t.Fatalf("records %d compared %d; skipped %+v failed %+v candidate errors %+v", rep.Records, rep.Compared, rep.Skipped, rep.Failed, rep.CandidateErrors)
	}
	changes := want.allowToStepUp + want.stepUpToDeny
	if got, deny := rep.Matrix[pdp.Allow-1][pdp.StepUp-1], rep.Matrix[pdp.StepUp-1][pdp.Deny-1]; got != want.allowToStepUp ||
		deny != want.stepUpToDeny || rep.Changed != changes || rep.Matrix.Changed() != changes {
		t.Fatalf("allow→step_up %d, step_up→deny %d, changed %d; independent counts %d, %d\nmatrix %v",
			got, deny, rep.Changed, want.allowToStepUp, want.stepUpToDeny, rep.Matrix)
	}
	if l := reasonCount(rep, "large_amount"); l.Live != want.liveLarge || l.Candidate != want.liveLarge+want.large {
		t.Fatalf("large_amount %+v, want live %d candidate %d", l, want.liveLarge, want.liveLarge+want.large)
	}
	if l := reasonCount(rep, "repeated_large_amounts"); l.Live != want.liveRep || l.Candidate != want.liveRep+want.repeated {
		t.Fatalf("repeated_large_amounts %+v, want live %d candidate %d", l, want.liveRep, want.liveRep+want.repeated)
	}
	if l := reasonCount(rep, "anti_scam_guidance"); l.Live != want.liveScam || l.Candidate != want.liveScam+want.scam {
		t.Fatalf("anti_scam_guidance %+v, want live %d candidate %d", l, want.liveScam, want.liveScam+want.scam)
	}
	// Every other reason is untouched.
	for _, r := range rep.Reasons {
		if r.Reason != "large_amount" && r.Reason != "repeated_large_amounts" && r.Reason != "anti_scam_guidance" && r.Live != r.Candidate {
			t.Errorf("reason %s changed: %+v", r.Reason, r)
		}
	}
	// Per stage: the changes add up, and only money stages change.
	var sum int64
	for _, s := range rep.Stages {
		sum += s.Changed
		if s.Stage == "login" && s.Changed != 0 {
			t.Errorf("login changed: %+v", s)
		}
	}
	if sum != rep.Changed || len(rep.Stages) != 5 {
		t.Fatalf("stages %+v", rep.Stages)
	}
	// The changed list: every changed decision, in log order, as found
	// independently.
	var ids []string
	sc := bufio.NewScanner(&changed)
	for sc.Scan() {
		var c Change
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		stepUp := c.Live == "allow" && c.Candidate == "step_up" &&
			(slices.Contains(c.CandidateReasons, "large_amount") || slices.Contains(c.CandidateReasons, "repeated_large_amounts"))
		deny := c.Live == "step_up" && c.Candidate == "deny" && slices.Contains(c.CandidateReasons, "anti_scam_guidance")
		if !(stepUp || deny) || c.Line <= 0 || c.File == "" || c.UID == "" || c.TxnID == "" {
			t.Fatalf("change %+v", c)
		}
		ids = append(ids, c.DecisionID)
	}
	if !slices.Equal(ids, want.changedIDs) {
		t.Fatalf("changed list of %d differs from the independent %d", len(ids), len(want.changedIDs))
	}
	if len(rep.Sample) != 10 || rep.Sample[0].DecisionID != ids[0] || rep.Sample[9].DecisionID != ids[9] {
		t.Fatalf("sample %d", len(rep.Sample))
	}
	t.Logf("%d decisions, %d changed (large %d, repeated %d, scam %d)", n, rep.Changed, want.large, want.repeated, want.scam)

	var text bytes.Buffer
	if err := WriteText(&text, rep, 5); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("REPLAY_SHOW") != "" {
		t.Log("\n" + text.String())
	}
	for _, s := range []string{"allow→step_up", "large_amount", "Changed decisions (5 of "} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q", s)
		}
	}
	html := filepath.Join(dir, "report.html")
	f, _ := os.Create(html)
	if err := WriteHTML(f, rep); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
