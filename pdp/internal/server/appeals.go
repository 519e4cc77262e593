package server

import (
	"bytes"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// Appeals and what the app shows (README "Appeals and what the app
// shows"): POST /v1/appeals and GET /v1/accounts/{uid}/status.

var (
	accountsPrefix = []byte("/v1/accounts/")
	statusSuffix   = []byte("/status")
)

func (s *Server) appeal(ctx *fasthttp.RequestCtx) {
	span := s.startSpan(ctx, routeAppeals, "")
	defer s.endSpan(ctx, span)
	l, err := s.svc.Appeal(ctx, ctx.PostBody())
	if err != nil {
		s.failLogged(ctx, epAppeals, err)
		return
	}
	status := fasthttp.StatusCreated
	if l.Duplicate {
		status = fasthttp.StatusOK
	}
	b := append([]byte(`{"uid":`), jsonw.AppendString(nil, l.UID)...)
	b = append(b, ',')
	b = appendAppeal(b, decide.AppealState{ID: l.Appeal.ID, Status: l.Appeal.Status, LodgedAt: l.Appeal.At, DueAt: l.Due,
		AnsweredAt: l.Appeal.ClosedAt, Answer: l.Appeal.Answer})
	writeJSON(ctx, status, append(b, '}'))
}

// accountRoute serves /v1/accounts/{uid}/status. The UID is the path's
// segment as sent, percent-decoded (so a UID may hold "/" as %2F); any
// other path under /v1/accounts/ is 404.
func (s *Server) accountRoute(ctx *fasthttp.RequestCtx) {
	raw := ctx.Request.URI().PathOriginal()
	seg, ok := bytes.CutPrefix(raw, accountsPrefix)
	if ok {
		seg, ok = bytes.CutSuffix(seg, statusSuffix)
	}
	if !ok || len(seg) == 0 || bytes.IndexByte(seg, '/') >= 0 {
		s.fail(ctx, epStatus, pdp.Errorf(pdp.CodeNotFound, "", "no route; the account status is GET /v1/accounts/{uid}/status"))
		return
	}
	if !s.method(ctx, epStatus, fasthttp.MethodGet) {
		return
	}
	uid, err := url.PathUnescape(string(seg))
	if err != nil {
		s.fail(ctx, epStatus, pdp.Errorf(pdp.CodeInvalidValue, "uid", "malformed percent-encoding in the path"))
		return
	}
	st, err := s.svc.AccountStatus(ctx, uid, string(ctx.QueryArgs().Peek("locale")))
	if err != nil {
		s.failLogged(ctx, epStatus, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, AppendStatus(nil, &st))
}

// AppendStatus encodes the account status, the answer of GET
// /v1/accounts/{uid}/status (the operator API shows the same): nothing
// internal (no rule, reason, operator, ticket, decision id or score).
func AppendStatus(b []byte, st *decide.AccountStatus) []byte {
	b = append(b, `{"uid":`...)
	b = jsonw.AppendString(b, st.UID)
	b = appendKey(b, "status", false)
	b = jsonw.AppendString(b, st.Status)
	b = appendKey(b, "functions", false)
	b = append(b, '[')
	for i, f := range st.Functions {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, f.String())
	}
	b = append(b, ']')
	if !st.Until.IsZero() {
		b = appendKey(b, "until", false)
		b = appendTime(b, st.Until)
	}
	b = appendKey(b, "message", false)
	b = jsonw.AppendString(b, st.Message)
	b = appendKey(b, "can_appeal", false)
	b = strconv.AppendBool(b, st.CanAppeal)
	b = appendKey(b, "appeals", false)
	b = append(b, '[')
	for i, ap := range st.Appeals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendAppeal(b, ap)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendAppeal appends an appeal's members (without braces): answered_at
// and answer once it is closed.
func appendAppeal(b []byte, ap decide.AppealState) []byte {
	b = appendKey(b, "appeal_id", true)
	b = jsonw.AppendString(b, ap.ID)
	b = appendKey(b, "status", false)
	b = jsonw.AppendString(b, ap.Status.String())
	b = appendKey(b, "lodged_at", false)
	b = appendTime(b, ap.LodgedAt)
	b = appendKey(b, "answer_due_at", false)
	b = appendTime(b, ap.DueAt)
	if ap.Status != pdp.AppealOpen {
		if !ap.AnsweredAt.IsZero() {
			b = appendKey(b, "answered_at", false)
			b = appendTime(b, ap.AnsweredAt)
		}
		b = appendKey(b, "answer", false)
		b = jsonw.AppendString(b, ap.Answer)
	}
	return b
}
