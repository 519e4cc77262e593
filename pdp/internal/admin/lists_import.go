package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// List import: POST /admin/v1/lists/import, a CSV body (text/csv) of
// list entries
//
//	list,kind,value,ttl,reason
//	block,device,d-farm-1,72h,emulator farm
//	block,ip,198.51.100.0/24,,abuse report
//
// The header row is required and names the five columns, in any order
// (a UTF-8 byte order mark before it is ignored); ttl and reason may be
// empty (an entry's reason is then the import's). Who, why and which
// ticket are the import's: the query parameters operator, reason and
// ticket, checked like every change's (action.check); ?dry_run=true
// validates only. The body is bounded like every operator request
// (maxBody, 64 KiB: about a thousand entries; split larger files).
//
// Every line is checked as PUT /admin/v1/lists/{list}/{kind}/{value}
// checks it (the value in its canonical spelling, state.CanonicalListValue;
// the TTL a positive duration), and a line that fails is refused with the
// error PUT would answer; the others are imported. A CSV that does not
// parse (an unbalanced quote), a bad header or a bad import reason writes
// nothing: 400. Each imported entry is written and journalled on its own,
// exactly as PUT writes it ("list.put", one record per entry, so a uid
// entry shows in that account's case trail), its detail naming the import
// and the line; up to importWindow at once, so the store commits them in
// groups (the journal has them in commit order, not always line order).
// The answer (200) reports every line:
//
//	{"lines": [{"line": 2, "status": "imported", "value": "d-farm-1"},
//	           {"line": 3, "status": "refused", "error": {"code", "field", "message"}}],
//	 "imported": 1, "refused": 1, "import_id": "imp-…"}
//
// (with dry_run the status of a good line is "valid", and "valid" counts
// them). Should the store fail part-way, the answer is 500 with the error
// and the same report, exact line by line: "imported" lines are written
// and journalled, "not_written" ones (those whose write failed, and those
// not sent after the failure) are not.

// importColumns are the columns an import's header names.
var importColumns = []string{"list", "kind", "value", "ttl", "reason"}

type importLine struct {
	Line   int        `json:"line"`
	Status string     `json:"status"` // imported, valid (dry run), refused, not_written
	Error  *lineError `json:"error,omitempty"`
	// Value is the entry's canonical value (never the spelling of a
	// refused line: it may be a card number).
	Value string `json:"value,omitempty"`

	entry pdp.ListEntry
	ttl   string
}

type lineError struct {
	Code    pdp.ErrorCode `json:"code"`
	Field   string        `json:"field,omitempty"`
	Message string        `json:"message"`
}

type importReport struct {
	ImportID   string       `json:"import_id,omitempty"`
	DryRun     bool         `json:"dry_run,omitempty"`
	Lines      []importLine `json:"lines"`
	Imported   int          `json:"imported"`
	Valid      int          `json:"valid,omitempty"`
	Refused    int          `json:"refused"`
	NotWritten int          `json:"not_written,omitempty"`
	Error      *lineError   `json:"error,omitempty"` // a store failure part-way
}

// importLists imports list entries from CSV (see above).
func (s *Server) importLists(w http.ResponseWriter, r *http.Request, c caller) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "text/csv" && mt != "text/plain") {
			return pdp.Errorf(pdp.CodeUnsupportedMedia, "", "send the entries as text/csv")
		}
	}
	q := r.URL.Query()
	act := action{Operator: q.Get("operator"), Reason: q.Get("reason"), Ticket: q.Get("ticket")}
	if err := act.check(); err != nil {
		return err
	}
	dry := false
	switch v := q.Get("dry_run"); v {
	case "", "false":
	case "true":
		dry = true
	default:
		return pdp.Errorf(pdp.CodeInvalidValue, "dry_run", "must be true or false")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return pdp.Errorf(pdp.CodeBodyTooLarge, "", "request body over %d bytes: split the import", maxBody)
		}
		return pdp.Errorf(pdp.CodeInvalidValue, "", "could not read the body: %v", err)
	}
	lines, err := parseImport(body, s.o.Now(), act)
	if err != nil {
		return err
	}
	rep := importReport{DryRun: dry, Lines: lines}
	if !dry {
		rep.ImportID = newImportID()
	}
	var todo []*importLine
	for i := range rep.Lines {
		l := &rep.Lines[i]
		switch {
		case l.Error != nil:
			rep.Refused++
		case dry:
			l.Status = "valid"
			rep.Valid++
		default:
			todo = append(todo, l)
		}
	}
	if failed := s.writeImport(r.Context(), c, act, rep.ImportID, todo); failed {
		rep.Error = &lineError{Code: pdp.CodeInternal,
			Message: "the store failed part-way: the lines imported are written and journalled, those not_written are not"}
	}
	for _, l := range todo {
		if l.Status == "imported" {
			rep.Imported++
		} else {
			rep.NotWritten++
		}
	}
	status := http.StatusOK
	if rep.Error != nil {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, rep)
	return nil
}

// importWindow bounds the entries written at once: the store commits
// those waiting together (one fsync for many), so an import of a thousand
// lines takes a few commits, not a thousand.
const importWindow = 64

