package decide

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// Appeals (POST /v1/appeals): the service lodges its user's appeal of a
// freeze, restriction, limit or probation. The appeal holds the user's
// words and the service's references to documents it keeps, never
// documents or identity numbers: the decoder refuses a card or identity
// number anywhere in the body (as every decoder does), a secret written in
// the reason, and a reference that is not one (a data: URI, anything over
// 128 bytes or not visible ASCII). An accepted appeal is stored with the
// account (it enters the operators' queue, pdp/internal/state queue.go) and its
// journal record, durably, before the answer; operators answer it within
// the configured answer time (admin.answer_time).
//
// The same request_id twice answers the same appeal: its id is derived
// from the UID and the request_id, so the second request finds it (as
// long as the account keeps it: every open appeal, and the newest
// pdp.MaxAppeals).

// Bounds of an appeal's fields.
const (
	maxReasonChars = 2000
	maxRefBytes    = 128
)

// AppealRequest is the body of POST /v1/appeals.
type AppealRequest struct {
	UID string `json:"uid"`
	// Reason is the user's words, 1 to 2000 characters.
	Reason string `json:"reason"`
	// Documents are the service's references to documents it keeps (at
	// most pdp.MaxAppealDocuments ids of ≤ 128 visible ASCII bytes).
	Documents []string `json:"documents"`
	// RequestID makes the call idempotent (optional, ≤ 128 bytes).
	RequestID string `json:"request_id"`
}

// Lodged is the answer of POST /v1/appeals.
type Lodged struct {
	UID    string
	Appeal pdp.Appeal
	// Due is when operators are to answer: lodged + the answer time.
	Due time.Time
	// Duplicate: the request_id had lodged it already; nothing changed.
	Duplicate bool
}

// AppealDetail is the Detail of an "appeal" journal record. The reason is
// the user's words: it stays with the account, where operators read it;
// the journal, which is never pruned, keeps its length.
type AppealDetail struct {
	AppealID    string   `json:"appeal_id"`
	Standing    string   `json:"standing"` // the account's status when it was lodged
	ReasonChars int      `json:"reason_chars"`
	Documents   []string `json:"documents"`
	RequestID   string   `json:"request_id,omitempty"`
	DueAt       string   `json:"answer_due_at"`
}

// appealActor is who lodges appeals in the journal: the service, for its
// user.
const appealActor = "service"

// errAppealed aborts an account update whose appeal was lodged already.
var errAppealed = errors.New("appeal lodged already")

// DecodeAppeal decodes and validates an appeal body.
func DecodeAppeal(body []byte) (AppealRequest, error) {
	var req AppealRequest
	if err := request.DecodeStrict(body, 4, &req); err != nil {
		return req, err
	}
	if err := checkUID(req.UID); err != nil {
		return req, err
	}
	if err := checkReason(req.Reason); err != nil {
		return req, err
	}
	if len(req.Documents) > pdp.MaxAppealDocuments {
		return req, pdp.Errorf(pdp.CodeInvalidValue, "documents", "at most %d references", pdp.MaxAppealDocuments)
	}
	for i, ref := range req.Documents {
		field := "documents[" + strconv.Itoa(i) + "]"
		if err := checkRef(field, ref, true); err != nil {
			return req, err
		}
		if writesSecret(ref) {
			return req, pdp.Errorf(pdp.CodeSecretField, field, "looks like a secret's value; send a reference to a document")
		}
	}
	if req.RequestID != "" {
		if err := checkRef("request_id", req.RequestID, false); err != nil {
			return req, err
		}
	}
	return req, nil
}

// checkUID checks a UID: 1 to 128 bytes, no card or identity number (a
// UID from a URL path has not been through the JSON decoder's scan).
func checkUID(uid string) error {
	switch {
	case uid == "":
		return pdp.Errorf(pdp.CodeMissingField, "uid", "is required")
	case len(uid) > 128:
		return pdp.Errorf(pdp.CodeInvalidValue, "uid", "longer than 128 bytes")
	}
	var scan pii.Scanner
	if !pii.IsUUID(uid) {
		switch scan.FirstNumber(uid, pii.Refuse) {
		case pii.Card:
			return pdp.Errorf(pdp.CodeCardNumber, "uid", "value looks like a full card number")
		case pii.ResidentID:
			return pdp.Errorf(pdp.CodeIdentityNumber, "uid", "value looks like a resident identity number, which must never be sent")
		}
	}
	return nil
}

// checkReason checks the user's words: 1 to 2000 characters of valid
// UTF-8, not blank, no control characters but line breaks and tabs, no
// bidi controls (operators read it), no secret written in it (a card or
// identity number the decoder has refused already).
func checkReason(r string) error {
	switch {
	case r == "":
		return pdp.Errorf(pdp.CodeMissingField, "reason", "is required")
	case !utf8.ValidString(r):
		return pdp.Errorf(pdp.CodeInvalidValue, "reason", "is not valid UTF-8")
	case utf8.RuneCountInString(r) > maxReasonChars:
		return pdp.Errorf(pdp.CodeInvalidValue, "reason", "longer than %d characters", maxReasonChars)
	case strings.TrimFunc(r, func(c rune) bool { return unicode.IsSpace(c) || unicode.Is(unicode.Cf, c) }) == "":
		return pdp.Errorf(pdp.CodeInvalidValue, "reason", "is blank")
	}
	for _, c := range r {
		if c != '\n' && c != '\r' && c != '\t' && unicode.IsControl(c) || isBidiControl(c) {
			return pdp.Errorf(pdp.CodeInvalidValue, "reason", "holds a control character (%U)", c)
		}
	}
	if writesSecret(r) {
		return pdp.Errorf(pdp.CodeSecretField, "reason",
			"holds what looks like a password, PIN or verification code; the user must never send one")
	}
	return nil
}

