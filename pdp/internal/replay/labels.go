package replay

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Label is what was learnt about a transaction after the decision.
type Label uint8

// Labels, weakest first: when a file labels one transaction more than once,
// the strongest wins (a chargeback after a complaint is a chargeback).
const (
	LabelLegit      Label = iota + 1 // confirmed genuine
	LabelComplaint                   // the customer complained (e.g. reported a scam)
	LabelFraud                       // confirmed fraud
	LabelChargeback                  // charged back
)

var labelNames = [...]string{"", "legit", "complaint", "fraud", "chargeback"}

func (l Label) String() string {
	if l >= LabelLegit && l <= LabelChargeback {
		return labelNames[l]
	}
	return fmt.Sprintf("label(%d)", uint8(l))
}

// Bad reports whether the label marks the transaction as one a policy
// should have stopped (fraud or chargeback): the catch rate's population.
func (l Label) Bad() bool { return l == LabelFraud || l == LabelChargeback }

// ParseLabel maps a label name (case and surrounding space ignored) to a
// Label.
func ParseLabel(s string) (Label, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i := LabelLegit; i <= LabelChargeback; i++ {
		if labelNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// Labels maps transaction ids to their label.
type Labels map[string]Label

// MaxLabelFileBytes bounds a labels file: it is loaded into memory (it is
// much smaller than the logs it labels; 256 MiB holds some ten million
// rows).
const MaxLabelFileBytes = 256 << 20

// LoadLabels reads a labels file (see ReadLabels).
func LoadLabels(path string) (Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	l, err := ReadLabels(f)
	if err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	return l, nil
}

// ReadLabels parses a labels file: CSV (RFC 4180, comma-separated) with a
// header row naming the columns txn_id and label, in any order, among
// others that are ignored; one transaction per row:
//
//	txn_id,label
//	T2026112200000017,fraud
//	T2026112200000018,legit
//
// Labels are fraud, chargeback, complaint and legit (case-insensitive). A
// transaction may appear on several rows; its strongest label counts
// (chargeback > fraud > complaint > legit). An empty txn_id, an unknown
// label or a malformed row is an error naming its line: a misspelt label
// must not silently turn a fraud into an unlabelled transaction.
func ReadLabels(r io.Reader) (Labels, error) {
	cr := csv.NewReader(&limitedReader{r: r, left: MaxLabelFileBytes})
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0 // every row as wide as the header
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: want a header row \"txn_id,label\"")
	}
	if err != nil {
		return nil, err
	}
	idCol, labelCol := -1, -1
	for i, name := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))) {
		case "txn_id":
			idCol = i
		case "label":
			labelCol = i
		}
	}
	if idCol < 0 || labelCol < 0 {
		return nil, fmt.Errorf("line 1: header %q lacks the columns txn_id and label", strings.Join(header, ","))
	}
	out := Labels{}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err // csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		id := strings.TrimSpace(row[idCol])
		if id == "" {
			return nil, fmt.Errorf("line %d: txn_id: empty", line)
		}
		l, ok := ParseLabel(row[labelCol])
		if !ok {
			return nil, fmt.Errorf("line %d: label: %q is not fraud, chargeback, complaint or legit", line, row[labelCol])
		}
		if l > out[id] {
			out[strings.Clone(id)] = l // not the row's backing string
		}
	}
}

// limitedReader fails, rather than ends, past its limit.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, err := l.r.Read(one[:]); n == 0 {
			return 0, err // the end, exactly at the limit (or nothing yet)
		}
		return 0, fmt.Errorf("larger than %d MiB", MaxLabelFileBytes>>20)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
