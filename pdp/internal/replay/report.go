package replay

import (
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// Report is what a replay found. Every count is of decision records; shares
// are computed by the writers from the counts. It marshals to JSON as is
// (`pdp replay --format json`).
type Report struct {
	// Policies is the candidate policy directory and Revision its revision.
	Policies string `json:"policies"`
	Revision string `json:"revision"`
	// Files are the log files read, in order.
	Files []string `json:"files"`
	// LiveRevisions counts the compared records by the policy revision
	// that decided them live (at most maxDistinct revisions; the rest
	// under "(other)").
	LiveRevisions map[string]int64 `json:"live_revisions,omitempty"`

	// Records is how many records the log files held (skipped lines
	// apart); Compared how many of them were re-evaluated and compared:
	// Records = Compared + Fallback.Count + Failed.Count + CandidateErrors.Count.
	Records  int64 `json:"records"`
	Compared int64 `json:"compared"`
	// Changed counts the compared decisions whose outcome changed;
	// ReasonsChanged those whose outcome stayed but whose reasons did not.
	Changed        int64 `json:"changed"`
	ReasonsChanged int64 `json:"reasons_changed"`
	// Matrix counts the compared decisions by live and candidate outcome.
	Matrix Matrix `json:"matrix"`
	// Stages breaks the comparison down by stage, in wire order (stages
	// with no decision left out).
	Stages []StageReport `json:"stages"`
	// Reasons counts the decisions carrying each reason, live and
	// candidate, most frequent first.
	Reasons []ReasonCount `json:"reasons"`
	// Appeared are reasons only the candidate gave, Disappeared reasons
	// only the live policy gave.
	Appeared    []string `json:"appeared"`
	Disappeared []string `json:"disappeared"`
	// PluginUnavailable counts compared decisions where a closed-mode
	// plugin had failed live: the candidate's outcome is made at least
	// step_up, as the sidecar would have (see the package doc).
	PluginUnavailable int64 `json:"plugin_unavailable"`

	// Skipped are the lines the log reader could not read (truncated,
	// corrupt, another schema, a damaged gzip stream...), by reason.
	Skipped Issues `json:"skipped"`
	// Fallback are records whose live decision fell back on an internal
	// fault: there is no policy answer to compare with.
	Fallback Issues `json:"fallback"`
	// DataQueries counts records of Data API queries (POST /v1/data):
	// rule values the service asked for, not decisions; not compared.
	DataQueries int64 `json:"data_queries"`
	// Failed are records whose input could not be rebuilt.
	Failed Issues `json:"failed"`
	// CandidateErrors are records the candidate policy failed to decide
	// (the sidecar would have fallen back): a sign of a broken candidate.
	CandidateErrors Issues `json:"candidate_errors"`

	// Labels is present when a labels file was given.
	Labels *LabelReport `json:"labels,omitempty"`

	// Sample is the first changed decisions, in log order (Options.Sample
	// of them); Options.Changed receives them all.
	Sample []Change `json:"sample"`
}

// Matrix counts decisions by live outcome (row) and candidate outcome
// (column), allow, step_up, deny in that order.
type Matrix [3][3]int64

func (m *Matrix) add(live, cand pdp.Outcome) { m[live-1][cand-1]++ }

// Live returns how many decisions had outcome o live.
func (m *Matrix) Live(o pdp.Outcome) int64 {
	r := m[o-1]
	return r[0] + r[1] + r[2]
}

// Candidate returns how many decisions the candidate gave outcome o.
func (m *Matrix) Candidate(o pdp.Outcome) int64 {
	return m[0][o-1] + m[1][o-1] + m[2][o-1]
}

// Total returns the number of decisions in the matrix.
func (m *Matrix) Total() int64 {
	return m.Live(pdp.Allow) + m.Live(pdp.StepUp) + m.Live(pdp.Deny)
}

// Changed returns the decisions off the diagonal.
func (m *Matrix) Changed() int64 { return m.Total() - m[0][0] - m[1][1] - m[2][2] }

// StageReport is the comparison for one stage.
type StageReport struct {
	Stage    string `json:"stage"`
	Compared int64  `json:"compared"`
	Changed  int64  `json:"changed"`
	Matrix   Matrix `json:"matrix"`
}

// ReasonCount is how many decisions carried a reason, live and candidate.
type ReasonCount struct {
	Reason    string `json:"reason"`
	Live      int64  `json:"live"`
	Candidate int64  `json:"candidate"`
}

// Issues counts records of one kind and locates the first few: the first
// maxIssues, and the first of every other reason (so that 500 garbled
// lines do not hide the damaged gzip stream after them).
type Issues struct {
	Count    int64            `json:"count"`
	ByReason map[string]int64 `json:"by_reason,omitempty"`
	First    []Issue          `json:"first,omitempty"`
}

// Issue locates one record or line.
type Issue struct {
	File   string `json:"file"`
	Line   int64  `json:"line"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// maxIssues is how many of each kind of issue a report locates.
const maxIssues = 10

func (is *Issues) add(i Issue) {
	is.Count++
	if i.Reason != "" {
		if is.ByReason == nil {
			is.ByReason = map[string]int64{}
		}
		is.ByReason[i.Reason]++
	}
	if len(is.First) < maxIssues || i.Reason != "" && is.ByReason[i.Reason] == 1 && len(is.ByReason) <= maxDistinct {
		is.First = append(is.First, i)
	}
}

// Change is one decision whose outcome the candidate changed.
type Change struct {
	DecisionID       string    `json:"decision_id"`
	Timestamp        time.Time `json:"timestamp"`
	TxnID            string    `json:"txn_id,omitempty"`
	UID              string    `json:"uid"`
	Stage            string    `json:"stage"`
	Amount           float64   `json:"amount,omitempty"`
	Currency         string    `json:"currency,omitempty"`
	Live             string    `json:"live"`
	Candidate        string    `json:"candidate"`
	LiveReasons      []string  `json:"live_reasons"`
	CandidateReasons []string  `json:"candidate_reasons"`
	File             string    `json:"file"`
	Line             int64     `json:"line"`
	// CandidateRules are the candidate's rules that fired, with the
	// values that made them fire (pdp replay --explain).
	CandidateRules []ExplainedRule `json:"candidate_rules,omitempty"`
}

// ExplainedRule is a rule definition that fired in the candidate's
// decision: as POST /v1/decide?explain=true shows it (README "Explaining
// a decision").
type ExplainedRule struct {
	Rule      string         `json:"rule"`
	Value     any            `json:"value"`
	Location  string         `json:"location,omitempty"`
	Inputs    map[string]any `json:"inputs,omitempty"`
	Refs      map[string]any `json:"refs,omitempty"`
	Undefined []string       `json:"undefined,omitempty"`
}

func explainedRules(rs []policy.FiredRule) []ExplainedRule {
	out := make([]ExplainedRule, 0, len(rs))
	for _, r := range rs {
		e := ExplainedRule{Rule: r.Rule, Value: r.Value, Location: r.Location, Inputs: map[string]any{}, Refs: map[string]any{}}
		for _, set := range []struct {
			vs []policy.RefValue
			m  map[string]any
		}{{r.Inputs, e.Inputs}, {r.Refs, e.Refs}} {
			for _, v := range set.vs {
				if v.Undefined {
					e.Undefined = append(e.Undefined, v.Ref)
				} else {
					set.m[v.Ref] = v.Value
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// LabelReport compares outcomes on labelled transactions. Labelled
// transactions are counted once each, by the strictest outcome any of
// their decisions got (a fraud stepped up once was caught, even if a later
// retry passed its verification); decisions on unlabelled transactions
// are counted one by one, since remembering every transaction id would
// make memory grow with the log. Decisions without a txn id (logins) are
// not counted.
type LabelReport struct {
	// Labelled is how many transactions the labels file labels, Seen how
	// many of them the compared decisions include, by label.
	Labelled map[string]int64 `json:"labelled"`
	Seen     map[string]int64 `json:"seen"`
	// Bad are the fraud and chargeback transactions: the catch rate is
	// Bad.Flagged / Bad.N.
	Bad Rate `json:"bad"`
	// Complaint are the complaint transactions.
	Complaint Rate `json:"complaint"`
	// Legit are the legit transactions, Unlabelled the decisions on
	// transactions the file does not label; the false-positive
	// (friction) rate is (Legit.Flagged + Unlabelled.Flagged) /
	// (Legit.N + Unlabelled.N).
	Legit      Rate `json:"legit"`
	Unlabelled Rate `json:"unlabelled"`
}

// Rate counts a population and how many of it the live policy and the
// candidate stopped: Flagged with step_up or deny, Denied with deny.
type Rate struct {
	N                int64 `json:"n"`
	LiveFlagged      int64 `json:"live_flagged"`
	CandidateFlagged int64 `json:"candidate_flagged"`
	LiveDenied       int64 `json:"live_denied"`
	CandidateDenied  int64 `json:"candidate_denied"`
}

func (r *Rate) add(live, cand pdp.Outcome) {
	r.N++
	if live != pdp.Allow {
		r.LiveFlagged++
	}
	if cand != pdp.Allow {
		r.CandidateFlagged++
	}
	if live == pdp.Deny {
		r.LiveDenied++
	}
	if cand == pdp.Deny {
		r.CandidateDenied++
	}
}

// FalsePositive returns the legit and unlabelled populations together.
func (l *LabelReport) FalsePositive() Rate {
	a, b := l.Legit, l.Unlabelled
	return Rate{N: a.N + b.N, LiveFlagged: a.LiveFlagged + b.LiveFlagged, CandidateFlagged: a.CandidateFlagged + b.CandidateFlagged,
		LiveDenied: a.LiveDenied + b.LiveDenied, CandidateDenied: a.CandidateDenied + b.CandidateDenied}
}

// share returns n/of, 0 when of is 0.
func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
