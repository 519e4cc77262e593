package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart files written by WriteCharts.
const (
	LatencyChart    = "latency.svg"
	ThroughputChart = "throughput.svg"
	ScaleChart      = "scale.svg"
)

// targetColor keeps one colour per target across charts.
func targetColor(name string) int {
	switch name {
	case "sidecar":
		return 0
	case "opa":
		return 1
	case "floor":
		return 2
	}
	return 3
}

// WriteCharts draws the latency distributions (one panel per load phase),
// the closed-loop throughput and CPU per request, and the scale checks,
// as SVG files in dir.
func WriteCharts(r *Results, dir string) error {
	if len(r.Targets) == 0 {
		return nil
	}
	if err := latencyChart(r, filepath.Join(dir, LatencyChart)); err != nil {
		return err
	}
	if err := throughputChart(r, filepath.Join(dir, ThroughputChart)); err != nil {
		return err
	}
	if len(r.Scale.Rules)+len(r.Scale.Reputation)+len(r.Scale.Plugins) > 0 {
		return scaleChart(r, filepath.Join(dir, ScaleChart))
	}
	return nil
}

// spectrum returns the latency percentile spectrum of h: x = 1/(1-q)
// (so 10 is p90, 100 p99, 1000 p99.9), y = latency in µs.
func spectrum(h *hdrhistogram.Histogram) plotter.XYs {
	var xys plotter.XYs
	n := float64(h.TotalCount())
	for k := 0; ; k++ {
		x := math.Pow(10, float64(k)/10)
		if x > n {
			break
		}
		q := 100 * (1 - 1/x)
		xys = append(xys, plotter.XY{X: x, Y: float64(max(h.ValueAtPercentile(q), 1))})
	}
	return append(xys, plotter.XY{X: n, Y: float64(max(h.Max(), 1))})
}

var percentileTicks = plot.ConstantTicks{
	{Value: 1, Label: ""}, {Value: 2, Label: "50%"}, {Value: 10, Label: "90%"}, {Value: 100, Label: "99%"},
	{Value: 1000, Label: "99.9%"}, {Value: 10000, Label: "99.99%"}, {Value: 100000, Label: "99.999%"},
}

// usTicks labels a log axis of microseconds.
type usTicks struct{}

func (usTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(max(lo, 1))); math.Pow(10, e) <= hi*10; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo/1.01 || v > hi*1.01 {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: fmtUs(v)})
		}
	}
	return ts
}

func fmtUs(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gms", v/1e3)
	}
	return fmt.Sprintf("%gµs", v)
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

func latencyChart(r *Results, path string) error {
	type panel struct {
		title string
		get   func(*TargetResult) *LoadResult
	}
	panels := []panel{{fmt.Sprintf("closed loop, %d conns (from send)", r.Setup.ClosedConns),
		func(t *TargetResult) *LoadResult { return t.Closed }}}
	if pdp := r.target("sidecar"); pdp != nil {
		for _, o := range pdp.Open {
			rate := o.OfferedRate
			panels = append(panels, panel{fmt.Sprintf("open loop %.0f req/s (CO-corrected)", rate),
				func(t *TargetResult) *LoadResult { return t.openAt(rate) }})
		}
	}
	row := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := newPlot(pn.title, "percentile", "latency")
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = percentileTicks, usTicks{}
		for _, t := range r.Targets {
			lr := pn.get(t)
			if lr == nil || lr.hist == nil || lr.hist.TotalCount() == 0 {
				continue
			}
			l, err := plotter.NewLine(spectrum(lr.hist))
			if err != nil {
				return err
			}
			l.Color = plotutil.Color(targetColor(t.Name))
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(t.Name, l)
		}
		p.Add(plotter.NewGrid())
		row[i] = p
	}
	return saveTiles([][]*plot.Plot{row}, 11*vg.Centimeter, 9*vg.Centimeter, path)
}

func throughputChart(r *Results, path string) error {
	tp := newPlot(fmt.Sprintf("closed loop, %d connections", r.Setup.ClosedConns), "", "requests per second")
	cpu := newPlot("server CPU per request (closed loop)", "", "CPU µs per request")
	var names []string
	for i, t := range r.Targets {
		if t.Closed == nil {
			continue
		}
		names = append(names, t.Name)
		for _, pc := range []struct {
			p *plot.Plot
			v float64
		}{{tp, t.Closed.Throughput}, {cpu, usageOf(t.Closed).CPUPerRequestUs}} {
			b, err := plotter.NewBarChart(plotter.Values{pc.v}, vg.Points(40))
			if err != nil {
				return err
			}
			b.XMin = float64(i)
			b.Color = plotutil.Color(targetColor(t.Name))
			b.LineStyle.Width = 0
			pc.p.Add(b)
			labels, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(i), Y: pc.v}},
				Labels: []string{fmt.Sprintf("%.0f", pc.v)}})
			if err == nil {
				labels.Offset = vg.Point{X: -vg.Points(8), Y: vg.Points(3)}
				pc.p.Add(labels)
			}
		}
	}
	tp.NominalX(names...)
	cpu.NominalX(names...)
	tp.Y.Min, cpu.Y.Min = 0, 0
	return saveTiles([][]*plot.Plot{{tp, cpu}}, 10*vg.Centimeter, 9*vg.Centimeter, path)
}

