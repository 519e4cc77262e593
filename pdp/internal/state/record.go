package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// Audit records are stored as JSON objects with a version field "v"
// (currently 1), times as RFC 3339 in UTC with nanoseconds (zero times are
// omitted); the sequence number is the record's key, not a field. JSON
// because the journal is read by operators and kept for years; a reader
// refuses another version and ignores unknown fields. The records the
// decision path reads use the binary format of codec.go.

const recordVersion = 1

// ErrCorrupt marks a stored record or key that cannot be decoded.
var ErrCorrupt = errors.New("corrupt state record")

func corrupt(what string, err error) error { return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err) }

// jtime encodes a time as RFC 3339 in UTC (jsonw.AppendTime). Encoding
// never fails: a time a store cannot keep is clamped (jsonw.ClampTime; a
// non-zero time stays non-zero, so "no expiry" is never produced by
// clamping).
type jtime time.Time

func (t jtime) IsZero() bool { return time.Time(t).IsZero() }

func (t jtime) MarshalJSON() ([]byte, error) {
	b, _ := jsonw.AppendTime(make([]byte, 0, 40), jsonw.ClampTime(time.Time(t)))
	return b, nil
}

func (t *jtime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tt, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	if !tt.IsZero() && (tt.Before(jsonw.MinTime) || tt.After(jsonw.MaxTime)) {
		return fmt.Errorf("time %s out of range", s)
	}
	*t = jtime(tt.UTC())
	return nil
}

type actorRec struct {
	Operator string `json:"operator,omitempty"`
	Ticket   string `json:"ticket,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (a actorRec) actor() pdp.Actor { return pdp.Actor(a) }

type auditRec struct {
	V      int      `json:"v"`
	At     jtime    `json:"at,omitzero"`
	Actor  actorRec `json:"actor,omitzero"`
	Action string   `json:"action"`
	UID    string   `json:"uid,omitempty"`
	Target string   `json:"target,omitempty"`
	Detail string   `json:"detail,omitempty"`
}

// encodeAudit encodes a journal record; its Seq is not stored (it is the
// record's key).
func encodeAudit(a *pdp.AuditRecord) ([]byte, error) {
	return json.Marshal(auditRec{
		V: recordVersion, At: jtime(a.At), Actor: actorRec(a.Actor), Action: a.Action,
		UID: a.UID, Target: a.Target, Detail: a.Detail,
	})
}

func decodeAudit(seq uint64, b []byte) (pdp.AuditRecord, error) {
	var r auditRec
	if err := json.Unmarshal(b, &r); err != nil {
		return pdp.AuditRecord{}, corrupt("audit record", err)
	}
	if r.V != recordVersion {
		return pdp.AuditRecord{}, corrupt("audit record", fmt.Errorf("version %d", r.V))
	}
	return pdp.AuditRecord{
		Seq: seq, At: time.Time(r.At), Actor: r.Actor.actor(), Action: r.Action,
		UID: r.UID, Target: r.Target, Detail: r.Detail,
	}, nil
}

// listDetail is the Detail of list audit records: the entry as JSON.
type listDetail struct {
	List    string   `json:"list"`
	Subject string   `json:"subject"`
	Value   string   `json:"value"`
	Reason  string   `json:"reason,omitempty"`
	Expires jtime    `json:"expires,omitzero"`
	Created jtime    `json:"created,omitzero"`
	Actor   actorRec `json:"actor,omitzero"`
}

func listEntryJSON(e *pdp.ListEntry) string {
	b, err := json.Marshal(listDetail{
		List: e.List.String(), Subject: e.Subject.String(), Value: e.Value, Reason: e.Reason,
		Expires: jtime(e.Expires), Created: jtime(e.Created), Actor: actorRec(e.Actor),
	})
	if err != nil {
		return ""
	}
	return string(b)
}
