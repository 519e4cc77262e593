package lr

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// TestManifestMatchesModel: the manifest declares exactly the features the
// model reads and its reasons in the model's order.
func TestManifestMatchesModel(t *testing.T) {
	b, err := os.ReadFile("../manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features []string `yaml:"features"`
		Reasons  []string `yaml:"reasons"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range Features {
		want = append(want, f.String())
	}
	if !slices.Equal(m.Features, want) {
		t.Errorf("manifest features %v\nmodel reads      %v", m.Features, want)
	}
	if !slices.Equal(m.Reasons, ReasonNames) {
		t.Errorf("manifest reasons %v, model %v", m.Reasons, ReasonNames)
	}
}

// TestInputsReadOnlyDeclared: Inputs reads no feature outside Features
// (the host writes only the declared ones; the rest read as 0).
func TestInputsReadOnlyDeclared(t *testing.T) {
	var base abi.Features
	var x0, x1 [NumInputs]float64
	Inputs(&base, &x0)
	for i := range abi.NumFeatures {
		if slices.Contains(Features, abi.Feature(i)) {
			continue
		}
		f := base
		f[i] = 7
		Inputs(&f, &x1)
		if x0 != x1 {
			t.Errorf("Inputs depends on undeclared feature %s", abi.Feature(i))
		}
	}
}

// TestLog1pCount: the lookup gives exactly math.Log1p, in the table and past it.
func TestLog1pCount(t *testing.T) {
	for _, n := range []float64{0, 1, 2, 7, 63, 64, 65, 1000, 0.5, 2.25, 63.5} {
		if got, want := log1pCount(n), math.Log1p(n); got != want {
			t.Errorf("log1pCount(%v) = %v, want %v", n, got, want)
		}
	}
}

// TestScoreMatchesReasonOf: Score's written-out reason sums are those of
// the reasonOf grouping, bit for bit, and so is the probability.
func TestScoreMatchesReasonOf(t *testing.T) {
	ref := func(w *[NumInputs + 1]float64, x *[NumInputs]float64) (float64, uint64) {
		z := w[NumInputs]
		var contrib [10]float64
		for i := range x {
			c := w[i] * x[i]
			z += c
			if r := reasonOf[i]; r >= 0 {
				contrib[r] += c
			}
		}
		var mask uint64
		for r, c := range contrib {
			if c > ReasonThreshold {
				mask |= 1 << r
			}
		}
		return 1 / (1 + math.Exp(-z)), mask
	}
	r := rand.New(rand.NewPCG(1, 2))
	masks := map[uint64]bool{}
	for range 20000 {
		var x [NumInputs]float64
		for i := range x {
			switch r.IntN(3) {
			case 0:
				x[i] = 0
			case 1:
				x[i] = 1
			default:
				x[i] = r.Float64() * 3
			}
		}
		gp, gm := Score(&Weights, &x)
		wp, wm := ref(&Weights, &x)
		if gp != wp || gm != wm {
			t.Fatalf("x=%v: Score = %v %b, reasonOf loop = %v %b", x, gp, gm, wp, wm)
		}
		masks[gm] = true
	}
	if len(masks) < 50 {
		t.Errorf("only %d distinct reason masks: inputs too narrow", len(masks))
	}
}
