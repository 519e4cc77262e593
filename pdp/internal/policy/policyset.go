package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/policy/fastpath"
	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
)

// Source says where a policy set comes from: a file system (a directory
// through os.DirFS, or the embedded reference policies) and a label for
// messages.
type Source struct {
	FS    fs.FS
	Label string
}

// policySet is one compiled, immutable generation of policies and data.
// Evaluations hold a pointer to the set they started with, so a reload never
// changes the rules under a running evaluation.
type policySet struct {
	revision string
	compiler *ast.Compiler
	store    storage.Store
	// query is the serving query: __result__ = data.<hits package>.hits,
	// optimized unless the optimizer was off, failed or disagreed.
	query    ast.Body
	refQuery ast.Body
	optQuery ast.Body // nil when the optimized module could not be built
	// optimized reports whether query is the optimized one; notes say
	// which rules were not specialized, and why.
	optimized bool
	// fast evaluates the optimized rules without topdown (package
	// fastpath); nil when the rules are outside its fragment or it
	// disagreed on a smoke request or in the proof (prove.go).
	fast  *fastpath.Program
	notes []string
	// diverged: OPA's evaluator on the policy as written answered a
	// sampled decision differently (watch.go); the set then serves the
	// policy as written. A set of the same revision activated later
	// inherits it.
	diverged atomic.Bool
	// proved is the number of inputs the fast program was checked on at
	// load (prove.go), for logs; content is the revision of the files
	// (revision may be a manifest's), which identifies the program.
	proved  int
	content string
	// modules is the number of Rego files, for logs.
	modules int
	// rates is the set's currency rate table and messages its user-facing
	// texts (rates.go), nil without them.
	rates    *pdp.Rates
	messages *pdp.Messages
	// pkgPath is the decision package as a data path ("riskpdp"); rules
	// the names of the rules its modules define that depend on the input
	// (inputRules: the Data API serves them).
	pkgPath string
	rules   map[string]bool
	// dataChecked reports whether the package's data_errors rule checked
	// the data (check.go), for logs.
	dataChecked bool
	// dataQueries caches compiled Data API queries by path.
	dataQueries    sync.Map
	dataQueryCount atomic.Int64
}

var resultVar = ast.Var("__result__")

// unsafeBuiltins are refused at compile time: a decision on the payment path
// must not make network calls or read the sidecar's environment.
var unsafeBuiltins = map[string]struct{}{
	"http.send": {}, "net.lookup_ip_addr": {}, "opa.runtime": {}, "trace": {},
}

// capabilities are OPA's for this version with no network host allowed:
// json.match_schema and json.verify_schema fetch a schema's remote $ref
// from the hosts capabilities allow (all of them by default), and a policy
// must not make network calls, at load or per request.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.AllowNet = []string{}
	return caps
}

func newCompiler() *ast.Compiler {
	//lint:ignore SA1019 deprecated but supported in OPA v1; moving to WithCapabilities changes how policies and Data API queries are checked: kept until the policy-set owner does it (TestUnsafeBuiltinsRefused)
	return ast.NewCompiler().WithCapabilities(capabilities()).WithUnsafeBuiltins(unsafeBuiltins).WithEnablePrintStatements(false)
}

// loadPolicySet parses and compiles the policies and data of src, checks
// the data and the calls on constant arguments (check.go), and generates
// the hits modules for the decision package pkg (slash-separated, e.g.
// "riskpdp"). It does not smoke-test them: see Engine.activate.
func loadPolicySet(src Source, pkg string, optimize bool) (*policySet, error) {
	files, revision, err := scan(src.FS)
	if err != nil {
		return nil, err
	}
	if files == 0 {
		return nil, fmt.Errorf("%s: no .rego files", src.Label)
	}
	res, err := loader.NewFileLoader().
		WithFS(src.FS).
		WithRegoVersion(ast.RegoV1).
		WithProcessAnnotation(true).
		Filtered([]string{"."}, excluded)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Label, err)
	}
	modules := res.ParsedModules()
	base := newCompiler()
	base.Compile(modules)
	if base.Failed() {
		return nil, fmt.Errorf("%s: compile: %w", src.Label, base.Errors)
	}
	store := inmem.NewFromObjectWithOpts(res.Documents,
		inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	pkgRef, err := dataRef(pkg)
	if err != nil {
		return nil, err
	}
	dataChecked, err := checkPolicyData(base, store, pkgRef)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Label, err)
	}
	if err := checkConstantCalls(base, store); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Label, err)
	}
	ref, opt, support, notes, err := hitsModules(base, store, pkgRef)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Label, err)
	}
	ps := &policySet{revision: revision, content: revision, store: store, modules: len(modules), notes: notes, dataChecked: dataChecked,
		pkgPath: strings.Trim(pkg, "/"), rules: inputRules(base, pkgRef)}
	if manifestRev := readManifestRevision(src.FS); manifestRev != "" {
		ps.revision = manifestRev
	}
	all := make(map[string]*ast.Module, len(modules)+len(support)+2)
	for k, m := range modules {
		all[k] = m
	}
	all["__pdp/reference.rego"] = ref
	if optimize {
		all["__pdp/optimized.rego"] = opt
		for i, m := range support {
			all[fmt.Sprintf("__pdp/support%d.rego", i)] = m
		}
	}
	c := newCompiler()
	if c.Compile(all); c.Failed() && optimize {
		// The generated module is the optimizer's: never fail a policy set
		// for it, serve the reference instead.
		ps.notes = append(ps.notes, fmt.Sprintf("optimized module does not compile: %v", c.Errors))
		delete(all, "__pdp/optimized.rego")
		for i := range support {
			delete(all, fmt.Sprintf("__pdp/support%d.rego", i))
		}
		optimize = false
		c = newCompiler()
		c.Compile(all)
	}
	if c.Failed() {
		return nil, fmt.Errorf("%s: compile: %w", src.Label, c.Errors)
	}
	ps.compiler = c
	if ps.refQuery, err = compileRuleQuery(c, hits.ReferencePkg+"/hits"); err != nil {
		return nil, err
	}
	ps.query = ps.refQuery
	if optimize {
		if ps.optQuery, err = compileRuleQuery(c, hits.OptimizedPkg+"/hits"); err != nil {
			return nil, err
		}
		ps.query, ps.optimized = ps.optQuery, true
		if ps.fast, err = fastpath.Compile(c); err != nil {
			ps.notes = append(ps.notes, fmt.Sprintf("fast path not used: %v", err))
			ps.fast = nil
		}
	}
	return ps, nil
}

