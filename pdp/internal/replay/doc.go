// Package replay backtests a candidate policy set on recorded decisions:
// `pdp replay --log <decision logs…> --policies <dir>`.
//
// It streams decision log records (decisionlog.Reader: rotated and gzip
// files, damaged lines skipped with their line numbers), rebuilds each
// record's policy input exactly as the live policy saw it
// (request.ReplayInput: the request as logged, the decision time, the
// sidecar's enrichment as logged), evaluates it with the candidate policy
// set and compares the outcome with the one logged. The Report holds the
// transition matrix live → candidate over allow, step_up and deny, the same
// per stage, the share of decisions carrying each reason before and after
// (and the reasons that appear or disappear), the changed decisions, and,
// with a labels file keyed by txn id (ReadLabels), the catch rate on
// fraud and chargebacks and the false-positive (friction) rate before and
// after. WriteText, WriteJSON and WriteHTML render it.
//
// # What is compared
//
// The live side is the record's result as logged. The decision service
// adds two things outside the policy, and replay treats them so:
//
//   - A record with fallback set fell back on an internal fault (policy
//     timeout or error, risk state unreadable): no policy answer exists to
//     compare with, and its enrichment may be incomplete. It is counted
//     (Report.Fallback, with file and line) and left out of every other
//     figure.
//   - A record whose reasons include plugin_unavailable was made at least
//     step_up because a closed-mode scoring plugin failed. The enrichment
//     holds the scores that were available; the candidate is evaluated on
//     them and then given the same treatment (at least step_up, the reason
//     added), since the sidecar would have done that under the candidate
//     too. These records are compared and also counted
//     (Report.PluginUnavailable).
//
// Verified retries need nothing special: the verification state is in the
// enrichment, and the engine satisfies step-up reasons from it as it does
// live. Records whose input cannot be rebuilt (Report.Failed: e.g. a
// record written by a later sidecar with an enrichment key this one does
// not know, or a card-like amount the log masked) and records the
// candidate fails to decide (Report.CandidateErrors: the sidecar would
// have fallen back) are counted with file and line, never fatal. Lines the
// reader skips (truncated, corrupt, another schema, damaged gzip) are in
// Report.Skipped.
//
// Derived facts (account age, hours since a sensitive change, ...) come
// from the record, not recomputed: some depend on state a replay does not
// have. So a candidate that reads a fact the live sidecar did not provide
// sees it absent.
//
// # Labels
//
// A labels file (CSV: txn_id,label; fraud, chargeback, complaint, legit)
// sorts transactions after the fact. Labelled transactions count once
// each, by the strictest outcome any of their decisions got, live and
// candidate; decisions on unlabelled transactions count one by one
// (keeping every transaction id would make memory grow with the log);
// decisions without a txn id (logins) do not count. Catch rate: the share
// of fraud and chargeback transactions stepped up or denied (and denied
// only); false-positive rate: the share of legit transactions and
// unlabelled decisions stepped up or denied.
//
// # Cost
//
// Memory is flat in the log size: a bounded number of batches of 128
// records is in flight, the aggregate is counters (reasons and revisions
// capped at 1000 distinct values), changed decisions are written to
// Options.Changed as found and only the first Options.Sample kept.
// Evaluation runs on Options.Workers goroutines; the aggregate and the
// changed list follow log order whatever the number of workers.
package replay