func usageOf(l *LoadResult) Usage {
	if l == nil || l.Usage == nil {
		return Usage{}
	}
	return *l.Usage
}

// scaleChart draws p50/p99 of the open loop (and the sidecar's own
// took_us p50) against each scale parameter.
func scaleChart(r *Results, path string) error {
	type series struct {
		label string
		color int
		dash  bool
		get   func(*ScalePoint) float64
	}
	open := func(f func(*LoadResult) float64) func(*ScalePoint) float64 {
		return func(p *ScalePoint) float64 {
			if p.Open == nil {
				return math.NaN()
			}
			return f(p.Open)
		}
	}
	all := []series{
		{"p50", 0, false, open(func(l *LoadResult) float64 { return l.Latency.P50 })},
		{"p99", 0, true, open(func(l *LoadResult) float64 { return l.Latency.P99 })},
		{"took_us p50", 3, false, open(func(l *LoadResult) float64 {
			if l.TookUs == nil {
				return math.NaN()
			}
			return l.TookUs.P50
		})},
	}
	var row []*plot.Plot
	add := func(title, xlabel string, pts []*ScalePoint, x func(*ScalePoint) float64, logX bool) error {
		if len(pts) == 0 {
			return nil
		}
		p := newPlot(title, xlabel, "latency")
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, usTicks{}
		if logX {
			p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{}
		}
		for _, target := range []string{"sidecar", "opa"} {
			for _, s := range all {
				var xys plotter.XYs
				for _, pt := range pts {
					if v := s.get(pt); pt.Target == target && !math.IsNaN(v) && v > 0 {
						xys = append(xys, plotter.XY{X: x(pt), Y: v})
					}
				}
				if len(xys) == 0 {
					continue
				}
				l, sc, err := plotter.NewLinePoints(xys)
				if err != nil {
					return err
				}
				c := targetColor(target)
				if s.color == 3 {
					c = 3
				}
				l.Color, sc.Color = plotutil.Color(c), plotutil.Color(c)
				if s.dash {
					l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				}
				p.Add(l, sc)
				p.Legend.Add(target+" "+s.label, l, sc)
			}
		}
		p.Add(plotter.NewGrid())
		row = append(row, p)
		return nil
	}
	title := fmt.Sprintf("open loop %.0f req/s", r.Scale.OpenRate)
	if err := add("rules ("+title+")", "rules in the decision package", r.Scale.Rules, func(p *ScalePoint) float64 { return float64(p.Rules) }, true); err != nil {
		return err
	}
	if err := add("reputation store (sidecar)", "block-list keys", r.Scale.Reputation, func(p *ScalePoint) float64 { return float64(p.StateKeys) }, true); err != nil {
		return err
	}
	if err := add("plugins (sidecar)", "WASM plugins", r.Scale.Plugins, func(p *ScalePoint) float64 { return float64(len(p.Plugins)) }, false); err != nil {
		return err
	}
	return saveTiles([][]*plot.Plot{row}, 11*vg.Centimeter, 9*vg.Centimeter, path)
}

// saveTiles draws plots in a grid of w×h cells into an SVG file at path
// and a PNG next to it (same name, .png).
func saveTiles(plots [][]*plot.Plot, w, h vg.Length, path string) error {
	for _, row := range plots {
		for _, p := range row {
			if p != nil {
				emptyLogAxis(p, &p.X)
				emptyLogAxis(p, &p.Y)
			}
		}
	}
	rows, cols := len(plots), len(plots[0])
	width, height := w*vg.Length(cols), h*vg.Length(rows)
	png := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}
	for _, c := range []interface {
		vg.CanvasSizer
		io.WriterTo
	}{vgsvg.New(width, height), png} {
		dc := draw.New(c)
		t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
		canvases := plot.Align(plots, t, dc)
		for j := range plots {
			for i := range plots[j] {
				if plots[j][i] != nil {
					plots[j][i].Draw(canvases[j][i])
				}
			}
		}
		out := path
		if c == png {
			out = strings.TrimSuffix(path, filepath.Ext(path)) + ".png"
		}
		if err := writeTo(out, c); err != nil {
			return err
		}
	}
	return nil
}

func writeTo(path string, w io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// emptyLogAxis gives a log-scaled axis without data (a load phase that
// answered nothing) a range it can draw, and says so in the title: gonum
// refuses to draw a log scale over [0, 0].
func emptyLogAxis(p *plot.Plot, a *plot.Axis) {
	if _, ok := a.Scale.(plot.LogScale); !ok || a.Min > 0 && a.Max >= a.Min {
		return
	}
	a.Min, a.Max = 1, 10
	if !strings.HasSuffix(p.Title.Text, " (no data)") {
		p.Title.Text += " (no data)"
	}
}