// dataRef turns "a/b" into data.a.b.
func dataRef(path string) (ast.Ref, error) {
	ref := ast.Ref{ast.DefaultRootDocument}
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			return nil, fmt.Errorf("path %q: empty segment", path)
		}
		ref = append(ref, ast.StringTerm(seg))
	}
	return ref, nil
}

// compileRuleQuery compiles `__result__ = data.<path>`.
func compileRuleQuery(c *ast.Compiler, rulePath string) (ast.Body, error) {
	ref, err := dataRef(rulePath)
	if err != nil {
		return nil, err
	}
	body := ast.NewBody(ast.Equality.Expr(ast.NewTerm(resultVar), ast.NewTerm(ref)))
	return c.QueryCompiler().Compile(body)
}

// excluded tells the OPA loader which files to skip: hidden files and
// directories (including Kubernetes' ..data links), and tests.
func excluded(abspath string, info fs.FileInfo, depth int) bool {
	name := info.Name()
	if depth > 0 && strings.HasPrefix(name, ".") && name != "." {
		return true
	}
	return !info.IsDir() && strings.HasSuffix(name, "_test.rego")
}

// scan lists the files that make up the policy set and derives a content
// revision: "sha256:" and the first 12 hex digits of a hash over the sorted
// paths and contents. Two identical trees have the same revision.
//
// Like OPA's loader, scan follows symbolic links to directories: a
// Kubernetes ConfigMap volume whose items carry paths
// (riskpdp/config/data.json) shows riskpdp as a link into ..data, and a
// file behind it must still count towards the revision.
func scan(fsys fs.FS) (rego int, revision string, err error) {
	var paths []string
	var walk func(root string, links int) error
	walk = func(root string, links int) error {
		return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if excluded(p, info, strings.Count(p, "/")+1) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if p != root && d.Type()&fs.ModeSymlink != 0 {
				if target, err := fs.Stat(fsys, p); err == nil && target.IsDir() {
					if links >= maxDirLinks {
						return fmt.Errorf("%s: more than %d nested directory links", p, maxDirLinks)
					}
					return walk(p, links+1)
				}
			}
			if d.IsDir() {
				return nil
			}
			switch path.Ext(p) {
			case ".rego":
				rego++
				paths = append(paths, p)
			case ".json", ".yaml", ".yml":
				paths = append(paths, p)
			}
			return nil
		})
	}
	if err := walk(".", 0); err != nil {
		return 0, "", fmt.Errorf("scan policies: %w", err)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return 0, "", fmt.Errorf("scan policies: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
	}
	return rego, "sha256:" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// maxDirLinks bounds how many directory links scan follows inside one
// another, so a link cycle fails instead of looping.
const maxDirLinks = 8

// readManifestRevision returns the revision of an OPA-style .manifest file
// at the root, if there is one.
func readManifestRevision(fsys fs.FS) string {
	b, err := fs.ReadFile(fsys, ".manifest")
	if err != nil {
		return ""
	}
	var m struct {
		Revision string `json:"revision"`
	}
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	return m.Revision
}

// newReadTxn opens a read transaction on the set's store.
func (ps *policySet) newReadTxn(ctx context.Context) (storage.Transaction, error) {
	txn, err := ps.store.NewTransaction(ctx)
	if err != nil {
		return nil, errors.Join(errors.New("open store transaction"), err)
	}
	return txn, nil
}
