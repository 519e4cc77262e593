package admin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// listPath reads {list}/{kind}[/{value}] from the path, the value in its
// canonical spelling (state.CanonicalListValue): a value no request could
// match is refused with 400 invalid_value for the field "value", before
// anything is stored or journaled. An IP range travels in one segment
// with its slash percent-encoded (10.0.0.0%2F8); the route
// {value}/{bits} takes it unencoded too (10.0.0.0/8), for IP lists only.
func listPath(r *http.Request, withValue bool) (pdp.ListKind, pdp.SubjectKind, string, error) {
	list, ok := pdp.ParseListKind(r.PathValue("list"))
	if !ok {
		return 0, 0, "", pdp.Errorf(pdp.CodeNotFound, "list", "must be block, allow or vip")
	}
	kind, ok := pdp.ParseSubjectKind(r.PathValue("kind"))
	if !ok {
		return 0, 0, "", pdp.Errorf(pdp.CodeNotFound, "kind", "must be uid, device, ip or card_bin")
	}
	if !withValue {
		return list, kind, "", nil
	}
	value := r.PathValue("value")
	if bits := r.PathValue("bits"); bits != "" {
		if kind != pdp.SubjectIP {
			return 0, 0, "", pdp.Errorf(pdp.CodeNotFound, "", "no route %s %s (only IP lists take a range)", r.Method, r.URL.Path)
		}
		value += "/" + bits
	}
	value, err := state.CanonicalListValue(list, kind, value)
	if err != nil {
		return 0, 0, "", err
	}
	return list, kind, value, nil
}

type entryRequest struct {
	action
	// TTL, when set, ends the entry after this long ("72h").
	TTL string `json:"ttl"`
}

type entryView struct {
	List    string     `json:"list"`
	Kind    string     `json:"kind"`
	Value   string     `json:"value"`
	Reason  string     `json:"reason"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
	By      pdp.Actor  `json:"by"`
}

func viewEntry(e pdp.ListEntry) entryView {
	v := entryView{List: e.List.String(), Kind: e.Subject.String(), Value: e.Value, Reason: e.Reason, Created: e.Created, By: e.Actor}
	if !e.Expires.IsZero() {
		exp := e.Expires
		v.Expires = &exp
	}
	return v
}

// putEntry puts a subject on a list, optionally for a time.
func (s *Server) putEntry(w http.ResponseWriter, r *http.Request, c caller) error {
	list, kind, value, err := listPath(r, true)
	if err != nil {
		return err
	}
	var req entryRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	now := s.o.Now()
	e := pdp.ListEntry{List: list, Subject: kind, Value: value, Reason: req.Reason, Created: now, Actor: req.actor()}
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			return pdp.Errorf(pdp.CodeInvalidValue, "ttl", "must be a positive duration such as \"72h\"")
		}
		e.Expires = now.Add(d)
	}
	audit := pdp.AuditRecord{At: now, Actor: req.actor(), Action: "list.put", Target: target(list, kind, value),
		Detail: detail(map[string]any{"ttl": req.TTL, "token": c.token})}
	if kind == pdp.SubjectUID {
		audit.UID = value
	}
	if err := s.o.Store.PutListEntry(r.Context(), e, audit); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewEntry(e))
	return nil
}

// deleteEntry takes a subject off a list.
func (s *Server) deleteEntry(w http.ResponseWriter, r *http.Request, c caller) error {
	list, kind, value, err := listPath(r, true)
	if err != nil {
		return err
	}
	var req action
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	audit := pdp.AuditRecord{At: s.o.Now(), Actor: req.actor(), Action: "list.delete", Target: target(list, kind, value),
		Detail: detail(map[string]any{"token": c.token})}
	if kind == pdp.SubjectUID {
		audit.UID = value
	}
	found, err := s.o.Store.DeleteListEntry(r.Context(), list, kind, value, audit)
	if err != nil {
		return err
	}
	if !found {
		return pdp.Errorf(pdp.CodeNotFound, "value", "%s is not on the %s list", value, list)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": target(list, kind, value)})
	return nil
}

// listEntries pages through a list: ?after=<value>&limit=<n> (default 100,
// at most 1000). An IP list gives its addresses first, then its ranges;
// after may be in any spelling the list takes.
func (s *Server) listEntries(w http.ResponseWriter, r *http.Request, _ caller) error {
	list, kind, _, err := listPath(r, false)
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return pdp.Errorf(pdp.CodeInvalidValue, "limit", "must be 1 to 1000")
		}
	}
	entries, err := s.o.Store.ListEntries(r.Context(), list, kind, r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	out := make([]entryView, len(entries))
	for i, e := range entries {
		out[i] = viewEntry(e)
	}
	resp := map[string]any{"entries": out}
	if len(entries) == limit {
		resp["next_after"] = entries[len(entries)-1].Value
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func target(list pdp.ListKind, kind pdp.SubjectKind, value string) string {
	return list.String() + "/" + kind.String() + "/" + value
}

// journal reads the audit journal: ?uid=&from_seq=&to_seq=&since=&until=&limit=
// (times RFC 3339; limit default 100, at most 1000).
func (s *Server) journal(w http.ResponseWriter, r *http.Request, _ caller) error {
	q := r.URL.Query()
	f := state.JournalFilter{UID: q.Get("uid")}
	var err error
	if f.FromSeq, err = uintParam(q.Get("from_seq"), "from_seq"); err != nil {
		return err
	}
	if f.ToSeq, err = uintParam(q.Get("to_seq"), "to_seq"); err != nil {
		return err
	}
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return err
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return pdp.Errorf(pdp.CodeInvalidValue, "limit", "must be 1 to 1000")
		}
	}
	records := []recordView{}
	err = s.o.Store.Journal(r.Context(), f, func(rec pdp.AuditRecord) error {
		if len(records) == limit {
			return errStop
		}
		records = append(records, viewRecord(&rec))
		return nil
	})
	if err != nil && err != errStop {
		return err
	}
	resp := map[string]any{"records": records}
	if len(records) == limit {
		resp["next_from_seq"] = records[len(records)-1].Seq + 1
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// errStop ends a journal scan early.
var errStop = errors.New("stop")

func uintParam(s, field string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, pdp.Errorf(pdp.CodeInvalidValue, field, "must be a non-negative integer")
	}
	return n, nil
}

func timeParam(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, pdp.Errorf(pdp.CodeInvalidValue, field, "must be an RFC 3339 time")
	}
	return t, nil
}
