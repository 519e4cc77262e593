package replay

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

//go:embed report.html.tmpl
var reportTemplate string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":      func(n, of int64) string { return pct(n, of) },
	"countPct": countPct,
	"base":     filepath.Base,
	"join":     list,
	"amount": func(c Change) string {
		if c.Amount == 0 && c.Currency == "" {
			return "-"
		}
		return fmt.Sprintf("%g %s", c.Amount, c.Currency)
	},
	"transitions": transitions,
	"sub":         func(a, b int64) int64 { return a - b },
	"issueRow":    func(name string, is Issues) issueRow { return issueRow{name, is} },
}).Parse(reportTemplate))

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and SVG charts drawn here, no script, nothing fetched. Every string from
// the log goes through html/template's contextual escaping. The changed
// decisions listed are Report.Sample.
func WriteHTML(w io.Writer, rep *Report) error {
	return htmlTemplate.Execute(w, newHTMLView(rep))
}

type issueRow struct {
	Name   string
	Issues Issues
}

// htmlView is what the template shows: the report and the charts' geometry.
type htmlView struct {
	R         *Report
	Generated string
	Outcomes  chart
	Matrix    matrixChart
	Stages    chart
	Reasons   chart
	Labels    *chart
	FP        Rate
	MoreRows  int64
}

// Colours of the two series: live and candidate.
const (
	liveFill = "#8a9bb0"
	candFill = "#d9822b"
)

func newHTMLView(rep *Report) *htmlView {
	v := &htmlView{R: rep, Generated: time.Now().UTC().Format(time.RFC3339), MoreRows: rep.Changed - int64(len(rep.Sample))}
	n := float64(rep.Compared)
	m := &rep.Matrix
	var groups []group
	for _, o := range outcomes {
		groups = append(groups, group{o.String(), [2]float64{float64(m.Live(o)), float64(m.Candidate(o))}})
	}
	v.Outcomes = barChart(groups, n, countLabel(n))
	v.Matrix = newMatrixChart(m)

	groups = groups[:0:0]
	for _, s := range rep.Stages {
		f := func(m Matrix, col bool) float64 {
			if col {
				return float64(m.Candidate(pdp.StepUp) + m.Candidate(pdp.Deny))
			}
			return float64(m.Live(pdp.StepUp) + m.Live(pdp.Deny))
		}
		groups = append(groups, group{fmt.Sprintf("%s (%d)", s.Stage, s.Compared), [2]float64{f(s.Matrix, false), f(s.Matrix, true)}})
	}
	v.Stages = barChart(groups, 0, plainLabel)

	groups = groups[:0:0]
	for i, r := range rep.Reasons {
		if i == maxChartReasons {
			break
		}
		groups = append(groups, group{truncate(r.Reason, 40), [2]float64{float64(r.Live), float64(r.Candidate)}})
	}
	v.Reasons = barChart(groups, n, countLabel(n))

	if l := rep.Labels; l != nil {
		v.FP = l.FalsePositive()
		rate := func(name string, a, b, of int64) group {
			return group{fmt.Sprintf("%s (%d)", name, of), [2]float64{100 * share(a, of), 100 * share(b, of)}}
		}
		fp := v.FP
		groups := []group{
			rate("catch: stepped up or denied", l.Bad.LiveFlagged, l.Bad.CandidateFlagged, l.Bad.N),
			rate("catch: denied", l.Bad.LiveDenied, l.Bad.CandidateDenied, l.Bad.N),
		}
		if l.Complaint.N > 0 {
			groups = append(groups, rate("complaints: stepped up or denied", l.Complaint.LiveFlagged, l.Complaint.CandidateFlagged, l.Complaint.N))
		}
		groups = append(groups, rate("false positives: stepped up or denied", fp.LiveFlagged, fp.CandidateFlagged, fp.N))
		c := barChart(groups, 100, func(x float64) string { return fmt.Sprintf("%.1f%%", x) })
		v.Labels = &c
	}
	return v
}

// maxChartReasons bounds the reasons chart; the table lists them all.
const maxChartReasons = 30

