package server

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
	"github.com/riskpdp/riskpdp/policies/policygen"
)

// benchEmbeddedOPA is the third anchor: OPA embedded as a Go library in the
// caller's process, a prepared rego query of the reference package with the
// decision rule an OPA user adds to fold deny/step_up (policygen, as the
// load harness gives `opa run --server`), evaluated on the policy input the
// sidecar builds for the representative request. It is the least an
// embedder pays: the input is built once, outside the loop (no decode, no
// state, velocity or plugins), and the answer is not encoded; the sidecar's
// in-process decision (BenchmarkDecidePath/optimized) decodes the request,
// evaluates and encodes the answer.
func benchEmbeddedOPA(b *testing.B) {
	ctx := context.Background()
	set, err := policygen.PreparePolicies(filepath.Join("..", "..", ".."), b.TempDir(), 1, true)
	if err != nil {
		b.Fatal(err)
	}
	pq, err := rego.New(rego.Query("data.riskpdp.decision"), rego.Load([]string{set.Dir}, nil)).PrepareForEval(ctx)
	if err != nil {
		b.Fatal(err)
	}
	svc, _, _ := newService(b)
	in, err := svc.PolicyInput(representative)
	if err != nil {
		b.Fatal(err)
	}
	v, err := ast.JSON(in.Term().Value)
	if err != nil {
		b.Fatal(err)
	}
	// The input as an embedder holds it: Go maps and slices, numbers as
	// json.Number (what OPA's own JSON decoding gives).
	raw, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var input any
	if err := dec.Decode(&input); err != nil {
		b.Fatal(err)
	}
	check := func() string {
		rs, err := pq.Eval(ctx, rego.EvalInput(input))
		if err != nil || len(rs) != 1 {
			b.Fatalf("embedded OPA: %v %v", rs, err)
		}
		return rs[0].Expressions[0].Value.(map[string]any)["outcome"].(string)
	}
	d, err := svc.Decide(ctx, representative, "")
	if err != nil {
		b.Fatal(err)
	}
	if got := check(); got != d.Outcome.String() {
		b.Fatalf("embedded OPA answers %s, the sidecar %s", got, d.Outcome)
	}
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for b.Loop() {
		if _, err := pq.Eval(ctx, rego.EvalInput(input)); err != nil {
			b.Fatal(err)
		}
	}
}
