package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// TestEmptyLogPlotDraws: a panel whose load phase answered nothing (no
// point to draw on its log scales) is drawn, titled "(no data)", instead
// of stopping the run with gonum's panic.
func TestEmptyLogPlotDraws(t *testing.T) {
	p := newPlot("open loop 100 req/s", "percentile", "latency")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = percentileTicks, usTicks{}
	path := filepath.Join(t.TempDir(), "latency.svg")
	if err := saveTiles([][]*plot.Plot{{p}}, 11*vg.Centimeter, 9*vg.Centimeter, path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), "(no data)") {
		t.Fatalf("%s: %v, %d bytes without \"(no data)\"", path, err, len(b))
	}
}
