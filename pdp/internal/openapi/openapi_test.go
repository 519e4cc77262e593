package openapi

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Both descriptions are valid OpenAPI 3.1 (kin-openapi's loader and its
// validator, which checks 3.1 documents' schemas as JSON Schema 2020-12),
// with their examples checked against their schemas.
func TestDescriptionsValid(t *testing.T) {
	for name, b := range map[string][]byte{"decision.json": Decision(), "operator.json": Operator()} {
		t.Run(name, func(t *testing.T) {
			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if raw["openapi"] != "3.1.0" {
				t.Fatalf("openapi = %v, want 3.1.0", raw["openapi"])
			}
			doc, err := openapi3.NewLoader().LoadFromData(b)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if !doc.IsOpenAPI31OrLater() {
				t.Fatal("not read as OpenAPI 3.1")
			}
			if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
				t.Fatalf("invalid: %v", err)
			}
		})
	}
}