// writeImport writes each line's entry with its journal record, as PUT
// does, up to importWindow at a time, and sets each line's status:
// imported, or not_written. After a failure no more are sent (those under
// way finish); it reports whether one failed.
func (s *Server) writeImport(ctx context.Context, c caller, act action, id string, lines []*importLine) bool {
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
		sem    = make(chan struct{}, importWindow)
	)
	for _, l := range lines {
		l.Status = "not_written"
		if failed.Load() {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			e := l.entry
			audit := pdp.AuditRecord{At: e.Created, Actor: act.actor(), Action: "list.put", Target: target(e.List, e.Subject, e.Value),
				Detail: detail(map[string]any{"ttl": l.ttl, "token": c.token, "import": id, "line": l.Line})}
			if e.Subject == pdp.SubjectUID {
				audit.UID = e.Value
			}
			if err := s.o.Store.PutListEntry(ctx, e, audit); err != nil {
				if !failed.Swap(true) {
					s.o.Logger.Error("list import failed part-way", "import", id, "line", l.Line, "error", err)
				}
				return
			}
			l.Status = "imported"
		}()
	}
	wg.Wait()
	return failed.Load()
}

// parseImport reads the CSV and checks every line: a refused line carries
// its error, a good one the entry to write. The error is for the whole
// import (nothing is written): a CSV syntax error, a bad header, no line.
func parseImport(body []byte, now time.Time, act action) ([]importLine, error) {
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1 // a short line is refused on its own
	header, err := cr.Read()
	if err == io.EOF {
		return nil, pdp.Errorf(pdp.CodeMissingField, "header", "empty import: want a header row %q", strings.Join(importColumns, ","))
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch _, dup := col[h]; {
		case !slices.Contains(importColumns, h):
			return nil, pdp.Errorf(pdp.CodeUnknownField, "header", "unknown column %q: want %s", clip(h), strings.Join(importColumns, ","))
		case dup:
			return nil, pdp.Errorf(pdp.CodeDuplicateKey, "header", "column %q twice", h)
		}
		col[h] = i
	}
	for _, name := range importColumns {
		if _, ok := col[name]; !ok {
			return nil, pdp.Errorf(pdp.CodeMissingField, "header", "no column %q: want %s", name, strings.Join(importColumns, ","))
		}
	}
	lines := []importLine{}
	seen := map[string]int{} // list/kind/value → line
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		n, _ := cr.FieldPos(0)
		l := importLine{Line: n}
		if err := checkImportLine(&l, rec, col, now, act); err != nil {
			e := pdp.AsError(err)
			l.Status, l.Error = "refused", &lineError{Code: e.Code, Field: e.Field, Message: e.Message}
		} else if first, dup := seen[target(l.entry.List, l.entry.Subject, l.Value)]; dup {
			l.Status, l.Value = "refused", ""
			l.Error = &lineError{Code: pdp.CodeDuplicateKey, Field: "value", Message: "the same entry as line " + strconv.Itoa(first)}
		} else {
			seen[target(l.entry.List, l.entry.Subject, l.Value)] = n
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, pdp.Errorf(pdp.CodeMissingField, "", "no entry after the header")
	}
	return lines, nil
}

// checkImportLine checks one record as putEntry checks a PUT.
func checkImportLine(l *importLine, rec []string, col map[string]int, now time.Time, act action) error {
	if len(rec) != len(col) {
		return pdp.Errorf(pdp.CodeMissingField, "", "%d columns, the header has %d", len(rec), len(col))
	}
	get := func(name string) string { return rec[col[name]] }
	list, ok := pdp.ParseListKind(strings.TrimSpace(get("list")))
	if !ok {
		return pdp.Errorf(pdp.CodeInvalidValue, "list", "must be block, allow or vip")
	}
	kind, ok := pdp.ParseSubjectKind(strings.TrimSpace(get("kind")))
	if !ok {
		return pdp.Errorf(pdp.CodeInvalidValue, "kind", "must be uid, device, ip or card_bin")
	}
	value, err := canonicalValue(list, kind, get("value"))
	if err != nil {
		return err
	}
	reason := get("reason")
	if reason == "" {
		reason = act.Reason
	} else if err := reasonText.check(reason, "why this entry is listed"); err != nil {
		return err
	}
	e := pdp.ListEntry{List: list, Subject: kind, Value: value, Reason: reason, Created: now, Actor: act.actor()}
	ttl := strings.TrimSpace(get("ttl"))
	if ttl != "" {
		d, err := time.ParseDuration(ttl)
		if err != nil || d <= 0 {
			return pdp.Errorf(pdp.CodeInvalidValue, "ttl", "must be a positive duration such as \"72h\" (or empty: for good)")
		}
		e.Expires = now.Add(d)
	}
	l.Status, l.Value, l.entry, l.ttl = "", value, e, ttl
	return nil
}

// canonicalValue is listPath's check of a value (state.CanonicalListValue),
// an IP or BIN taken without the spaces around it (a spreadsheet's
// padding). A uid or device with spaces around it is refused: a PUT can
// list one, but in a CSV the padding is more likely a slip than a value,
// and the entry would match nothing.
func canonicalValue(list pdp.ListKind, kind pdp.SubjectKind, v string) (string, error) {
	if t := strings.TrimSpace(v); t != v {
		if kind == pdp.SubjectUID || kind == pdp.SubjectDevice {
			return "", pdp.Errorf(pdp.CodeInvalidValue, "value", "spaces before or after the value: remove them (a request would never match them)")
		}
		v = t
	}
	return state.CanonicalListValue(list, kind, v)
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pdp.Errorf(pdp.CodeInvalidValue, "", "not CSV at line %d, column %d: %v (nothing imported)", pe.Line, pe.Column, pe.Err)
	}
	return pdp.Errorf(pdp.CodeInvalidValue, "", "not CSV: %v (nothing imported)", err)
}

// clip shortens what a header echoes.
func clip(s string) string {
	if r := []rune(s); len(r) > 32 {
		return string(r[:32]) + "…"
	}
	return s
}

// newImportID names an import in its journal records: "imp-" and 12
// random hex digits.
func newImportID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "imp-" + hex.EncodeToString(b[:])
}
