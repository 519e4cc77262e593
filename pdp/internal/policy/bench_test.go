package policy

import (
	"context"
	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"strings"
	"testing"
	"time"
)

func newTestEngine(tb testing.TB) *Engine {
	tb.Helper()
	e, err := New(Options{Logger: quiet,
		Source:      testSource(),
		Package:     "riskpdp",
		EvalTimeout: time.Second, // a benchmark measures; a loaded machine must not fail it
		Limits:      request.Limits{MaxDepth: 16, MaxAmount: 1e12},
		// Verified as pdp serve verifies by default (watch.go).
		VerifySampleRate: DefaultVerifySampleRate,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}

func BenchmarkEvaluate(b *testing.B) {
	e := newTestEngine(b)
	ctx := context.Background()
	now := time.Now()
	in, err := request.DecodeRequest(paymentBody, now, request.Limits{MaxDepth: 16, MaxAmount: 1e12})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for b.Loop() {
		r, _, err := e.Evaluate(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		_ = r
	}
}

// BenchmarkEvaluateStatement is BenchmarkEvaluate's payment with what the
// user said: none, an ordinary complaint that names an actor (every phrase
// list is scanned), a scam statement.
func BenchmarkEvaluateStatement(b *testing.B) {
	// A second, not 50 ms: on a busy shared machine a descheduled
	// goroutine must not fail the benchmark.
	e, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second,
		Limits: request.Limits{MaxDepth: 16, MaxAmount: 1e12}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	ctx := context.Background()
	now := time.Now()
	for _, c := range []struct{ name, statement string }{
		{"none", ""},
		{"ordinary", "I already contacted customer service about the late delivery, 快递一直没到 联系过客服了"},
		{"scam", "客服说我买的衣服有质量问题 要给我双倍赔偿 让我打开屏幕共享"},
	} {
		body := paymentBody
		if c.statement != "" {
			body = []byte(strings.Replace(string(paymentBody), `"context":{"channel":"app"`,
				`"context":{"user_statement":"`+c.statement+`","channel":"app"`, 1))
		}
		in, err := request.DecodeRequest(body, now, request.Limits{MaxDepth: 16, MaxAmount: 1e12})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			benchutil.CPUTime(b)
			for b.Loop() {
				if _, _, err := e.Evaluate(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
