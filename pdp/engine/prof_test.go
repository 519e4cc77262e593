package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"os"

	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/riskpdp/riskpdp/policies"
)

func TestProfilePolicy(t *testing.T) {
	e := newTestEngine(t)
	in, _ := DecodeRequest(paymentBody, time.Now(), Limits{MaxDepth: 16, MaxAmount: 1e12})
	ps := e.cur.Load()
	p := profiler.New()
	for i := 0; i < 2000; i++ {
		txn, _ := ps.newReadTxn(context.Background())
		q := topdown.NewQuery(ps.query).WithCompiler(ps.compiler).WithStore(ps.store).WithTransaction(txn).WithInput(in.term()).WithQueryTracer(p).WithEarlyExit(true).WithIndexing(true)
		_, err := q.Run(context.Background())
		ps.store.Abort(context.Background(), txn)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range p.ReportTopNResults(25, []string{"total_time_ns"}) {
		fmt.Printf("%8dns/op evals=%4d %s\n", s.ExprTimeNs/2000, s.NumEval, s.Location)
	}
}

func testSource() Source {
	if d := os.Getenv("POLDIR"); d != "" {
		return Source{FS: os.DirFS(d), Label: d}
	}
	return Source{FS: policies.FS, Label: "embedded"}
}
