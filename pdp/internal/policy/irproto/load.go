package irproto

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// The rules the sidecar reads from the decision package (as in
// pdp/internal/policy/specialize.go): partial sets, whose elements are hits, and complete
// rules, whose value is a hit.
var (
	reasonSets    = []string{"deny", "step_up", "obligations"}
	completeRules = []string{"outcome", "reasons", "warning", "limit", "methods", "decision"}
)

// HitsPath is the generated rule the prototype plans: the same reference
// hits rule the engine generates (data.__pdp_reference.hits).
const HitsPath = "data.__pdp_reference.hits"

// Policy is a loaded policy set: its modules (the package's and the
// generated hits module), its data, and the planned query.
type Policy struct {
	Modules map[string]*ast.Module
	Store   storage.Store
	// Data is the whole data document, as the plan's Data local sees it.
	Data ast.Value
	// Plan is the IR of `x = data.__pdp_reference.hits`.
	Plan *ir.Policy
	// Compiler compiled Modules (for the topdown oracle).
	Compiler *ast.Compiler
}

// Load reads the policies and data of fsys the way the engine does (Rego
// v1, tests and hidden files skipped), adds the reference hits module for
// package pkg ("riskpdp") and plans the hits query.
func Load(fsys fs.FS, pkg string) (*Policy, error) {
	res, err := loader.NewFileLoader().
		WithFS(fsys).
		WithRegoVersion(ast.RegoV1).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, depth int) bool {
			name := info.Name()
			if depth > 0 && strings.HasPrefix(name, ".") && name != "." {
				return true
			}
			return !info.IsDir() && strings.HasSuffix(name, "_test.rego")
		})
	if err != nil {
		return nil, err
	}
	modules := res.ParsedModules()
	base := ast.NewCompiler()
	if base.Compile(modules); base.Failed() {
		return nil, base.Errors
	}
	pkgRef := ast.MustParseRef("data." + strings.ReplaceAll(pkg, "/", "."))
	hits, err := hitsModule(base, pkgRef)
	if err != nil {
		return nil, err
	}
	all := make(map[string]*ast.Module, len(modules)+1)
	for k, m := range modules {
		all[k] = m
	}
	all["__pdp/reference.rego"] = hits
	c := ast.NewCompiler()
	if c.Compile(all); c.Failed() {
		return nil, c.Errors
	}
	store := inmem.NewFromObjectWithOpts(res.Documents, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	ctx := context.Background()
	data, err := storage.ReadOne(ctx, store, storage.RootPath)
	if err != nil {
		return nil, err
	}
	dv, ok := data.(ast.Value)
	if !ok {
		if dv, err = ast.InterfaceToValue(data); err != nil {
			return nil, err
		}
	}
	plan, err := planQuery(ctx, all, store, "x = "+HitsPath)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return &Policy{Modules: all, Store: store, Data: dv, Plan: plan, Compiler: c}, nil
}

// hitsModule generates the reference hits module as pdp/internal/policy/specialize.go
// does: `hits contains [name, x] if data.pkg.name[x]` for sets,
// `hits contains [name, x] if x = data.pkg.name` for complete rules.
func hitsModule(c *ast.Compiler, pkg ast.Ref) (*ast.Module, error) {
	var b strings.Builder
	b.WriteString("package __pdp_reference\n\nhits contains \"__never\" if input.__pdp_never == \"__never\"\n")
	found := 0
	for _, name := range append(append([]string{}, reasonSets...), completeRules...) {
		path := append(pkg.Copy(), ast.StringTerm(name))
		if len(c.GetRulesExact(path)) == 0 {
			continue
		}
		found++
		isSet := false
		for _, s := range reasonSets {
			isSet = isSet || s == name
		}
		if isSet {
			fmt.Fprintf(&b, "hits contains [%q, __x] if %s[__x]\n", name, path)
		} else {
			fmt.Fprintf(&b, "hits contains [%q, __x] if __x = %s\n", name, path)
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("package %s defines none of the decision rules", pkg)
	}
	return ast.ParseModuleWithOpts("__pdp/reference.rego", b.String(), ast.ParserOptions{RegoVersion: ast.RegoV1})
}

// planTarget is a rego target plugin that only captures the plan: the
// public route to OPA's planner (internal/planner) is rego's target plugin
// interface, which hands the plugin the *ir.Policy of the prepared query.
type planTarget struct{}

const targetName = "riskpdp-irproto"

var (
	registerOnce sync.Once
	planMu       sync.Mutex
	lastPlan     *ir.Policy
)

func (planTarget) IsTarget(t string) bool { return t == targetName }

func (planTarget) PrepareForEval(_ context.Context, p *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	lastPlan = p
	return planTarget{}, nil
}

func (planTarget) Eval(context.Context, *rego.EvalContext, ast.Value) (ast.Value, error) {
	return nil, fmt.Errorf("irproto: the capture target does not evaluate")
}

// planQuery plans query over modules through rego's target plugin hook.
func planQuery(ctx context.Context, modules map[string]*ast.Module, store storage.Store, query string) (*ir.Policy, error) {
	registerOnce.Do(func() { rego.RegisterPlugin(targetName, planTarget{}) })
	planMu.Lock()
	defer planMu.Unlock()
	lastPlan = nil
	opts := []func(*rego.Rego){rego.Query(query), rego.Store(store), rego.Target(targetName),
		rego.SetRegoVersion(ast.RegoV1)}
	for _, m := range modules {
		opts = append(opts, rego.ParsedModule(m.Copy()))
	}
	if _, err := rego.New(opts...).PrepareForEval(ctx); err != nil {
		return nil, err
	}
	if lastPlan == nil {
		return nil, fmt.Errorf("no plan captured")
	}
	return lastPlan, nil
}
