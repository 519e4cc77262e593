package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/riskpdp/riskpdp/pdp/internal/admin"
	"github.com/riskpdp/riskpdp/pdp/internal/openapi"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
)

// TestOpenAPIContract drives every operation of both descriptions against
// a sidecar with risk state and the operator API, and one without risk
// state (503 unavailable).
func TestOpenAPIContract(t *testing.T) {
	adminAddr := freeAddr(t)
	s := startAdminSidecar(t, adminAddr)
	d := loadContract(t, "decision.json", openapi.Decision(), s.url)
	a := loadContract(t, "operator.json", openapi.Operator(), "http://"+adminAddr)

	t.Run("routes", func(t *testing.T) {
		ops := admin.New(admin.Options{Logger: slog.New(slog.DiscardHandler)})
		for _, diff := range append(routeDiff("decision.json", d.routes(), server.Routes()), routeDiff("operator.json", a.routes(), ops.Routes())...) {
			t.Error(diff)
		}
	})
	host := strings.TrimPrefix(s.url, "http://")

	// --- decision API ---------------------------------------------------
	// decide
	d.req("POST", "/v1/decide", "/v1/decide").json(allowBody).want(200)
	b, _ := d.req("POST", "/v1/decide", "/v1/decide").json(stepUpBody).set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").want(200)
	challenge := field(t, b, "step_up", "challenge_id")
	d.req("POST", "/v1/decide", "/v1/decide").json(denyBody).want(200)
	d.req("POST", "/v1/decide", "/v1/decide").json(warnBody).want(200)
	d.req("POST", "/v1/decide", "/v1/decide").json(`{"stage":"login","uid":"u-1","locale":"zh","device":{"id":"d-1"}}`).want(200)
	// a withdrawal of an extreme amount: a follow-up flag (case) for u-flag
	d.req("POST", "/v1/decide", "/v1/decide").json(`{"stage":"withdrawal","uid":"u-flag","txn":{"id":"t-f","amount":5000000,"currency":"CNY"}}`).want(200)
	d.req("POST", "/v1/decide", "/v1/decide").json(`{"stage":"payment","uid":"u-1"`).invalid().want(400)
	d.req("POST", "/v1/decide", "/v1/decide").json(`{"stage":"payment","uid":"u-1","txn":{"id":"t","amount":-1,"currency":"CNY"}}`).invalid().want(400)
	d.req("POST", "/v1/decide", "/v1/decide").raw("text/plain", []byte(allowBody)).invalid().want(415)
	d.req("POST", "/v1/decide", "/v1/decide").json(allowBody).withHost("pdp.example.com").want(421)
	d.req("POST", "/v1/decide", "/v1/decide").json(allowBody).set("X-Big", strings.Repeat("h", 8<<10)).want(431)
	d.rawPost("/v1/decide", "/v1/decide", host, 70<<10)
	// explanations (on the loopback: the test's connections are)
	b, _ = d.req("POST", "/v1/decide", "/v1/decide?explain=true").json(stepUpBody).want(200)
	if !bytes.Contains(b, []byte(`"rules":[{"rule":"step_up"`)) {
		t.Errorf("explain: %s", clip(b))
	}
	d.req("POST", "/v1/decide", "/v1/decide?explain=true").json(denyBody).want(200)
	d.req("POST", "/v1/decide", "/v1/decide?explain=false").json(allowBody).want(200)
	d.req("POST", "/v1/decide", "/v1/decide?explain=yes").json(allowBody).invalid().want(400)

	// the step-up loop
	d.req("POST", "/v1/verifications", "/v1/verifications").json(`{"challenge_id":"` + challenge + `","method":"face","result":"passed"}`).want(200)
	d.req("POST", "/v1/verifications", "/v1/verifications").json(`{"challenge_id":"` + challenge + `","method":"face"}`).invalid().want(400)
	d.req("POST", "/v1/verifications", "/v1/verifications").json(`{"challenge_id":"c2.AAAA","method":"face","result":"passed"}`).want(404)
	d.req("POST", "/v1/verifications", "/v1/verifications").json(`{"challenge_id":"` + challenge + `","method":"face","result":"passed","uid":"u-other"}`).want(403)
	d.req("POST", "/v1/verifications", "/v1/verifications").raw("", []byte(`{}`)).invalid().want(415)

	// events
	d.req("POST", "/v1/events", "/v1/events").json(`{"uid":"u-1001","kind":"phone_change","at":"2026-01-02T09:00:00Z","device_id":"d-77"}`).want(200)
	d.req("POST", "/v1/events", "/v1/events").json(`{"uid":"u-1001","kind":"lottery_win"}`).invalid().want(400)
	d.req("POST", "/v1/events", "/v1/events").raw("text/plain", []byte(`{}`)).invalid().want(415)

	// outcomes (t-1 was allowed for u-1 above)
	d.req("POST", "/v1/outcomes", "/v1/outcomes").json(`{"uid":"u-1","txn_id":"t-1","status":"completed","amount":120,"currency":"CNY"}`).want(200)
	d.req("POST", "/v1/outcomes", "/v1/outcomes").json(`{"uid":"u-1","txn_id":"t-1","status":"failed"}`).want(409)
	d.req("POST", "/v1/outcomes", "/v1/outcomes").json(`{"uid":"u-1","txn_id":"t-none","status":"completed"}`).want(404)
	d.req("POST", "/v1/outcomes", "/v1/outcomes").json(`{"uid":"u-1","txn_id":"t-1"}`).invalid().want(400)
	d.req("POST", "/v1/outcomes", "/v1/outcomes").raw("text/plain", []byte(`{}`)).invalid().want(415)

	// an operator freezes u-9 (review), so that it has something to appeal
	a.req("POST", adminPrefix+"/accounts/{uid}/freeze", adminPrefix+"/accounts/u-9/freeze", "uid", "u-9").token(opToken).
		json(`{"kind":"review","operator":"alice","reason":"chargeback dispute","ticket":"RISK-7"}`).want(200)

	// appeals and the account status
	appeal := `{"uid":"u-9","reason":"I was travelling; the payments were mine.","documents":["kyc-77"],"request_id":"app-1"}`
	b, _ = d.req("POST", "/v1/appeals", "/v1/appeals").json(appeal).want(201)
	appealID := field(t, b, "appeal_id")
	d.req("POST", "/v1/appeals", "/v1/appeals").json(appeal).want(200)
	d.req("POST", "/v1/appeals", "/v1/appeals").json(`{"uid":"u-nothing","reason":"why?"}`).want(409)
	d.req("POST", "/v1/appeals", "/v1/appeals").json(`{"uid":"u-9","reason":"see data:image/png;base64,AAAA","documents":["data:x"]}`).invalid().want(400)
	d.req("POST", "/v1/appeals", "/v1/appeals").raw("text/plain", []byte(`{}`)).invalid().want(415)
	d.req("GET", "/v1/accounts/{uid}/status", "/v1/accounts/u-9/status?locale=zh", "uid", "u-9").want(200)
	d.req("GET", "/v1/accounts/{uid}/status", "/v1/accounts/u-1/status", "uid", "u-1").want(200)
	d.req("GET", "/v1/accounts/{uid}/status", "/v1/accounts/u-9/status?locale=x_1", "uid", "u-9").invalid().want(400)

	// OPA's Data API: the decision package's rules
	dp := "/v1/data/{path}"
	d.req("POST", dp, "/v1/data/riskpdp/deny", "path", "riskpdp/deny").json(`{"input":` + denyBody + `}`).want(200)
	d.req("POST", dp, "/v1/data/riskpdp/deny", "path", "riskpdp/deny").json(`{"input":{"stage":"payment"}}`).invalid().want(400)
	d.req("POST", dp, "/v1/data/riskpdp/deny", "path", "riskpdp/deny").raw("text/plain", []byte(`{}`)).invalid().want(415)
	d.req("GET", dp, "/v1/data/riskpdp/deny", "path", "riskpdp/deny").want(400)
	d.req("GET", dp, "/v1/data/riskpdp/config", "path", "riskpdp/config").want(403)
	d.req("POST", dp, "/v1/data/riskpdp/config", "path", "riskpdp/config").json(`{}`).want(403)
	d.req("GET", "/v1/data", "/v1/data").want(403)
	d.req("POST", "/v1/data", "/v1/data").json(`{"input":` + allowBody + `}`).want(403)

	// health, metrics, the description
	for _, m := range []string{"GET", "HEAD"} {
		d.req(m, "/health/live", "/health/live").want(200)
		d.req(m, "/health/ready", "/health/ready").want(200)
		b, h := d.req(m, "/openapi.json", "/openapi.json").want(200)
		if m == "GET" && (!bytes.Equal(b, openapi.Decision()) || h.Get("Content-Type") != "application/json") {
			t.Errorf("GET /openapi.json: %q, not the embedded description", h.Get("Content-Type"))
		}
	}
	d.req("GET", "/metrics", "/metrics").want(200)

	// risk state off: 503 unavailable
	// and with data_api.expose: the whole data document, read without an
	// input, an undefined path ({})
	off := startSidecar(t, "--config", writeConfig(t, "policies:\n  eval_timeout: 2s\nstate:\n  enabled: false\ndata_api:\n  expose: [\"\"]\n"))
	d.base = off.url
	d.req("GET", "/v1/data", "/v1/data").want(200)
	d.req("POST", "/v1/data", "/v1/data").json(`{"input":` + allowBody + `}`).want(200)
	d.req("POST", "/v1/data", "/v1/data").json(`{"input":{"uid":"u-1"}}`).invalid().want(400)
	b, _ = d.req("GET", dp, "/v1/data/riskpdp/nothing_here", "path", "riskpdp/nothing_here").want(200)
	if string(b) != "{}" {
		t.Errorf("an undefined path: %s, want {}", b)
	}
	d.req("POST", "/v1/verifications", "/v1/verifications").json(`{"challenge_id":"` + challenge + `","method":"face","result":"passed"}`).want(503)
	d.req("POST", "/v1/events", "/v1/events").json(`{"uid":"u-1","kind":"phone_change"}`).want(503)
	d.req("POST", "/v1/outcomes", "/v1/outcomes").json(`{"uid":"u-1","txn_id":"t-1","status":"completed"}`).want(503)
	d.req("POST", "/v1/appeals", "/v1/appeals").json(appeal).want(503)
	d.req("GET", "/v1/accounts/{uid}/status", "/v1/accounts/u-9/status", "uid", "u-9").want(503)
	d.base = s.url

	// --- operator API ---------------------------------------------------
	act := `"operator":"alice","reason":"chargeback dispute","ticket":"RISK-7"`
	big := `{` + act + `,"text":"` + strings.Repeat("a", 70<<10) + `"}`
	acct := func(suffix, uid string) (string, string, []string) {
		return adminPrefix + "/accounts/{uid}" + suffix, adminPrefix + "/accounts/" + uid + suffix, []string{"uid", uid}
	}
	// every authenticated operation: 401 without a token
	unauth := func(method, tmpl, path string, params []string, body string) {
		k := a.req(method, tmpl, path, params...).invalid()
		if body != "" {
			k.json(body)
		}
		k.want(401)
	}
	writeOp := func(method, tmpl, path string, params []string, body string) {
		unauth(method, tmpl, path, params, body)
		k := a.req(method, tmpl, path, params...).token(readToken)
		if body != "" {
			k.json(body)
		}
		k.want(403)
		a.req(method, tmpl, path, params...).token(opToken).json(big).invalid().want(413)
	}

	tmpl, path, p := acct("", "u-9")
	a.req("GET", tmpl, path, p...).token(readToken).want(200)
	a.req("GET", tmpl, "/admin/v1/accounts/u-1", "uid", "u-1").token(readToken).want(200)
	unauth("GET", tmpl, path, p, "")

	tmpl, path, p = acct("/user-status", "u-9")
	a.req("GET", tmpl, path, p...).token(readToken).want(200)
	a.req("GET", tmpl, path+"?locale=zh", p...).token(readToken).want(200)
	a.req("GET", tmpl, path+"?locale=x_1", p...).token(readToken).invalid().want(400)
	unauth("GET", tmpl, path, p, "")

	tmpl, path, p = acct("/freeze", "u-10")
	a.req("POST", tmpl, path, p...).token(opToken).json(`{"kind":"temporary","duration":"30m","functions":["withdrawal"],` + act + `}`).want(200)
	a.req("POST", tmpl, path, p...).token(opToken).json(`{"kind":"forever",` + act + `}`).invalid().want(400)
	writeOp("POST", tmpl, path, p, `{"kind":"review",`+act+`}`)
	b, _ = d.req("POST", "/v1/decide", "/v1/decide").json(stepUpAs("u-10")).want(200)
	d.req("POST", "/v1/verifications", "/v1/verifications").json(`{"challenge_id":"` + field(t, b, "step_up", "challenge_id") + `","method":"face","result":"passed"}`).want(200)
	a.req("POST", adminPrefix+"/accounts/{uid}/release", adminPrefix+"/accounts/u-10/release", "uid", "u-10").token(opToken).json(`{` + act + `}`).want(200)

	// release: 202 (four eyes), 409 (one waits already), approve with
	// another token, reject, 404; then a release that is not needed: 409
	tmpl, path, p = acct("/release", "u-9")
	b, _ = a.req("POST", tmpl, path, p...).token(opToken).json(`{` + act + `,"probation":"1h"}`).want(202)
	approval := field(t, b, "approvals", "0", "id")
	a.req("POST", tmpl, path, p...).token(opToken).json(`{` + act + `}`).want(409)
	a.req("POST", tmpl, path, p...).token(opToken).json(`{` + act + `,"probation":"soon"}`).invalid().want(400)
	writeOp("POST", tmpl, path, p, `{`+act+`}`)
	apTmpl := adminPrefix + "/accounts/{uid}/approvals/{id}/approve"
	apPath := func(uid, id, verb string) string {
		return adminPrefix + "/accounts/" + uid + "/approvals/" + id + "/" + verb
	}
	a.req("POST", apTmpl, apPath("u-9", approval, "approve"), "uid", "u-9", "id", approval).token(opToken).json(`{` + act + `}`).want(403)
	a.req("POST", apTmpl, apPath("u-9", "apr-none", "approve"), "uid", "u-9", "id", "apr-none").token(carolToken).json(`{` + act + `}`).want(404)
	a.req("POST", apTmpl, apPath("u-9", approval, "approve"), "uid", "u-9", "id", approval).token(carolToken).json(`{"operator":"carol"}`).invalid().want(400)
	writeOp("POST", apTmpl, apPath("u-9", approval, "approve"), []string{"uid", "u-9", "id", approval}, `{`+act+`}`)
	a.req("POST", apTmpl, apPath("u-9", approval, "approve"), "uid", "u-9", "id", approval).token(carolToken).json(`{` + act + `}`).want(200)
	a.req("POST", tmpl, path, p...).token(opToken).json(`{` + act + `}`).want(409) // not frozen any more
	rjTmpl := adminPrefix + "/accounts/{uid}/approvals/{id}/reject"
	a.req("POST", "/admin/v1/accounts/{uid}/freeze", "/admin/v1/accounts/u-11/freeze", "uid", "u-11").token(opToken).json(`{"kind":"permanent",` + act + `}`).want(200)
	b, _ = a.req("POST", tmpl, "/admin/v1/accounts/u-11/release", "uid", "u-11").token(opToken).json(`{` + act + `}`).want(202)
	approval = field(t, b, "approvals", "0", "id")
	a.req("POST", rjTmpl, apPath("u-11", "apr-none", "reject"), "uid", "u-11", "id", "apr-none").token(opToken).json(`{` + act + `}`).want(404)
	a.req("POST", rjTmpl, apPath("u-11", approval, "reject"), "uid", "u-11", "id", approval).token(opToken).json(`{"ticket":7}`).invalid().want(400)
	writeOp("POST", rjTmpl, apPath("u-11", approval, "reject"), []string{"uid", "u-11", "id", approval}, `{`+act+`}`)
	a.req("POST", rjTmpl, apPath("u-11", approval, "reject"), "uid", "u-11", "id", approval).token(opToken).json(`{` + act + `}`).want(200)

	// limits
	tmpl, path, p = acct("/limit", "u-12")
	a.req("PUT", tmpl, path, p...).token(opToken).json(`{` + act + `,"daily_amount":5000,"max_amount":2000,"currency":"CNY","duration":"24h"}`).want(200)
	a.req("PUT", tmpl, path, p...).token(opToken).json(`{` + act + `,"daily_amount":5000,"currency":"yuan"}`).invalid().want(400)
	writeOp("PUT", tmpl, path, p, `{`+act+`,"daily_amount":1,"currency":"CNY"}`)
	a.req("DELETE", tmpl, path, p...).token(opToken).json(`{` + act + `}`).want(200)
	a.req("DELETE", tmpl, path, p...).token(opToken).json(`{"operator":"alice"}`).invalid().want(400)
	writeOp("DELETE", tmpl, path, p, `{`+act+`}`)

	// the operators' work: u-9's appeal; u-flag's case
	tmpl, path, p = acct("/claim", "u-9")
	a.req("POST", tmpl, path, p...).token(opToken).want(200)
	a.req("POST", tmpl, "/admin/v1/accounts/u-idle/claim", "uid", "u-idle").token(opToken).want(409)
	unauth("POST", tmpl, path, p, "")
	a.req("POST", tmpl, path, p...).token(readToken).want(403)
	tmpl, path, p = acct("/assign", "u-9")
	a.req("POST", tmpl, path, p...).token(opToken).json(`{"assignee":"carol"}`).want(200)
	a.req("POST", tmpl, "/admin/v1/accounts/u-idle/assign", "uid", "u-idle").token(opToken).json(`{"assignee":"carol"}`).want(409)
	a.req("POST", tmpl, path, p...).token(opToken).json(`{"assignee":"car\u0000ol"}`).invalid().want(400)
	writeOp("POST", tmpl, path, p, `{"assignee":""}`)
	tmpl, path, p = acct("/notes", "u-9")
	a.req("POST", tmpl, path, p...).token(opToken).json(`{` + act + `,"text":"called the user back"}`).want(200)
	a.req("POST", tmpl, path, p...).token(opToken).json(`{` + act + `,"text":"card 4111 1111 1111 1111"}`).invalid().want(400)
	writeOp("POST", tmpl, path, p, `{`+act+`,"text":"x"}`)
	tmpl = adminPrefix + "/accounts/{uid}/appeals/{id}/answer"
	path = adminPrefix + "/accounts/u-9/appeals/" + appealID + "/answer"
	p = []string{"uid", "u-9", "id", appealID}
	answer := `{` + act + `,"status":"granted","answer":"We lifted the restriction."}`
	a.req("POST", tmpl, adminPrefix+"/accounts/u-9/appeals/ap-none/answer", "uid", "u-9", "id", "ap-none").token(opToken).json(answer).want(404)
	a.req("POST", tmpl, path, p...).token(opToken).json(`{` + act + `,"status":"open","answer":"x"}`).invalid().want(400)
	writeOp("POST", tmpl, path, p, answer)
	a.req("POST", tmpl, path, p...).token(opToken).json(answer).want(200)
	a.req("POST", tmpl, path, p...).token(opToken).json(answer).want(409)
	a.req("GET", adminPrefix+"/queue", adminPrefix+"/queue?limit=1", nil...).token(readToken).want(200)
	a.req("GET", adminPrefix+"/queue", adminPrefix+"/queue?kind=case&mine=false", nil...).token(readToken).want(200)
	a.req("GET", adminPrefix+"/queue", adminPrefix+"/queue?kind=nope", nil...).token(readToken).invalid().want(400)
	unauth("GET", adminPrefix+"/queue", adminPrefix+"/queue", nil, "")
	a.req("GET", adminPrefix+"/cases", adminPrefix+"/cases?limit=5").token(readToken).want(200)
	a.req("GET", adminPrefix+"/cases", adminPrefix+"/cases?from_seq=x").token(readToken).invalid().want(400)
	unauth("GET", adminPrefix+"/cases", adminPrefix+"/cases", nil, "")
	a.req("GET", adminPrefix+"/cases/{uid}", adminPrefix+"/cases/u-flag", "uid", "u-flag").token(readToken).want(200)
	a.req("GET", adminPrefix+"/cases/{uid}", adminPrefix+"/cases/u-9?limit=2", "uid", "u-9").token(readToken).want(200)
	a.req("GET", adminPrefix+"/cases/{uid}", adminPrefix+"/cases/u-9?since=yesterday", "uid", "u-9").token(readToken).invalid().want(400)
	unauth("GET", adminPrefix+"/cases/{uid}", adminPrefix+"/cases/u-9", []string{"uid", "u-9"}, "")
	tmpl = adminPrefix + "/cases/{uid}/close"
	a.req("POST", tmpl, adminPrefix+"/cases/u-flag/close", "uid", "u-flag").token(opToken).json(`{` + act + `,"flags":["key_tracking"]}`).want(200)
	a.req("POST", tmpl, adminPrefix+"/cases/u-flag/close", "uid", "u-flag").token(opToken).json(`{` + act + `}`).want(409)
	a.req("POST", tmpl, adminPrefix+"/cases/u-flag/close", "uid", "u-flag").token(opToken).json(`{` + act + `,"flags":"all"}`).invalid().want(400)
	writeOp("POST", tmpl, adminPrefix+"/cases/u-flag/close", []string{"uid", "u-flag"}, `{`+act+`}`)

	// lists
	ltmpl := adminPrefix + "/lists/{list}/{kind}/{value}"
	entry := `{` + act + `,"ttl":"72h"}`
	a.req("PUT", ltmpl, adminPrefix+"/lists/block/device/d-77", "list", "block", "kind", "device", "value", "d-77").token(opToken).json(entry).want(200)
	a.req("PUT", ltmpl, adminPrefix+"/lists/vip/uid/u-vip", "list", "vip", "kind", "uid", "value", "u-vip").token(opToken).json(`{` + act + `}`).want(200)
	a.req("PUT", ltmpl, adminPrefix+"/lists/block/ip/10.0.0.0%2F8", "list", "block", "kind", "ip", "value", "10.0.0.0/8").token(opToken).json(entry).want(200)
	a.req("PUT", ltmpl, adminPrefix+"/lists/block/ip/999.1.1.1", "list", "block", "kind", "ip", "value", "999.1.1.1").token(opToken).json(entry).want(400)
	a.req("PUT", ltmpl, adminPrefix+"/lists/grey/ip/1.2.3.4", "list", "grey", "kind", "ip", "value", "1.2.3.4").token(opToken).json(entry).invalid().want(404)
	writeOp("PUT", ltmpl, adminPrefix+"/lists/block/device/d-78", []string{"list", "block", "kind", "device", "value", "d-78"}, entry)
	a.req("DELETE", ltmpl, adminPrefix+"/lists/block/device/d-77", "list", "block", "kind", "device", "value", "d-77").token(opToken).json(`{` + act + `}`).want(200)
	a.req("DELETE", ltmpl, adminPrefix+"/lists/block/device/d-77", "list", "block", "kind", "device", "value", "d-77").token(opToken).json(`{` + act + `}`).want(404)
	a.req("DELETE", ltmpl, adminPrefix+"/lists/block/device/d-77", "list", "block", "kind", "device", "value", "d-77").token(opToken).json(`{}`).invalid().want(400)
	writeOp("DELETE", ltmpl, adminPrefix+"/lists/block/device/d-77", []string{"list", "block", "kind", "device", "value", "d-77"}, `{`+act+`}`)
	rtmpl := ltmpl + "/{bits}"
	a.req("PUT", rtmpl, adminPrefix+"/lists/block/ip/192.168.0.0/16", "list", "block", "kind", "ip", "value", "192.168.0.0", "bits", "16").token(opToken).json(entry).want(200)
	a.req("PUT", rtmpl, adminPrefix+"/lists/block/ip/10.1.2.3/8", "list", "block", "kind", "ip", "value", "10.1.2.3", "bits", "8").token(opToken).json(entry).want(400)
	a.req("PUT", rtmpl, adminPrefix+"/lists/block/device/d/8", "list", "block", "kind", "device", "value", "d", "bits", "8").token(opToken).json(entry).want(404)
	writeOp("PUT", rtmpl, adminPrefix+"/lists/block/ip/172.16.0.0/12", []string{"list", "block", "kind", "ip", "value", "172.16.0.0", "bits", "12"}, entry)
	a.req("DELETE", rtmpl, adminPrefix+"/lists/block/ip/192.168.0.0/16", "list", "block", "kind", "ip", "value", "192.168.0.0", "bits", "16").token(opToken).json(`{` + act + `}`).want(200)
	a.req("DELETE", rtmpl, adminPrefix+"/lists/block/ip/192.168.0.0/16", "list", "block", "kind", "ip", "value", "192.168.0.0", "bits", "16").token(opToken).json(`{` + act + `}`).want(404)
	a.req("DELETE", rtmpl, adminPrefix+"/lists/block/ip/10.1.2.3/8", "list", "block", "kind", "ip", "value", "10.1.2.3", "bits", "8").token(opToken).json(`{` + act + `}`).want(400)
	writeOp("DELETE", rtmpl, adminPrefix+"/lists/block/ip/192.168.0.0/16", []string{"list", "block", "kind", "ip", "value", "192.168.0.0", "bits", "16"}, `{`+act+`}`)
	gtmpl := adminPrefix + "/lists/{list}/{kind}"
	a.req("GET", gtmpl, adminPrefix+"/lists/block/ip", "list", "block", "kind", "ip").token(readToken).want(200)
	a.req("GET", gtmpl, adminPrefix+"/lists/vip/uid?limit=1", "list", "vip", "kind", "uid").token(readToken).want(200)
	a.req("GET", gtmpl, adminPrefix+"/lists/block/ip?limit=0", "list", "block", "kind", "ip").token(readToken).invalid().want(400)
	a.req("GET", gtmpl, adminPrefix+"/lists/block/phone", "list", "block", "kind", "phone").token(readToken).invalid().want(404)
	unauth("GET", gtmpl, adminPrefix+"/lists/block/ip", []string{"list", "block", "kind", "ip"}, "")
	itmpl := adminPrefix + "/lists/import"
	q := "?operator=alice&reason=weekly+sweep&ticket=RISK-9"
	csv := []byte("list,kind,value,ttl,reason\nblock,device,d-90,72h,farm\nblock,ip,10.1.2.3/8,,\n")
	a.req("POST", itmpl, itmpl+q+"&dry_run=true").token(opToken).raw("text/csv", csv).want(200)
	a.req("POST", itmpl, itmpl+q).token(opToken).raw("text/csv", csv).want(200)
	a.req("POST", itmpl, itmpl+"?operator=alice").token(opToken).raw("text/csv", csv).invalid().want(400)
	a.req("POST", itmpl, itmpl+q).token(opToken).raw("application/json", []byte(`{}`)).invalid().want(415)
	a.req("POST", itmpl, itmpl+q).token(opToken).raw("text/csv", bytes.Repeat([]byte("x"), 70<<10)).want(413)
	unauth("POST", itmpl, itmpl+q, nil, "")
	a.req("POST", itmpl, itmpl+q).token(readToken).raw("text/csv", csv).want(403)

	// the journal and labels (u-1's completed payment is not a label: report one)
	d.req("POST", "/v1/outcomes", "/v1/outcomes").json(`{"uid":"u-1","txn_id":"t-1","status":"chargeback"}`).want(200)
	a.req("GET", adminPrefix+"/journal", adminPrefix+"/journal?uid=u-9&limit=3").token(readToken).want(200)
	a.req("GET", adminPrefix+"/journal", adminPrefix+"/journal").token(readToken).want(200)
	a.req("GET", adminPrefix+"/journal", adminPrefix+"/journal?limit=0").token(readToken).invalid().want(400)
	unauth("GET", adminPrefix+"/journal", adminPrefix+"/journal", nil, "")
	b, _ = a.req("GET", adminPrefix+"/labels", adminPrefix+"/labels").token(readToken).want(200)
	if !strings.Contains(string(b), "t-1,chargeback") {
		t.Errorf("labels: %s", b)
	}
	a.req("GET", adminPrefix+"/labels", adminPrefix+"/labels?until=never").token(readToken).invalid().want(400)
	unauth("GET", adminPrefix+"/labels", adminPrefix+"/labels", nil, "")

	// Go's profiles: write tokens only
	a.req("GET", "/debug/pprof", "/debug/pprof").token(opToken).want(200)
	a.req("GET", "/debug/pprof", "/debug/pprof").token(readToken).want(403)
	unauth("GET", "/debug/pprof", "/debug/pprof", nil, "")
	a.req("GET", "/debug/pprof/{name}", "/debug/pprof/cmdline", "name", "cmdline").token(opToken).want(200)
	a.req("GET", "/debug/pprof/{name}", "/debug/pprof/heap", "name", "heap").token(opToken).want(200)
	a.req("GET", "/debug/pprof/{name}", "/debug/pprof/goroutine?debug=1", "name", "goroutine").token(opToken).want(200)
	a.req("GET", "/debug/pprof/{name}", "/debug/pprof/nothing", "name", "nothing").token(opToken).want(404)
	a.req("GET", "/debug/pprof/{name}", "/debug/pprof/heap", "name", "heap").token(readToken).want(403)
	unauth("GET", "/debug/pprof/{name}", "/debug/pprof/heap", []string{"name", "heap"}, "")

	// the console's session
	stmpl := "/console/api/session"
	a.req("POST", stmpl, stmpl).json(`{"token":"nobody-knows-this-token"}`).want(401)
	a.req("POST", stmpl, stmpl).json(`{"token":`).invalid().want(400)
	a.req("POST", stmpl, stmpl).json(`{"token":"` + strings.Repeat("t", 8<<10) + `"}`).want(413)
	b, h := a.req("POST", stmpl, stmpl).json(`{"token":"` + opToken + `"}`).want(201)
	csrf := field(t, b, "csrf_token")
	cookie := strings.Split(h.Get("Set-Cookie"), ";")[0]
	a.req("GET", stmpl, stmpl).set("Cookie", cookie).want(200)
	a.req("GET", stmpl, stmpl).invalid().want(401)
	// a change with the session needs its CSRF token
	a.req("PUT", ltmpl, adminPrefix+"/lists/block/device/d-91", "list", "block", "kind", "device", "value", "d-91").set("Cookie", cookie).json(entry).invalid().want(403)
	a.req("PUT", ltmpl, adminPrefix+"/lists/block/device/d-91", "list", "block", "kind", "device", "value", "d-91").set("Cookie", cookie).set("X-CSRF-Token", csrf).json(entry).want(200)
	a.req("DELETE", stmpl, stmpl).set("Cookie", cookie).invalid().want(403)
	a.req("DELETE", stmpl, stmpl).set("Cookie", cookie).set("X-CSRF-Token", csrf).want(200)
	a.req("DELETE", stmpl, stmpl).set("Cookie", cookie).set("X-CSRF-Token", csrf).want(401)

	// the console's files and the description
	a.req("GET", "/console/", "/console/").want(200)
	for _, f := range []string{"app.js", "app.css", "i18n/zh.json"} {
		a.req("GET", "/console/{asset}", "/console/"+f, "asset", f).want(200)
	}
	a.req("GET", "/console/{asset}", "/console/nothing.js", "asset", "nothing.js").want(404)
	b, h = a.req("GET", "/openapi.json", "/openapi.json").want(200)
	if !bytes.Equal(b, openapi.Operator()) || h.Get("Content-Type") != "application/json" {
		t.Errorf("operator GET /openapi.json: %q, not the embedded description", h.Get("Content-Type"))
	}

	d.complete()
	a.complete()

	t.Run("catches mismatches", func(t *testing.T) { catchesMismatches(t, s.url) })
}

