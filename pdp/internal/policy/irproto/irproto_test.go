package irproto

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/policies"
	"github.com/riskpdp/riskpdp/policies/policygen"
)

var limits = request.Limits{MaxDepth: 16, MaxAmount: 1e12}

// corpus is one policy set three ways: the engine optimized (fast path),
// the engine as written (topdown), and the IR program.
type corpus struct {
	name  string
	fsys  fs.FS
	fast  *policy.Engine
	opa   *policy.Engine
	pol   *Policy
	prog  *Program
	data  *ast.Term
	query ast.Body
}

var (
	corpusOnce sync.Once
	corpora    []*corpus
	corpusErr  error
)

// full reports whether the whole corpus runs: IRPROTO_FULL=1 (the
// measurement in RESULTS.md). Otherwise the test checks the reference
// policy on a few hundred requests, which keeps `make test` (race detector)
// short. Benchmarks always load the whole corpus.
func full() bool { return os.Getenv("IRPROTO_FULL") != "" }

// loadCorpora builds the reference policy set and, when all is set, the
// generated ×10 and ×100 sets (policygen.PreparePolicies, as `make bench` does),
// once per run.
func loadCorpora(tb testing.TB, all bool) []*corpus {
	tb.Helper()
	corpusOnce.Do(func() {
		ref, err := newCorpus("ref", policies.FS)
		if err != nil {
			corpusErr = fmt.Errorf("ref: %w", err)
			return
		}
		corpora = append(corpora, ref)
	})
	if corpusErr != nil {
		tb.Fatal(corpusErr)
	}
	if !all {
		return corpora[:1]
	}
	genOnce.Do(func() {
		dir, err := os.MkdirTemp("", "irproto-policies-")
		if err != nil {
			genErr = err
			return
		}
		for _, f := range []int{10, 100} {
			dst := fmt.Sprintf("%s/x%d", dir, f)
			if _, err := policygen.PreparePolicies("../../../..", dst, f, false); err != nil {
				genErr = err
				return
			}
			c, err := newCorpus(fmt.Sprintf("x%d", f), os.DirFS(dst))
			if err != nil {
				genErr = fmt.Errorf("x%d: %w", f, err)
				return
			}
			corpora = append(corpora, c)
		}
	})
	if genErr != nil {
		tb.Fatal(genErr)
	}
	return corpora
}

var (
	genOnce sync.Once
	genErr  error
)

func newCorpus(name string, fsys fs.FS) (*corpus, error) {
	quiet := slog.New(slog.DiscardHandler)
	c := &corpus{name: name, fsys: fsys}
	var err error
	opts := policy.Options{Logger: quiet, Source: policy.Source{FS: fsys, Label: name}, Package: "riskpdp",
		EvalTimeout: 5 * time.Second, Limits: limits}
	if c.fast, err = policy.New(opts); err != nil {
		return nil, err
	}
	opts.NoOptimize = true
	if c.opa, err = policy.New(opts); err != nil {
		return nil, err
	}
	if c.pol, err = Load(fsys, "riskpdp"); err != nil {
		return nil, err
	}
	if c.prog, err = Compile(c.pol.Plan); err != nil {
		return nil, err
	}
	c.data = ast.NewTerm(c.pol.Data)
	c.query, err = c.pol.Compiler.QueryCompiler().Compile(ast.MustParseBody("__result__ = " + HitsPath))
	return c, err
}

// irHits runs the IR program and returns the hits set.
func (c *corpus) irHits(ctx context.Context, input *ast.Term, now time.Time) (*ast.Term, error) {
	rs, err := c.prog.Eval(ctx, input, c.data, now)
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%d results", len(rs))
	}
	return rs[0].Value.(ast.Object).Get(ast.StringTerm("x")), nil
}

var noMetrics = metrics.NoOp()

