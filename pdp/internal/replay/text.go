package replay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/riskpdp/riskpdp/pdp"
)

var outcomes = [3]pdp.Outcome{pdp.Allow, pdp.StepUp, pdp.Deny}

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the report for a terminal, listing at most maxChanged
// changed decisions (from Report.Sample). Strings from the log (UIDs,
// reasons, ids) are quoted when they hold control or invisible characters,
// so that a log cannot drive the terminal.
func WriteText(w io.Writer, rep *Report, maxChanged int) error {
	bw := bufio.NewWriter(w)
	t := &textWriter{w: bw}
	t.summary(rep)
	t.matrix(rep)
	t.stages(rep)
	t.reasons(rep)
	if rep.Labels != nil {
		t.labels(rep.Labels)
	}
	t.changed(rep, maxChanged)
	return bw.Flush()
}

type textWriter struct{ w *bufio.Writer }

func (t *textWriter) printf(format string, a ...any) { fmt.Fprintf(t.w, format, a...) }

func (t *textWriter) table(write func(tw *tabwriter.Writer)) {
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	write(tw)
	tw.Flush()
}

func pct(n, of int64) string { return fmt.Sprintf("%.1f%%", 100*share(n, of)) }

func countPct(n, of int64) string { return fmt.Sprintf("%d (%s)", n, pct(n, of)) }

func (t *textWriter) summary(rep *Report) {
	files := "files"
	if len(rep.Files) == 1 {
		files = "file"
	}
	t.printf("pdp replay: %d records in %d %s against %s (revision %s)\n",
		rep.Records, len(rep.Files), files, clean(rep.Policies), clean(rep.Revision))
	t.printf("compared %d, outcome changed %s, same outcome with other reasons %d\n",
		rep.Compared, countPct(rep.Changed, rep.Compared), rep.ReasonsChanged)
	t.printf("not compared: %d skipped lines, %d live fallbacks, %d inputs not rebuilt, %d candidate errors, %d data queries\n",
		rep.Skipped.Count, rep.Fallback.Count, rep.Failed.Count, rep.CandidateErrors.Count, rep.DataQueries)
	for _, x := range []struct {
		name string
		is   *Issues
	}{{"skipped", &rep.Skipped}, {"fallback", &rep.Fallback}, {"not rebuilt", &rep.Failed}, {"candidate error", &rep.CandidateErrors}} {
		for _, i := range x.is.First {
			t.printf("  %s %s\n", x.name, issueText(i))
		}
		if more := x.is.Count - int64(len(x.is.First)); more > 0 {
			t.printf("  %s: %d more\n", x.name, more)
		}
	}
	if rep.PluginUnavailable > 0 {
		t.printf("plugin unavailable live (candidate kept at least step_up, as the sidecar does): %d\n", rep.PluginUnavailable)
	}
}

func issueText(i Issue) string {
	s := fmt.Sprintf("%s:%d", clean(filepath.Base(i.File)), i.Line)
	if i.Reason != "" {
		s += " " + i.Reason
	}
	if i.Detail != "" {
		s += ": " + clean(truncate(i.Detail, 120))
	}
	return s
}

func (t *textWriter) matrix(rep *Report) {
	m, n := &rep.Matrix, rep.Compared
	t.printf("\nOutcomes, live (rows) → candidate (columns), share of compared decisions\n")
	t.table(func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "\tallow\tstep_up\tdeny\tlive total\n")
		for i, o := range outcomes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o, countPct(m[i][0], n), countPct(m[i][1], n), countPct(m[i][2], n), countPct(m.Live(o), n))
		}
		fmt.Fprintf(tw, "candidate total\t%s\t%s\t%s\t%d\n", countPct(m.Candidate(pdp.Allow), n),
			countPct(m.Candidate(pdp.StepUp), n), countPct(m.Candidate(pdp.Deny), n), n)
	})
	t.printf("transitions: %s\n", transitions(m))
}

// transitions lists the non-zero changes of a matrix, e.g.
// "allow→step_up 12, deny→allow 1".
func transitions(m *Matrix) string {
	var parts []string
	for i, from := range outcomes {
		for j, to := range outcomes {
			if i != j && m[i][j] > 0 {
				parts = append(parts, fmt.Sprintf("%s→%s %d", from, to, m[i][j]))
			}
		}
	}
	if parts == nil {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func (t *textWriter) stages(rep *Report) {
	t.printf("\nBy stage\n")
	t.table(func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "stage\tcompared\tallow\tstep_up\tdeny\tchanged\ttransitions\n")
		for _, s := range rep.Stages {
			m := &s.Matrix
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Stage, s.Compared,
				arrow(m.Live(pdp.Allow), m.Candidate(pdp.Allow)), arrow(m.Live(pdp.StepUp), m.Candidate(pdp.StepUp)),
				arrow(m.Live(pdp.Deny), m.Candidate(pdp.Deny)), countPct(s.Changed, s.Compared), transitions(m))
		}
	})
}

