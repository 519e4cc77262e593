package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/policies"
)

// The differential corpus: policy sets on which the sidecar, as it serves
// them (the fast path, or OPA's evaluator on the specialized rules), must
// answer exactly as OPA's evaluator on the policy as written:
//
//   - the reference policy (policies.FS);
//   - the reference policy with generated rules (the load harness's shapes,
//     policygen_test.go): ×1, ×10 and ×100 its rule count;
//   - testdata/corpus/<name>/: one policy directory per construct partial
//     evaluation leaves (negation, support rules, built-ins that fail,
//     undefined references, sets, objects, comparisons across types,
//     Unicode strings, membership, equalities after calls, else, functions,
//     keys computed from the input, complete rules, conflicting
//     definitions, data thresholds, and what is outside the fast path),
//     each with policy.rego, an optional
//     data.json and requests.jsonl: requests that reach its rules, one
//     JSON object a line, {"body": <request>, "enrichment": <additions>}
//     (what the decision log keeps; ReplayInput).
//
// A directory is what `opa eval -d` reads: opa eval -d testdata/corpus/x
// -i input.json 'data.riskpdp'.
//
// ×10 is left out of -short and -race runs and of fuzzing, ×100 (about
// 40 s to load) out of every run unless PDP_CORPUS_ALL=1.

// corpusNow is the decision time of every corpus input, so that a failing
// fuzz input replays the same.
var corpusNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type corpusInput struct {
	Body       json.RawMessage `json:"body"`
	Enrichment json.RawMessage `json:"enrichment"`
}

type corpusEntry struct {
	name string
	dir  string // on disk, for opa eval: a fragment, or the reference policy ("" when generated)
	// factor is the generated rules, in reference rule counts (0: none).
	factor int
	// fast says whether the set runs on the fast path.
	fast bool
	// heavy entries run only with PDP_CORPUS_ALL=1 (level 2) or in the
	// full, non-race run (level 1).
	heavy int

	once      sync.Once
	opt, ref  *Engine
	err       error
	requests  []corpusInput
	reqErr    error
	oracle    rego.PreparedEvalQuery
	oracleErr error
}

// offFastPath are the fragments outside the fast path's fragment today (the
// note says why: a head computed by a call, else, a comprehension...).
var offFastPath = map[string]bool{"conflicts": true, "conflicts_complete": true, "dynamic_strings": true, "else_branches": true, "not_fast": true}

var corpus = func() []*corpusEntry {
	entries := []*corpusEntry{
		{name: "reference", dir: "../../../policies", fast: true},
		{name: "generated_x1", factor: 1, fast: true},
		{name: "generated_x10", factor: 10, fast: true, heavy: 1},
		{name: "generated_x100", factor: 100, fast: true, heavy: 2},
	}
	dirs, _ := filepath.Glob("testdata/corpus/*")
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			name := filepath.Base(d)
			entries = append(entries, &corpusEntry{name: name, dir: d, fast: !offFastPath[name]})
		}
	}
	return entries
}()

// active reports whether this run includes the entry.
func (c *corpusEntry) active() bool {
	switch {
	case os.Getenv("PDP_CORPUS_ALL") == "1":
		return true
	case c.heavy == 2:
		return false
	case c.heavy == 1:
		return !testing.Short() && !raceEnabled && !fuzzing()
	}
	return true
}

// fuzzing reports whether the test binary runs the fuzzer (as opposed to
// running the seed corpus as a test).
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

func (c *corpusEntry) source() (Source, error) {
	switch {
	case c.factor > 0:
		return generatedSource(c.factor)
	case c.name == "reference":
		return Source{FS: policies.FS, Label: "embedded"}, nil
	}
	return Source{FS: os.DirFS(c.dir), Label: c.dir}, nil
}

