package policy

import (
	"fmt"
	"io/fs"
	"strings"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/policies"
	"github.com/riskpdp/riskpdp/policies/policygen"
)

// The corpus's generated policies are the reference policy plus the rules
// the load harness adds to scale the rule count (policygen.GenerateRules).

// referenceRuleCount is the number of rules of the reference package, as
// the harness counts them (bench.PreparePolicies: every rule of its .rego
// files but the tests).
func referenceRuleCount() (int, error) {
	n := 0
	err := fs.WalkDir(policies.FS, "riskpdp", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		b, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(p, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		n += len(m.Rules)
		return nil
	})
	return n, err
}

// generatedSource is the reference policy set with the harness's
// (factor-1) × its rule count generated rules added (bench.PreparePolicies
// with that factor).
func generatedSource(factor int) (Source, error) {
	base, err := referenceRuleCount()
	if err != nil {
		return Source{}, err
	}
	fsys := fstest.MapFS{}
	err = fs.WalkDir(policies.FS, "riskpdp", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		b, err := fs.ReadFile(policies.FS, p)
		fsys[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		return Source{}, err
	}
	fsys["riskpdp/generated.rego"] = &fstest.MapFile{Data: []byte(policygen.GenerateRules((factor - 1) * base))}
	return Source{FS: fsys, Label: fmt.Sprintf("reference+generated x%d", factor)}, nil
}