func arrow(a, b int64) string {
	if a == b {
		return strconv.FormatInt(a, 10)
	}
	return fmt.Sprintf("%d→%d", a, b)
}

func (t *textWriter) reasons(rep *Report) {
	t.printf("\nReasons, decisions carrying each (share of compared decisions)\n")
	n := rep.Compared
	t.table(func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "reason\tlive\tcandidate\tdifference\n")
		for _, r := range rep.Reasons {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%+d\n", clean(truncate(r.Reason, 60)), countPct(r.Live, n), countPct(r.Candidate, n), r.Candidate-r.Live)
		}
	})
	t.printf("appeared: %s\ndisappeared: %s\n", list(rep.Appeared), list(rep.Disappeared))
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = clean(truncate(x, 60))
	}
	return strings.Join(out, ", ")
}

func (t *textWriter) labels(l *LabelReport) {
	var labelled, seen int64
	for _, n := range l.Labelled {
		labelled += n
	}
	for _, n := range l.Seen {
		seen += n
	}
	t.printf("\nLabels: %d labelled transactions, %d of them in the compared decisions\n", labelled, seen)
	fp := l.FalsePositive()
	rate := func(n, of int64) string { return fmt.Sprintf("%d/%d %s", n, of, pct(n, of)) }
	t.table(func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "\tlive\tcandidate\n")
		row := func(name string, r Rate, deny bool) {
			if deny {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", name, rate(r.LiveDenied, r.N), rate(r.CandidateDenied, r.N))
			} else {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", name, rate(r.LiveFlagged, r.N), rate(r.CandidateFlagged, r.N))
			}
		}
		row("catch rate: fraud+chargeback txns stepped up or denied", l.Bad, false)
		row("  denied", l.Bad, true)
		if l.Complaint.N > 0 {
			row("complaint txns stepped up or denied", l.Complaint, false)
		}
		row("false-positive rate: legit txns + unlabelled decisions stepped up or denied", fp, false)
		row("  legit txns", l.Legit, false)
		row("  unlabelled decisions", l.Unlabelled, false)
		row("  denied", fp, true)
	})
}

func (t *textWriter) changed(rep *Report, limit int) {
	shown := max(0, min(limit, len(rep.Sample)))
	if rep.Changed == 0 {
		t.printf("\nNo decision changed outcome.\n")
		return
	}
	t.printf("\nChanged decisions (%d of %d, in log order)\n", shown, rep.Changed)
	if shown == 0 {
		return
	}
	t.table(func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "decision_id\ttxn_id\tuid\tstage\tamount\tlive → candidate\treasons live → candidate\n")
		for _, c := range rep.Sample[:shown] {
			amount := "-"
			if c.Amount != 0 || c.Currency != "" {
				amount = strconv.FormatFloat(c.Amount, 'f', -1, 64) + " " + clean(c.Currency)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s → %s\t%s → %s\n", clean(truncate(c.DecisionID, 36)),
				clean(truncate(c.TxnID, 32)), clean(truncate(c.UID, 32)), c.Stage, amount, c.Live, c.Candidate,
				list(c.LiveReasons), list(c.CandidateReasons))
		}
	})
	for _, c := range rep.Sample[:shown] {
		if len(c.CandidateRules) == 0 {
			continue
		}
		t.printf("\n%s: the candidate's rules that fired\n", clean(truncate(c.DecisionID, 36)))
		for _, r := range c.CandidateRules {
			t.printf("  %s  %s %s\n", clean(r.Location), r.Rule, clean(fmt.Sprint(r.Value)))
			for _, m := range []map[string]any{r.Inputs, r.Refs} {
				for _, k := range slices.Sorted(maps.Keys(m)) {
					t.printf("      %s = %s\n", clean(k), clean(fmt.Sprint(m[k])))
				}
			}
			for _, u := range r.Undefined {
				t.printf("      %s is undefined\n", clean(u))
			}
		}
	}
}

// clean quotes s when it holds anything but printable characters and
// plain spaces (a tab would also break the table).
func clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.QuoteToGraphic(s)
}

// truncate shortens s to at most n runes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