// catchesMismatches plants a mismatch in the decision description and
// shows that the contract test's checks fail on it: a field the server
// sends and the schema does not declare, an error code not in the enum, a
// status not documented, a route the server has and the description not.
func catchesMismatches(t *testing.T, base string) {
	planted := func(edit func(doc map[string]any)) *contract {
		var doc map[string]any
		if err := json.Unmarshal(openapi.Decision(), &doc); err != nil {
			t.Fatal(err)
		}
		edit(doc)
		b, _ := json.Marshal(doc)
		return loadContract(t, "planted", b, base)
	}
	obj := func(m any, keys ...string) map[string]any {
		for _, k := range keys {
			m = m.(map[string]any)[k]
		}
		return m.(map[string]any)
	}
	answer := func(c *contract, tmpl, body string) error {
		method, path := "POST", tmpl
		if body == "" {
			f := strings.Fields(tmpl)
			method, path, tmpl = f[0], f[1], f[2]
		}
		pi := c.doc.Paths.Value(tmpl)
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		in := &openapi3filter.RequestValidationInput{Request: req,
			Route: &routers.Route{Spec: c.doc, Path: tmpl, PathItem: pi, Method: method, Operation: pi.GetOperation(method)}}
		return c.validate(in, resp.StatusCode, resp.Header, b)
	}
	// the description as committed accepts these answers
	c := planted(func(map[string]any) {})
	if err := answer(c, "/v1/decide", allowBody); err != nil {
		t.Fatalf("the committed description refuses a decision: %v", err)
	}
	if err := answer(c, "/v1/events", `{"uid":"u-1","kind":"x"}`); err != nil {
		t.Fatalf("the committed description refuses an invalid_value error: %v", err)
	}
	// a field the schema does not declare: Decision without took_us
	c = planted(func(doc map[string]any) {
		dec := obj(doc, "components", "schemas", "Decision")
		delete(obj(dec, "properties"), "took_us")
		dec["required"] = slices.DeleteFunc(dec["required"].([]any), func(v any) bool { return v == "took_us" })
	})
	if err := answer(c, "/v1/decide", allowBody); err == nil || !strings.Contains(err.Error(), "took_us") {
		t.Errorf("an undeclared field passed: %v", err)
	}
	// in a schema closed with unevaluatedProperties (an appeal's members
	// shared through allOf): u-9's appeal is answered, so it has "answer"
	status := "GET /v1/accounts/u-9/status /v1/accounts/{uid}/status"
	if err := answer(planted(func(map[string]any) {}), status, ""); err != nil {
		t.Fatalf("the committed description refuses an account status: %v", err)
	}
	c = planted(func(doc map[string]any) {
		delete(obj(doc, "components", "schemas", "AppealFields", "properties"), "answer")
	})
	if err := answer(c, status, ""); err == nil || !strings.Contains(err.Error(), "answer") {
		t.Errorf("an undeclared field of an appeal passed: %v", err)
	}
	// an error code the enum does not have
	c = planted(func(doc map[string]any) {
		codes := obj(doc, "components", "schemas", "ErrorCode")
		codes["enum"] = slices.DeleteFunc(codes["enum"].([]any), func(v any) bool { return v == "invalid_value" })
	})
	if err := answer(c, "/v1/events", `{"uid":"u-1","kind":"x"}`); err == nil {
		t.Error("an error code outside the enum passed")
	}
	// a status the operation does not document
	c = planted(func(doc map[string]any) {
		delete(obj(doc, "paths", "/v1/events", "post", "responses"), "400")
	})
	if err := answer(c, "/v1/events", `{"uid":"u-1","kind":"x"}`); err == nil || !strings.Contains(err.Error(), "status is not supported") {
		t.Errorf("an undocumented status passed: %v", err)
	}
	// a route the server answers and the description does not have
	c = planted(func(doc map[string]any) { delete(obj(doc, "paths"), "/v1/appeals") })
	if diff := routeDiff("planted", c.routes(), server.Routes()); len(diff) != 1 || !strings.Contains(diff[0], "POST /v1/appeals") {
		t.Errorf("a route missing from the description: %q", diff)
	}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pdp.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
