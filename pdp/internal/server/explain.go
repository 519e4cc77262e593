package server

import (
	"bytes"
	"encoding/json"
	"net"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// explainArg is the query parameter of POST /v1/decide that asks for an
// explanation instead of a decision.
var explainArg = []byte("explain")

// explain answers POST /v1/decide?explain=true: the explanation of the
// request (decide.Service.Explain), read-only, on a loopback connection or
// a Unix socket only (403 naming the parameter otherwise: an explanation
// shows the policy's thresholds and the account's risk state). It reports
// whether it answered; a decide request without the parameter, or with
// explain=false, is a decision. Called only when the request has a query
// string, so a decision pays nothing for it.
func (s *Server) explain(ctx *fasthttp.RequestCtx) bool {
	args := ctx.QueryArgs()
	if !args.HasBytes(explainArg) {
		return false
	}
	switch string(args.PeekBytes(explainArg)) {
	case "false":
		return false
	case "true":
	default:
		s.fail(ctx, epDecide, pdp.Errorf(pdp.CodeInvalidValue, "explain", "explain is true or false"))
		return true
	}
	if !localConn(ctx) {
		s.fail(ctx, epDecide, pdp.Errorf(pdp.CodeForbidden, "explain",
			"explain=true is answered only on a loopback connection or the Unix socket"))
		return true
	}
	x, err := s.svc.Explain(ctx, ctx.PostBody())
	if err != nil {
		s.fail(ctx, epDecide, pdp.AsError(err))
		return true
	}
	writeJSON(ctx, fasthttp.StatusOK, AppendExplanation(nil, x))
	return true
}

// localConn reports whether the request came over a Unix socket or from a
// loopback address.
func localConn(ctx *fasthttp.RequestCtx) bool {
	if _, unix := ctx.LocalAddr().(*net.UnixAddr); unix {
		return true
	}
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.IsLoopback()
	}
	return false
}

// AppendExplanation encodes an explanation (README "Explaining a
// decision"): {"decision", "error", "rules", "plugins", "input"}; a
// rule's references without a value are listed under its "undefined", the
// decision as /v1/decide answers it without decision_id. The whole is
// masked as the decision log masks a record (secret keys, card and
// identity numbers, secrets in free text).
func AppendExplanation(b []byte, x *decide.Explanation) []byte {
	var out []byte
	out = append(out, `{"decision":`...)
	d := appendDecision(nil, x.Decision)
	// appendDecision starts with the id, empty here: nothing was decided.
	d = bytes.Replace(d, []byte(`{"decision_id":"",`), []byte{'{'}, 1)
	out = append(out, d...)
	if x.Error != "" {
		out = appendKey(out, "error", false)
		out = jsonw.AppendString(out, x.Error)
	}
	out = append(out, `,"rules":[`...)
	for i, r := range x.Rules {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"rule":`...)
		out = jsonw.AppendString(out, r.Rule)
		out = appendKey(out, "value", false)
		out = appendAny(out, r.Value)
		out = appendKey(out, "location", false)
		out = jsonw.AppendString(out, r.Location)
		var undefined []string
		out = appendKey(out, "inputs", false)
		out, undefined = appendRefs(out, r.Inputs, undefined)
		out = appendKey(out, "refs", false)
		out, undefined = appendRefs(out, r.Refs, undefined)
		if undefined != nil {
			out = appendKey(out, "undefined", false)
			out = jsonw.AppendStrings(out, undefined)
		}
		out = append(out, '}')
	}
	out = append(out, `],"plugins":[`...)
	for i, p := range x.Plugins {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"plugin":`...)
		out = jsonw.AppendString(out, p.Plugin)
		if p.Unavailable {
			out = append(out, `,"unavailable":true`...)
			if p.FailClosed {
				out = append(out, `,"fail_closed":true`...)
			}
		} else {
			out = appendKey(out, "score", false)
			out = appendFloat(out, p.Score)
			out = appendKey(out, "reasons", false)
			out = appendList(out, p.Reasons)
		}
		out = append(out, `,"features":{`...)
		for j, f := range p.Features {
			out = appendKey(out, f.Name, j == 0)
			out = appendAny(out, f.Value)
		}
		out = append(out, '}', '}')
	}
	out = append(out, `],"input":`...)
	if len(x.Input) == 0 {
		out = append(out, "null"...)
	} else {
		out = append(out, x.Input...)
	}
	out = append(out, '}')
	return decisionlog.MaskJSON(b, out)
}

// appendRefs encodes the defined references as an object, in their
// order, and adds the undefined ones to undefined.
func appendRefs(b []byte, rs []policy.RefValue, undefined []string) ([]byte, []string) {
	b = append(b, '{')
	first := true
	for _, r := range rs {
		if r.Undefined {
			undefined = append(undefined, r.Ref)
			continue
		}
		if !first {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, r.Ref)
		b = append(b, ':')
		b = appendAny(b, r.Value)
		first = false
	}
	return append(b, '}'), undefined
}

// appendAny appends a JSON-compatible value (from ast.JSON).
func appendAny(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}
