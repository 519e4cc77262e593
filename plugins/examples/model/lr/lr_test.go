package lr

import (
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