// topdownHits evaluates the same hits rule with topdown on the same input
// term and the same compiled modules (strict built-in errors, indexing,
// early exit: the engine's settings, pdp/internal/policy/eval.go).
func (c *corpus) topdownHits(ctx context.Context, input *ast.Term, now time.Time) (*ast.Term, error) {
	txn, err := c.pol.Store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer c.pol.Store.Abort(ctx, txn)
	var out *ast.Term
	err = topdown.NewQuery(c.query).WithCompiler(c.pol.Compiler).WithStore(c.pol.Store).WithTransaction(txn).
		WithInput(input).WithMetrics(noMetrics).WithTime(now).WithStrictBuiltinErrors(true).
		WithEarlyExit(true).WithIndexing(true).
		Iter(ctx, func(qr topdown.QueryResult) error { out = qr[ast.Var("__result__")]; return nil })
	if err == nil && out == nil {
		err = errors.New("undefined")
	}
	return out, err
}

// engineHits is the engine's own topdown evaluation of the hits rule on
// the engine's own input term (EvalDataInput): it checks InputTerm.
func (c *corpus) engineHits(ctx context.Context, in *request.Input, now time.Time) (*ast.Term, error) {
	b, ok, err := c.opa.EvalDataInput(ctx, "__pdp_reference/hits", in, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("undefined")
	}
	t, err := ast.ParseTerm(string(b))
	if err != nil {
		return nil, err
	}
	// JSON writes the set as an array.
	if arr, ok := t.Value.(*ast.Array); ok {
		elems := make([]*ast.Term, arr.Len())
		for i := range elems {
			elems[i] = arr.Elem(i)
		}
		t = ast.SetTerm(elems...)
	}
	return t, nil
}

// sets projects a hits set on the reason sets: name -> sorted elements.
func sets(hits *ast.Term) string {
	if hits == nil {
		return "<nil>"
	}
	by := map[string][]string{}
	var names []string
	set, ok := hits.Value.(ast.Set)
	if !ok {
		return hits.String()
	}
	sorted := set.Sorted()
	for i := range sorted.Len() {
		h := sorted.Elem(i)
		arr, ok := h.Value.(*ast.Array)
		if !ok || arr.Len() != 2 {
			continue
		}
		n := string(arr.Elem(0).Value.(ast.String))
		if _, seen := by[n]; !seen {
			names = append(names, n)
		}
		by[n] = append(by[n], arr.Elem(1).String())
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%s ", n, strings.Join(by[n], ","))
	}
	return b.String()
}

// TestIRMatchesTopdown evaluates generated requests (with enrichment) on
// every corpus set with the IR program and with topdown, and counts
// agreement: the whole hits set (reason sets and complete rules), equal as
// OPA values, and equal errors (both fail or neither).
func TestIRMatchesTopdown(t *testing.T) {
	n := 300
	if full() {
		n = 3000
	}
	ctx := context.Background()
	for _, c := range loadCorpora(t, full()) {
		t.Run(c.name, func(t *testing.T) {
			var agree, mismatch, bothErr, irOnlyErr, opaOnlyErr, inputDiff, unsupported int
			outcomes := map[string]int{}
			for seed := uint64(0); seed < uint64(n); seed++ {
				body := request.GenRequest(seed)
				now := time.Now()
				in, err := request.DecodeRequest([]byte(body), now, limits)
				if err != nil {
					t.Fatalf("seed %d: decode: %v", seed, err)
				}
				request.GenEnrichment(seed, in)
				input, err := InputTerm(in)
				if err != nil {
					t.Fatalf("seed %d: input: %v", seed, err)
				}
				want, werr := c.topdownHits(ctx, input, now)
				got, gerr := c.irHits(ctx, input, now)
				eng, eerr := c.engineHits(ctx, in, now)
				if (eerr == nil) != (werr == nil) || (eerr == nil && !eng.Equal(want)) {
					inputDiff++
					if inputDiff <= 3 {
						t.Logf("seed %d: rebuilt input differs from the engine's: %s / %v vs %s / %v", seed, sets(want), werr, sets(eng), eerr)
					}
				}
				switch {
				case errors.Is(gerr, ErrUnsupported):
					unsupported++
				case werr != nil && gerr != nil:
					bothErr++
				case gerr != nil:
					irOnlyErr++
					if irOnlyErr <= 3 {
						t.Logf("seed %d: IR error only: %v\n  %s", seed, gerr, body)
					}
				case werr != nil:
					opaOnlyErr++
					if opaOnlyErr <= 3 {
						t.Logf("seed %d: topdown error only: %v\n  %s", seed, werr, body)
					}
				case got.Equal(want):
					agree++
					if r, _, err := c.fast.Evaluate(ctx, in); err == nil {
						outcomes[r.Outcome.String()]++
					}
				default:
					mismatch++
					if mismatch <= 3 {
						t.Logf("seed %d: differ\n  ir:      %s\n  topdown: %s\n  %s", seed, sets(got), sets(want), body)
					}
				}
			}
			t.Logf("%s: %d requests: %d agree, %d differ, %d both error, %d IR-only error, %d topdown-only error, %d unsupported; rebuilt input vs engine input: %d differ; outcomes %v",
				c.name, n, agree, mismatch, bothErr, irOnlyErr, opaOnlyErr, unsupported, inputDiff, outcomes)
			if mismatch+irOnlyErr+opaOnlyErr+unsupported+inputDiff > 0 {
				t.Errorf("%s: IR and topdown disagree", c.name)
			}
		})
	}
}

