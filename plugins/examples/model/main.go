//go:build wasip1

// Command model is the fraud_model plugin: a logistic regression (package
// lr) whose weights were fitted by ./train on a generated data set and are
// compiled into the module. Score: the fraud probability in [0, 1]; reasons
// name the input groups that raised the log-odds by more than 0.75.
package main

import (
	"github.com/riskpdp/riskpdp/plugins/examples/model/lr"
	"github.com/riskpdp/riskpdp/plugins/sdk"
)

func init() { sdk.Register(score) }

func score(f *sdk.Features) (float64, sdk.Reasons) {
	var x [lr.NumInputs]float64
	lr.Inputs(f, &x)
	p, mask := lr.Score(&lr.Weights, &x)
	return p, sdk.Reasons(mask)
}

func main() {}
