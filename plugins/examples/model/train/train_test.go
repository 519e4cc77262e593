package main

import (
	"math"
	"testing"

	"github.com/riskpdp/riskpdp/plugins/examples/model/lr"
)

// TestWeightsUpToDate: the committed weights are what the trainer produces.
// After changing the generator or the inputs, rerun:
//
//	go run ./plugins/examples/model/train
func TestWeightsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the model")
	}
	w := fit(generate(defaultN, defaultSeed))
	for i := range w {
		if math.Abs(w[i]-lr.Weights[i]) > 1e-4 {
			t.Fatalf("weight %d: trained %v, committed %v: rerun go run ./plugins/examples/model/train", i, w[i], lr.Weights[i])
		}
	}
	auc, _ := evaluate(&w, generate(defaultN/4, defaultSeed+1))
	if auc < 0.9 {
		t.Fatalf("holdout AUC %.3f", auc)
	}
}