// benchRequests are the representative requests: BenchmarkEvaluate's
// payment (request.PaymentWithChangeAt), a withdrawal with a scam
// statement, a login.
func benchRequests() []struct{ name, body string } {
	payment := strings.Replace(`{"request_id":"r-1","stage":"payment","uid":"u-1001",
 "device":{"id":"d-77","ip":"203.0.113.7","ip_country":"SG","new":true},
 "txn":{"id":"t-9","amount":6800.00,"currency":"CNY","category":"digital","merchant":"m-1","payment_method":"card","ship_country":"CN"},
 "account":{"home_country":"CN","created_at":"2021-03-01T00:00:00Z","recent_changes":[{"kind":"phone_change","at":"@RECENT@"}]},
 "context":{"channel":"app","session_age_s":120}}`, "@RECENT@", time.Now().Add(-14*time.Hour).UTC().Format(time.RFC3339), 1)
	home := `"device":{"id":"d","ip_country":"CN","new":false},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}`
	return []struct{ name, body string }{
		{"payment", payment},
		{"withdrawal", `{"stage":"withdrawal","uid":"u",` + home + `,"txn":{"id":"t","amount":900,"currency":"CNY","destination_new":false},"context":{"user_statement":"对方一直在电话里指导我 共享屏幕"}}`},
		{"login", `{"stage":"login","uid":"u-1","device":{"id":"d","ip":"192.0.2.1","ip_country":"SG"},"account":{"home_country":"SG"}}`},
	}
}

// BenchmarkDecide: per policy set and request, (a) the engine's default
// (fast path), (b) the engine with NoOptimize (topdown on the policy as
// written; both include the engine's input term and result parsing),
// (b') topdown alone on a prebuilt input term, (c) the IR program on the
// same prebuilt input term.
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	for _, c := range loadCorpora(b, true) {
		for _, rq := range benchRequests() {
			now := time.Now()
			in, err := request.DecodeRequest([]byte(rq.body), now, limits)
			if err != nil {
				b.Fatal(err)
			}
			input, err := InputTerm(in)
			if err != nil {
				b.Fatal(err)
			}
			want, err := c.topdownHits(ctx, input, now)
			if err != nil {
				b.Fatal(err)
			}
			if got, err := c.irHits(ctx, input, now); err != nil || !got.Equal(want) {
				b.Fatalf("%s/%s: IR %s (%v), topdown %s", c.name, rq.name, sets(got), err, sets(want))
			}
			name := c.name + "/" + rq.name
			b.Run(name+"/a_fast", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := c.fast.Evaluate(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/b_opa", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := c.opa.Evaluate(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/b2_topdown_term", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.topdownHits(ctx, input, now); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/c_ir", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.irHits(ctx, input, now); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
