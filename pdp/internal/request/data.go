package request

import (
	"errors"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

// CheckJSON validates body as one JSON object under the sidecar's rules
// (strict syntax, bounded depth, no duplicate keys, no secret-looking keys,
// no card numbers): the same rules for every endpoint. Errors are
// *pdp.Error naming the field.
func CheckJSON(body []byte, maxDepth int) error {
	p := &parser{buf: body, maxDepth: maxDepth}
	if p.peek() != '{' {
		return p.syntaxErr("expected a JSON object")
	}
	if _, err := p.object(); err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	return nil
}

// DecodeDataRequest decodes an OPA Data API body, {"input": <decide
// request>}: the input under the decoder's rules for /v1/decide (strict
// schema, reserved fields refused, secrets and card numbers refused), with
// errors naming fields below "input". Other top-level keys are ignored, as
// OPA does (but a secret-looking one is refused). An empty body or one
// without "input" returns a nil Input.
func DecodeDataRequest(body []byte, now time.Time, lim Limits) (*Input, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	p := &parser{buf: body, maxDepth: lim.MaxDepth}
	start, end := -1, -1
	err := p.objectKeys(func(key string, _ *ast.Term) *pdp.Error {
		if err := p.secretKey(key); err != nil {
			return err
		}
		p.skipWS()
		from := p.pos
		_, err := p.value()
		if key == "input" {
			start, end = from, p.pos
		}
		return err
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, err
	}
	if start < 0 {
		return nil, nil
	}
	in, derr := DecodeRequest(body[start:end], now, lim)
	if derr != nil {
		if e := (*pdp.Error)(nil); errors.As(derr, &e) {
			f := "input"
			if e.Field != "" {
				f += "." + e.Field
			}
			return nil, pdp.Errorf(e.Code, f, "%s", e.Message)
		}
		return nil, derr
	}
	return in, nil
}

// DecodeDataInput parses an OPA Data API body. Keys other than "input" are
// ignored, as OPA does.
func DecodeDataInput(body []byte, maxDepth int) (*ast.Term, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	p := &parser{buf: body, maxDepth: maxDepth}
	var input *ast.Term
	err := p.objectKeys(func(key string, _ *ast.Term) *pdp.Error {
		if err := p.secretKey(key); err != nil {
			return err
		}
		v, err := p.value()
		if key == "input" {
			input = v
		}
		return err
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, err
	}
	return input, nil
}
