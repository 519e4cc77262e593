package admin

import (
	"encoding/csv"
	"encoding/json"
	"net/http"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// labels exports the labels services reported (POST /v1/outcomes:
// chargebacks, fraud reports, confirmations) as the CSV `pdp replay
// --labels` reads: a header "txn_id,label" and one row per label, in
// journal order (a later, stronger label of the same transaction wins in
// the replay). ?since= and ?until= (RFC 3339) bound the outcome records'
// time, ?from_seq= their sequence numbers; the journal keeps them for good.
func (s *Server) labels(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	var f state.JournalFilter
	var err error
	if f.FromSeq, err = uintParam(q.Get("from_seq"), "from_seq"); err != nil {
		return err
	}
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return err
	}
	// The rows are collected first: an error midway must be an error
	// answer, not a truncated file that reads as complete.
	rows := [][]string{{"txn_id", "label"}}
	err = s.o.Store.Journal(r.Context(), f, func(rec pdp.AuditRecord) error {
		if rec.Action != "outcome" {
			return nil
		}
		var d struct {
			TxnID string `json:"txn_id"`
			Label string `json:"label"`
		}
		if json.Unmarshal([]byte(rec.Detail), &d) == nil && d.Label != "" && d.TxnID != "" {
			rows = append(rows, []string{d.TxnID, d.Label})
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="labels.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.WriteAll(rows)
	return nil
}
