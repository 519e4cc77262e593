package irproto

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"golang.org/x/text/unicode/norm"

	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// InputTerm rebuilds the policy input the engine evaluates for in
// (request.Input.Term, unexported when this prototype was written), from the
// request body as sent and the sidecar's additions (AppendEnrichment, the decision log's
// form; ReplayInput reads it back). The engine canonicalizes
// context.user_statement (NFKC), and so does this. The exactness test holds
// it to engine.EvalDataInput, which evaluates the engine's own term.
//
// It is a test harness, not a production path: it parses JSON twice.
func InputTerm(in *request.Input) (*ast.Term, error) {
	body, err := ast.ParseTerm(string(in.Body))
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	obj, ok := body.Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("body is not an object")
	}
	add, err := in.AppendEnrichment(nil)
	if err != nil {
		return nil, err
	}
	extra, err := ast.ParseTerm(string(bytes.TrimSpace(add)))
	if err != nil {
		return nil, fmt.Errorf("enrichment: %w", err)
	}
	out := ast.NewObject()
	obj.Foreach(func(k, v *ast.Term) {
		if sub, ok := v.Value.(ast.Object); ok {
			o2 := ast.NewObject()
			sub.Foreach(func(ck, cv *ast.Term) {
				if s, ok := cv.Value.(ast.String); ok {
					switch canonical[string(k.Value.(ast.String))+"."+string(ck.Value.(ast.String))] {
					case "nfkc":
						cv = ast.StringTerm(norm.NFKC.String(string(s)))
					case "upper":
						cv = ast.StringTerm(strings.ToUpper(string(s)))
					}
				}
				o2.Insert(ck, cv)
			})
			v = ast.NewTerm(o2)
		}
		out.Insert(k, v)
	})
	var deviceNew *ast.Term
	extra.Value.(ast.Object).Foreach(func(k, v *ast.Term) {
		if k.Value.Compare(ast.String("device_new")) == 0 {
			deviceNew = v
			return
		}
		out.Insert(k, v)
	})
	if deviceNew != nil {
		dev := out.Get(ast.StringTerm("device"))
		d := ast.NewObject()
		if dev != nil {
			dev.Value.(ast.Object).Foreach(func(k, v *ast.Term) { d.Insert(k, v) })
		}
		d.Insert(ast.StringTerm("new"), deviceNew)
		out.Insert(ast.StringTerm("device"), ast.NewTerm(d))
	}
	return ast.NewTerm(out), nil
}

// canonical are the request fields the engine's decoder canonicalizes
// (pdp/internal/request/request.go): codes upper-cased, the statement NFKC.
var canonical = map[string]string{
	"context.user_statement": "nfkc",
	"device.ip_country":      "upper",
	"txn.currency":           "upper",
	"txn.ship_country":       "upper",
	"account.home_country":   "upper",
}
