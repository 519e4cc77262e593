package replay

import (
	"bufio"
	"cmp"
	"encoding/json"
	"io"
	"slices"

	"github.com/riskpdp/riskpdp/pdp"
)

// maxDistinct bounds the reasons and revisions a report tells apart: they
// come from the log, and a damaged or hostile log must not make memory
// grow with its size. The rest are counted under otherKey.
const (
	maxDistinct = 1000
	otherKey    = "(other)"
)

// aggregator folds evaluated records into a Report, in log order. Only the
// aggregating goroutine uses it.
type aggregator struct {
	rep       Report
	stages    [pdp.NumStages]StageReport
	reasons   map[string]*ReasonCount
	revisions map[string]int64
	sample    int

	changed *bufio.Writer // nil without Options.Changed
	enc     *json.Encoder

	labels map[string]*labelTrack // nil without labels
	unlab  Rate
}

// labelTrack follows one labelled transaction through the log.
type labelTrack struct {
	label      Label
	seen       bool
	live, cand pdp.Outcome // the strictest of its decisions
}

func newAggregator(r *Replayer, changed io.Writer) *aggregator {
	a := &aggregator{reasons: map[string]*ReasonCount{}, revisions: map[string]int64{}, sample: r.opts.Sample}
	a.rep.Policies, a.rep.Revision, a.rep.Files = r.opts.Policies, r.eng.Revision(), r.files
	if changed != nil {
		a.changed = bufio.NewWriterSize(changed, 64<<10)
		a.enc = json.NewEncoder(a.changed)
	}
	if r.opts.Labels != nil {
		a.labels = make(map[string]*labelTrack, len(r.opts.Labels))
		for id, l := range r.opts.Labels {
			a.labels[id] = &labelTrack{label: l}
		}
	}
	return a
}

// add counts one record; an error is the changed writer's.
func (a *aggregator) add(it *item) error {
	a.rep.Records++
	issue := func() Issue {
		i := Issue{File: it.file, Line: it.line}
		if it.err != nil {
			i.Detail = it.err.Error()
		}
		return i
	}
	switch it.kind {
	case kindFallback:
		i := issue()
		i.Detail = it.rec.Result.PolicyErrors
		a.rep.Fallback.add(i)
		return nil
	case kindDataQuery:
		a.rep.DataQueries++
		return nil
	case kindFailed:
		a.rep.Failed.add(issue())
		return nil
	case kindCandidateError:
		a.rep.CandidateErrors.add(issue())
		return nil
	}
	rec := it.rec
	a.rep.Compared++
	a.rep.Matrix.add(it.live, it.cand)
	st := &a.stages[it.stage]
	st.Compared++
	st.Matrix.add(it.live, it.cand)
	if it.pluginUnavailable {
		a.rep.PluginUnavailable++
	}
	rev := rec.Result.Revision
	if b, ok := rec.Bundles[rec.Path]; ok && rev == "" {
		rev = b.Revision
	}
	if rev != "" {
		a.count(a.revisions, rev)
	}
	for _, r := range it.liveReasons {
		a.reason(r).Live++
	}
	for _, r := range it.candReasons {
		a.reason(r).Candidate++
	}
	if a.labels != nil && rec.TxnID != "" {
		if t := a.labels[rec.TxnID]; t != nil {
			if !t.seen {
				t.seen, t.live, t.cand = true, it.live, it.cand
			}
			t.live, t.cand = pdp.Stricter(t.live, it.live), pdp.Stricter(t.cand, it.cand)
		} else {
			a.unlab.add(it.live, it.cand)
		}
	}
	if it.live == it.cand {
		if !slices.Equal(it.liveReasons, it.candReasons) {
			a.rep.ReasonsChanged++
		}
		return nil
	}
	a.rep.Changed++
	st.Changed++
	if a.enc == nil && len(a.rep.Sample) >= a.sample {
		return nil
	}
	c := Change{DecisionID: rec.DecisionID, Timestamp: rec.Timestamp, TxnID: rec.TxnID, UID: rec.UID,
		Stage: it.stage.String(), Amount: rec.Amount, Currency: rec.Currency,
		Live: it.live.String(), Candidate: it.cand.String(),
		LiveReasons: nonNil(it.liveReasons), CandidateReasons: nonNil(it.candReasons),
		File: it.file, Line: it.line, CandidateRules: it.rules}
	if len(a.rep.Sample) < a.sample {
		a.rep.Sample = append(a.rep.Sample, c)
	}
	if a.enc != nil {
		return a.enc.Encode(&c)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// reason returns the counter of reason r.
func (a *aggregator) reason(r string) *ReasonCount {
	c := a.reasons[r]
	if c == nil {
		if len(a.reasons) >= maxDistinct {
			r = otherKey
			if c = a.reasons[r]; c != nil {
				return c
			}
		}
		c = &ReasonCount{Reason: r}
		a.reasons[r] = c
	}
	return c
}

// count adds one to m[k], bounded as reason is.
func (a *aggregator) count(m map[string]int64, k string) {
	if _, ok := m[k]; !ok && len(m) >= maxDistinct {
		k = otherKey
	}
	m[k]++
}

// flush writes out what the changed writer buffers.
func (a *aggregator) flush() error {
	if a.changed == nil {
		return nil
	}
	return a.changed.Flush()
}

// report finishes the aggregate.
func (a *aggregator) report() *Report {
	rep := a.rep
	rep.Sample = nonNilChanges(rep.Sample)
	for _, s := range pdp.Stages {
		if st := a.stages[s]; st.Compared > 0 {
			st.Stage = s.String()
			rep.Stages = append(rep.Stages, st)
		}
	}
	rep.Appeared, rep.Disappeared = []string{}, []string{}
	for _, c := range a.reasons {
		rep.Reasons = append(rep.Reasons, *c)
		switch {
		case c.Live == 0 && c.Candidate > 0:
			rep.Appeared = append(rep.Appeared, c.Reason)
		case c.Live > 0 && c.Candidate == 0:
			rep.Disappeared = append(rep.Disappeared, c.Reason)
		}
	}
	slices.SortFunc(rep.Reasons, func(x, y ReasonCount) int {
		return cmp.Or(cmp.Compare(max(y.Live, y.Candidate), max(x.Live, x.Candidate)), cmp.Compare(x.Reason, y.Reason))
	})
	slices.Sort(rep.Appeared)
	slices.Sort(rep.Disappeared)
	if len(a.revisions) > 0 {
		rep.LiveRevisions = a.revisions
	}
	if a.labels != nil {
		rep.Labels = a.labelReport()
	}
	return &rep
}

func nonNilChanges(s []Change) []Change {
	if s == nil {
		return []Change{}
	}
	return s
}

func (a *aggregator) labelReport() *LabelReport {
	l := &LabelReport{Labelled: map[string]int64{}, Seen: map[string]int64{}, Unlabelled: a.unlab}
	for _, t := range a.labels {
		l.Labelled[t.label.String()]++
		if !t.seen {
			continue
		}
		l.Seen[t.label.String()]++
		switch {
		case t.label.Bad():
			l.Bad.add(t.live, t.cand)
		case t.label == LabelComplaint:
			l.Complaint.add(t.live, t.cand)
		default:
			l.Legit.add(t.live, t.cand)
		}
	}
	return l
}
