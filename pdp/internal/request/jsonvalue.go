package request

import (
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// appendValue appends v as JSON: what json.Marshal(ast.JSON(v)) writes,
// object keys in the term's order instead of sorted, without the detour
// through Go maps and reflection (the decision log renders the input
// additions of every decision). Sets become arrays; object keys must be
// strings; numbers are written as they are, after a check that they are
// JSON literals.
func appendValue(b []byte, v ast.Value) ([]byte, error) {
	switch x := v.(type) {
	case ast.Null:
		return append(b, "null"...), nil
	case ast.Boolean:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case ast.String:
		return jsonw.AppendString(b, string(x)), nil
	case ast.Number:
		if !jsonw.ValidNumber(string(x)) {
			return b, fmt.Errorf("number %q is not a JSON number", string(x))
		}
		return append(b, x...), nil
	case *ast.Array:
		b = append(b, '[')
		var err error
		for i := range x.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, x.Elem(i).Value); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case ast.Set:
		b = append(b, '[')
		var err error
		for i, t := range x.Slice() {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, t.Value); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case ast.Object:
		b = append(b, '{')
		var err error
		first := true
		x.Foreach(func(k, t *ast.Term) {
			if err != nil {
				return
			}
			key, ok := k.Value.(ast.String)
			if !ok {
				err = fmt.Errorf("object key %v is not a string", k)
				return
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = jsonw.AppendString(b, string(key))
			b = append(b, ':')
			b, err = appendValue(b, t.Value)
		})
		if err != nil {
			return b, err
		}
		return append(b, '}'), nil
	}
	return b, fmt.Errorf("%v (%T) has no JSON form", v, v)
}