// group is one category of a bar chart: its live and candidate values.
type group struct {
	Label  string
	Values [2]float64
}

// chart is a horizontal bar chart, live and candidate bars per group,
// laid out here so that the template only places elements.
type chart struct {
	Width, Height float64
	Groups        []chartGroup
}

type chartGroup struct {
	Label          string
	LabelX, LabelY float64
	Bars           [2]chartBar
}

type chartBar struct {
	X, Y, W, H float64
	Fill       string
	Text       string
	TextX      float64
	TextY      float64
	SeriesTag  string
}

// Chart geometry, in SVG user units (pixels).
const (
	chartLabelW = 330.0
	chartBarsW  = 420.0
	chartTextW  = 130.0
	barH        = 13.0
	groupGap    = 10.0
)

func countLabel(total float64) func(float64) string {
	return func(x float64) string {
		if total == 0 {
			return fmt.Sprintf("%.0f", x)
		}
		return fmt.Sprintf("%.0f (%.1f%%)", x, 100*x/total)
	}
}

func plainLabel(x float64) string { return fmt.Sprintf("%.0f", x) }

// barChart lays out groups; bars are scaled to scale, or to the largest
// value when scale is 0 (or smaller than a value).
func barChart(groups []group, scale float64, label func(float64) string) chart {
	for _, g := range groups {
		scale = max(scale, g.Values[0], g.Values[1])
	}
	c := chart{Width: chartLabelW + chartBarsW + chartTextW}
	y := 4.0
	for _, g := range groups {
		cg := chartGroup{Label: g.Label, LabelX: chartLabelW - 6, LabelY: y + barH + 4}
		for i, val := range g.Values {
			w := 0.0
			if scale > 0 {
				w = chartBarsW * val / scale
			}
			fill, tag := liveFill, "live"
			if i == 1 {
				fill, tag = candFill, "candidate"
			}
			by := y + float64(i)*(barH+2)
			cg.Bars[i] = chartBar{X: chartLabelW, Y: by, W: max(w, 0.5), H: barH, Fill: fill, Text: label(val),
				TextX: chartLabelW + w + 4, TextY: by + barH - 2, SeriesTag: tag}
		}
		c.Groups = append(c.Groups, cg)
		y += 2*barH + 2 + groupGap
	}
	c.Height = y
	return c
}

// matrixChart is the transition matrix as a heat map.
type matrixChart struct {
	Width, Height float64
	Cells         []matrixCell
	Heads         []matrixHead
}

type matrixCell struct {
	X, Y, Size, Opacity float64
	Count, Share        string
	Diagonal            bool
}

type matrixHead struct {
	X, Y   float64
	Text   string
	Anchor string
}

func newMatrixChart(m *Matrix) matrixChart {
	const cell, left, top = 110.0, 90.0, 40.0
	mc := matrixChart{Width: left + 3*cell + 10, Height: top + 3*cell + 10}
	total := m.Total()
	var peak int64
	for i := range 3 {
		for j := range 3 {
			if i != j {
				peak = max(peak, m[i][j])
			}
		}
	}
	for i, o := range outcomes {
		mc.Heads = append(mc.Heads,
			matrixHead{X: left + float64(i)*cell + cell/2, Y: top - 8, Text: "→ " + o.String(), Anchor: "middle"},
			matrixHead{X: left - 8, Y: top + float64(i)*cell + cell/2 + 4, Text: o.String(), Anchor: "end"})
		for j := range outcomes {
			n := m[i][j]
			// Off the diagonal the shade is relative to the largest change,
			// so that small changes still show; the diagonal stays pale.
			op := 0.08
			if i != j && n > 0 {
				op = 0.2 + 0.8*float64(n)/float64(peak)
			}
			mc.Cells = append(mc.Cells, matrixCell{X: left + float64(j)*cell, Y: top + float64(i)*cell, Size: cell - 4,
				Opacity: op, Count: fmt.Sprint(n), Share: pct(n, total), Diagonal: i == j})
		}
	}
	return mc
}
