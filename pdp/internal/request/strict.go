package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// DecodeStrict decodes a small request body (events, verifications,
// operator actions) into v: the sidecar's strict JSON rules first
// (CheckJSON: duplicates, secrets, card numbers, depth), then encoding/json
// with unknown fields refused. Errors are *pdp.Error naming the field.
func DecodeStrict(body []byte, maxDepth int, v any) error {
	if err := CheckJSON(body, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return pdp.Errorf(pdp.CodeWrongType, te.Field, "must be a %s", jsonKind(te.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		var scan pii.Scanner // a number in the key is not echoed back
		return pdp.Errorf(pdp.CodeUnknownField, scan.Masked(field), "unknown field")
	}
	return pdp.Errorf(pdp.CodeMalformedJSON, "", "%v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}