// writesSecret reports whether text writes a secret's value (pii's
// Scanner.Secrets) that holds a digit or a symbol: "my PIN is 4321",
// "password: hunter2!", "验证码是123456". A value of letters only after
// a connecting word is the user's story, not a secret ("my password was
// stolen", "was changed"): the decision log masks such values, an appeal
// that must be answered is not refused for them.
func writesSecret(text string) bool {
	var scan pii.Scanner
	for _, sp := range scan.Secrets(text) {
		if strings.ContainsFunc(text[sp.Start:sp.End], func(c rune) bool { return !unicode.IsLetter(c) }) {
			return true
		}
	}
	return false
}

// isBidiControl reports the characters that reorder the text around them.
func isBidiControl(c rune) bool {
	return c >= 0x202A && c <= 0x202E || c >= 0x2066 && c <= 0x2069 || c == 0x200E || c == 0x200F || c == 0x061C
}

// checkRef checks a reference (a document's id, a request_id): 1 to 128
// visible ASCII bytes; a document's may not be a data: URI.
func checkRef(field, ref string, document bool) error {
	switch {
	case ref == "":
		return pdp.Errorf(pdp.CodeInvalidValue, field, "is empty")
	case len(ref) > maxRefBytes:
		return pdp.Errorf(pdp.CodeInvalidValue, field, "longer than %d bytes: send a reference, not the document", maxRefBytes)
	case document && len(ref) >= 5 && strings.EqualFold(ref[:5], "data:"):
		return pdp.Errorf(pdp.CodeInvalidValue, field, "is a data: URI: send a reference, not the document")
	}
	for i := 0; i < len(ref); i++ {
		if ref[i] <= ' ' || ref[i] > '~' {
			return pdp.Errorf(pdp.CodeInvalidValue, field, "must be visible ASCII (an id)")
		}
	}
	return nil
}

// appealID is the id of an appeal: derived from the UID and the
// request_id when there is one (so the same request finds it), random
// otherwise.
func appealID(uid, requestID string) string {
	var b [16]byte
	if requestID == "" {
		_, _ = rand.Read(b[:])
	} else {
		h := sha256.Sum256([]byte("appeal\x00" + uid + "\x00" + requestID))
		copy(b[:], h[:])
	}
	return "ap-" + hex.EncodeToString(b[:])
}

// Appeal lodges an appeal: only an account that is frozen, restricted,
// limited or on probation may appeal (else 409 nothing_to_appeal), with at
// most pdp.MaxOpenAppeals open (else 409 too_many_appeals). It is stored
// with its journal record durably before Appeal returns; the same
// request_id again answers the appeal it lodged (Duplicate).
func (s *Service) Appeal(ctx context.Context, body []byte) (Lodged, error) {
	req, err := DecodeAppeal(body)
	if err != nil {
		return Lodged{}, err
	}
	if s.state == nil {
		return Lodged{}, ErrNoState
	}
	now := s.now()
	ap := pdp.Appeal{ID: appealID(req.UID, req.RequestID), Reason: req.Reason, Documents: req.Documents,
		At: now, Status: pdp.AppealOpen}
	out := Lodged{UID: req.UID, Appeal: ap, Due: now.Add(s.answerTime)}
	detail := AppealDetail{AppealID: ap.ID, ReasonChars: utf8.RuneCountInString(req.Reason), Documents: req.Documents,
		RequestID: req.RequestID, DueAt: out.Due.UTC().Format(time.RFC3339Nano)}
	if detail.Documents == nil {
		detail.Documents = []string{}
	}
	audit := &pdp.AuditRecord{At: now, Actor: pdp.Actor{Operator: appealActor, Reason: "appeal lodged"},
		Action: "appeal", UID: req.UID, Target: "appeal/" + ap.ID}
	_, err = s.state.UpdateAccount(ctx, req.UID, state.Sync, audit, func(a *pdp.AccountState) error {
		open := 0
		for _, x := range a.Appeals {
			if x.ID == ap.ID {
				out.Appeal = x
				return errAppealed
			}
			if x.Status == pdp.AppealOpen {
				open++
			}
		}
		st := standingOf(a, nil, now)
		if st.Status == StandingOK {
			return pdp.Errorf(pdp.CodeNothingToAppeal, "uid", "the account is neither frozen, restricted, limited nor on probation: nothing to appeal")
		}
		if open >= pdp.MaxOpenAppeals {
			return pdp.Errorf(pdp.CodeTooManyAppeals, "uid", "the account has %d appeals open already; wait for their answers", open)
		}
		a.Appeals = append(a.Appeals, ap)
		detail.Standing = st.Status
		audit.Detail = marshal(detail)
		return nil
	})
	switch {
	case errors.Is(err, errAppealed):
		out.Duplicate, out.Due = true, out.Appeal.At.Add(s.answerTime)
		return out, nil
	case err != nil:
		if e := (*pdp.Error)(nil); errors.As(err, &e) {
			return Lodged{}, e
		}
		return Lodged{}, errors.Join(errState, err)
	}
	s.metrics.AppealLodged()
	return out, nil
}