// load builds the entry's two engines (the sidecar's default and the
// policy as written), its requests and the OPA query that reads the
// package as `opa eval` does, once per test binary.
func (c *corpusEntry) load() error {
	c.once.Do(func() {
		src, err := c.source()
		if err != nil {
			c.err = err
			return
		}
		opts := Options{Logger: quiet, Source: src, Package: "riskpdp", EvalTimeout: time.Minute, Limits: testLimits}
		if c.opt, c.err = New(opts); c.err != nil {
			return
		}
		opts.NoOptimize = true
		if c.ref, c.err = New(opts); c.err != nil {
			return
		}
		if c.name == "reference" {
			for seed := range uint64(32) {
				body, enr := genLogged(seed)
				c.requests = append(c.requests, corpusInput{Body: body, Enrichment: enr})
			}
		} else if c.dir != "" {
			c.requests, c.reqErr = readRequests(filepath.Join(c.dir, "requests.jsonl"))
		}
		if c.dir != "" {
			c.oracle, c.oracleErr = oracleQuery(c.dir)
		}
	})
	return c.err
}

func readRequests(path string) ([]corpusInput, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []corpusInput
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r corpusInput
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// oracleQuery prepares, with OPA's rego package on the directory (as
// `opa eval -d dir` loads it, tests aside), the query that gathers the
// package's rules as the sidecar reads them: the hits set.
func oracleQuery(dir string) (rego.PreparedEvalQuery, error) {
	var parts []string
	for _, name := range hits.ReasonSets {
		parts = append(parts, fmt.Sprintf(`{[%q, x] | some x in data.riskpdp.%s}`, name, name))
	}
	for _, name := range hits.CompleteRules {
		parts = append(parts, fmt.Sprintf(`{[%q, x] | x := data.riskpdp.%s}`, name, name))
	}
	return rego.New(
		rego.Query("hits := "+strings.Join(parts, " | ")),
		rego.Load([]string{dir}, excluded),
		rego.StrictBuiltinErrors(true),
		rego.SetRegoVersion(ast.RegoV1),
	).PrepareForEval(context.Background())
}

// entry returns the corpus entry a fuzz input names: the reference when
// the one named is not in this run.
func corpusEntryFor(policy uint8) *corpusEntry {
	c := corpus[int(policy)%len(corpus)]
	if !c.active() {
		return corpus[0]
	}
	return c
}

// compareOnCorpus evaluates one input with the entry's two engines and
// fails on any difference in the answer or in answering at all.
func compareOnCorpus(t *testing.T, c *corpusEntry, body, enrichment []byte) {
	t.Helper()
	in, err := request.ReplayInput(body, corpusNow, enrichment, testLimits)
	if err != nil {
		return // not an input the sidecar would evaluate
	}
	ctx := context.Background()
	want, _, werr := c.ref.Evaluate(ctx, in)
	got, _, gerr := c.opt.Evaluate(ctx, in)
	if (gerr == nil) != (werr == nil) || !sameAnswer(got, want) {
		t.Fatalf("%s: request %s, additions %s:\n sidecar (%s): %+v %v\n as written:    %+v %v",
			c.name, body, enrichment, got.Evaluator, got, gerr, want, werr)
	}
}

// FuzzCorpusMatchesOPA holds the sidecar to OPA's evaluator on the policy
// as written over request bytes (and the sidecar's additions, as the
// decision log keeps them) on every corpus entry: the same outcome,
// reasons, obligations, limit, warning and methods, or a failure on both
// sides. Invalid bodies are skipped. Seeds: the generator's requests on
// the reference-based entries, every fragment's requests.
func FuzzCorpusMatchesOPA(f *testing.F) {
	for i, c := range corpus {
		if c.dir != "" && c.factor == 0 && c.name != "reference" {
			reqs, err := readRequests(filepath.Join(c.dir, "requests.jsonl"))
			if err != nil {
				f.Fatal(err)
			}
			for _, r := range reqs {
				f.Add([]byte(r.Body), []byte(r.Enrichment), uint8(i))
			}
			continue
		}
		seeds := map[string]int{"reference": 48, "generated_x1": 16, "generated_x10": 8, "generated_x100": 4}[c.name]
		for seed := range uint64(seeds) {
			body, enr := genLogged(seed)
			f.Add(body, enr, uint8(i))
		}
	}
	if fuzzing() {
		// Every fuzz worker loads the entries again: a smaller proof at
		// load (TestCorpus runs the full one).
		proofBudget = 100
	}
	f.Fuzz(func(t *testing.T, body, enrichment []byte, policy uint8) {
		c := corpusEntryFor(policy)
		if err := c.load(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		compareOnCorpus(t, c, body, enrichment)
	})
}

// genLogged is the generator's request for seed and its enrichment, as
// the decision log keeps them.
func genLogged(seed uint64) (body, enrichment []byte) {
	body = []byte(request.GenRequest(seed))
	in, err := request.DecodeRequest(body, corpusNow, testLimits)
	if err != nil {
		panic(fmt.Sprintf("generator made a bad request %s: %v", body, err))
	}
	request.GenEnrichment(seed, in)
	enrichment, err = in.AppendEnrichment(nil)
	if err != nil {
		panic(err)
	}
	return body, enrichment
}

// TestCorpus checks that every corpus entry loads, runs on the fast path
// when its constructs are in the fast path's fragment (the load-time proof
// included: a set it refused would not), and that on its requests the
// sidecar answers as OPA's evaluator on the policy as written and as OPA's
// rego package reading the package's rules itself (opa eval).
func TestCorpus(t *testing.T) {
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			if !c.active() {
				t.Skip("PDP_CORPUS_ALL=1 runs it (heavy)")
			}
			if err := c.load(); err != nil {
				t.Fatal(err)
			}
			if c.reqErr != nil || c.oracleErr != nil {
				t.Fatal(c.reqErr, c.oracleErr)
			}
			ps := c.opt.cur.Load()
			if (ps.fast != nil) != c.fast || !ps.optimized {
				t.Fatalf("fast path %v (want %v), optimized %v: %v", ps.fast != nil, c.fast, ps.optimized, ps.notes)
			}
			if c.fast && ps.proved == 0 {
				t.Fatal("the fast path was not proved at load")
			}
			t.Logf("fast path %v, %d inputs proved at load, %d requests", ps.fast != nil, ps.proved, len(c.requests))
			if c.dir != "" && len(c.requests) == 0 {
				t.Fatal("no requests.jsonl")
			}
			for _, r := range c.requests {
				in, err := request.ReplayInput(r.Body, corpusNow, r.Enrichment, testLimits)
				if err != nil {
					t.Fatalf("request %s, additions %s: %v", r.Body, r.Enrichment, err)
				}
				compareOnCorpus(t, c, r.Body, r.Enrichment)
				if c.dir == "" {
					continue
				}
				got, _, gerr := c.opt.Evaluate(context.Background(), in)
				want, werr := c.oracleResult(in)
				if (gerr == nil) != (werr == nil) || gerr == nil && !sameAnswer(got, want) {
					t.Fatalf("request %s, additions %s:\n sidecar: %+v %v\n opa eval: %+v %v", r.Body, r.Enrichment, got, gerr, want, werr)
				}
			}
		})
	}
}

// oracleResult is the decision OPA's rego package makes of the package's
// rules on in.
func (c *corpusEntry) oracleResult(in *request.Input) (Result, error) {
	rs, err := c.oracle.Eval(context.Background(), rego.EvalParsedInput(in.Term().Value), rego.EvalTime(in.Now))
	if err != nil {
		return Result{}, err
	}
	if len(rs) != 1 {
		return Result{}, fmt.Errorf("%d results", len(rs))
	}
	v, err := ast.InterfaceToValue(rs[0].Bindings["hits"])
	if err != nil {
		return Result{}, err
	}
	return hits.Parse(ast.NewTerm(v), in.Enrich.Verification.Passed)
}
