package decisionlog

import (
	"encoding/json"
	"time"
)

// Record is one decision as the log keeps it. Field names follow OPA's
// decision log where they apply (decision_id, path, input, result,
// timestamp, metrics, labels, bundles, trace_id); the rest are the
// sidecar's own, flat so that log pipelines can index them without parsing
// the input.
//
// Input is the request body as the caller sent it (already checked to hold
// no secret field or card number); Enrichment is what the sidecar added
// (derived facts, reputation, velocity, verification, account state,
// scores). Together they are exactly the policy's input: `pdp replay`
// rebuilds it from them.
type Record struct {
	// Schema is the version of this format, SchemaVersion; the writer sets
	// it, the caller leaves it zero. Readers skip records of other versions.
	// (Added with the writer; not an OPA field, OPA ignores it.)
	Schema int `json:"schema"`

	DecisionID string            `json:"decision_id"`
	Timestamp  time.Time         `json:"timestamp"`
	Path       string            `json:"path"` // the decision package, e.g. "riskpdp"
	Input      json.RawMessage   `json:"input"`
	Enrichment json.RawMessage   `json:"enrichment,omitempty"`
	Result     Result            `json:"result"`
	Bundles    map[string]Bundle `json:"bundles,omitempty"` // the policy revision, as OPA reports bundles
	Labels     map[string]string `json:"labels,omitempty"`
	Metrics    map[string]int64  `json:"metrics,omitempty"` // timer_pdp_decide_ns, ...
	TraceID    string            `json:"trace_id,omitempty"`
	SpanID     string            `json:"span_id,omitempty"`

	RequestID string  `json:"request_id,omitempty"`
	Stage     string  `json:"stage"`
	UID       string  `json:"uid"`
	TxnID     string  `json:"txn_id,omitempty"`
	Amount    float64 `json:"amount,omitempty"`
	Currency  string  `json:"currency,omitempty"`
	Outcome   string  `json:"outcome"`
	Fallback  bool    `json:"fallback,omitempty"`

	// Shadow is the answer of a candidate policy set, on records the
	// shadow evaluation differed on. The sidecar no longer writes it: its
	// shadow is a hook on the record, run once the record is made, and
	// logs a difference with the decision id in the service log
	// (pdp/decide.Shadow). Records written before still carry it.
	Shadow *Result `json:"shadow,omitempty"`

	// Finish, if set, runs first when the record is encoded: in the writer
	// goroutine in async mode (in the caller's in sync mode or when
	// spilling), before Config.Hook. The caller defers there what is costly
	// to build, so that Log stays cheap (the sidecar renders Result and
	// Enrichment from the decision in Finish). A panic in Finish counts as
	// a hook error; the record is logged with what it has.
	Finish func(*Record) `json:"-"`
	// Scratch is a buffer the writer lends Finish (empty, with capacity)
	// to render Enrichment into: append to it and set Enrichment to the
	// result. The writer reuses it for the next record once this one is
	// encoded: hooks that keep Enrichment must copy it.
	Scratch []byte `json:"-"`
	// EnrichmentCompact says Enrichment is compact JSON written by an
	// encoder whose tests hold it to that (the sidecar's
	// request.Input.AppendEnrichment): the writer copies it as it is
	// instead of checking and compacting it again (1.6 µs of a 1.3 KB
	// enrichment). It is heeded only if Config.Hook leaves Enrichment as
	// it was: a hook that replaces it has it checked.
	EnrichmentCompact bool `json:"-"`

	enrichmentChecked bool // EnrichmentCompact, still true after the hook (encode)
}

// SchemaVersion is the record format this package writes and reads.
const SchemaVersion = 1

// Result is what the decision answered and carried out.
type Result struct {
	Outcome      string       `json:"outcome"`
	Reasons      []string     `json:"reasons"`
	Satisfied    []string     `json:"satisfied,omitempty"` // step-ups a passed verification answered
	Methods      []string     `json:"methods,omitempty"`
	ChallengeID  string       `json:"challenge_id,omitempty"`
	Warning      string       `json:"warning,omitempty"`
	Limit        *Limit       `json:"limit,omitempty"`
	Obligations  []Obligation `json:"obligations,omitempty"`
	Revision     string       `json:"revision,omitempty"`
	PolicyErrors string       `json:"error,omitempty"` // why it fell back
	// Evaluator names the policy evaluator that answered: "fast" (the
	// sidecar's program over the specialized rules), "opa_optimized"
	// (OPA's evaluator on them) or "opa" (OPA's evaluator on the policy
	// as written); absent on a fallback and in records written before
	// it was recorded. Reevaluated is the error of the faster evaluator
	// after which OPA's evaluator answered.
	Evaluator   string `json:"evaluator,omitempty"`
	Reevaluated string `json:"reevaluated,omitempty"`
	// Data is the result of a Data API query (a record whose path is the
	// queried data path; Outcome is empty: it is not a decision), and
	// Undefined says the query's result was undefined.
	Data      json.RawMessage `json:"data,omitempty"`
	Undefined bool            `json:"undefined,omitempty"`
}

// Limit is a cap the decision set or reported.
type Limit struct {
	MaxAmount   float64   `json:"max_amount,omitempty"`
	DailyAmount float64   `json:"daily_amount,omitempty"`
	Currency    string    `json:"currency,omitempty"`
	Until       time.Time `json:"until,omitempty"`
}

// Obligation is an action the decision carried out.
type Obligation struct {
	Type      string   `json:"type"`
	Kind      string   `json:"kind,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Duration  string   `json:"duration,omitempty"`
	Functions []string `json:"functions,omitempty"`
}

// Bundle identifies the policy revision, as OPA reports bundles.
type Bundle struct {
	Revision string `json:"revision"`
}

// Flagged reports whether the decision flagged the case for follow-up.
func (r *Record) Flagged() bool {
	for _, o := range r.Result.Obligations {
		if o.Type == "flag" {
			return true
		}
	}
	return false
}
