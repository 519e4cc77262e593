package sim

import (
	"bufio"
	"fmt"
	"html"
	"io"
)

// Colours of how transactions ended.
var outcomeColours = [4]struct{ name, fill string }{
	{"allowed", "#9aa5b1"},
	{"stepped up, verified, allowed", "#f2c14e"},
	{"stepped up, not verified", "#e67e22"},
	{"denied", "#c0392b"},
}

// WriteSVG draws the report as one self-contained SVG image (no script,
// nothing fetched): the goals with their measured values, then one bar
// per scenario showing how its transactions ended, with its figures.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		width  = 1060
		left   = 250 // scenario names
		barW   = 380
		rowH   = 24
		top    = 56
		goalsH = 22
	)
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	esc := html.EscapeString
	rows := len(r.Scenarios) + 2 // two group headings
	height := top + len(r.Goals)*goalsH + 40 + rows*rowH + 60
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="simulation report">`+"\n",
		width, height, width, height)
	p(`<style>text{font:12px system-ui,sans-serif;fill:#222}.t{font-size:15px;font-weight:600}.h{font-weight:600}.ok{fill:#1e7d32}.no{fill:#c0392b}</style>` + "\n")
	p(`<rect width="100%%" height="100%%" fill="#fff"/>` + "\n")
	p(`<text class="t" x="12" y="22">pdp simulate: seed %d, %d days, %d customers, policy %s</text>`+"\n",
		r.Seed, r.Days, r.Accounts, esc(r.Revision))
	plugins := "no plugins"
	if len(r.Plugins) > 0 {
		plugins = fmt.Sprintf("plugins %v (%d faults)", r.Plugins, r.PluginFaults)
	}
	p(`<text x="12" y="40">%d legit and %d fraud transactions, %d decisions, %d verifications, %d events; %s</text>`+"\n",
		r.Legit.Transactions, r.Fraud.Transactions, r.Calls.Decide, r.Calls.Verify, r.Calls.Event, esc(plugins))
	y := top
	for _, g := range r.Goals {
		y += goalsH
		mark, class := "✗ missed", "no"
		if g.Met {
			mark, class = "✓ met", "ok"
		}
		p(`<text x="12" y="%d">%s</text><text x="%d" y="%d">%s (goal %s %s)</text><text class="%s" x="%d" y="%d">%s</text>`+"\n",
			y, esc(g.Name), 380, y, goalValue(g, g.Value), esc(g.Op), goalValue(g, g.Target), class, 640, y, mark)
	}
	y += 30
	// Legend.
	x := 12
	for _, c := range outcomeColours {
		p(`<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y-10, c.fill, x+16, y, esc(c.name))
		x += 30 + 7*len(c.name)
	}
	for _, label := range []Label{Legit, Fraud} {
		y += rowH + 8
		heading := "legitimate customers: share of their transactions"
		if label == Fraud {
			heading = "fraud: share of its transactions"
		}
		p(`<text class="h" x="12" y="%d">%s</text>`+"\n", y, heading)
		for _, s := range r.Scenarios {
			if s.Label != label.String() {
				continue
			}
			y += rowH
			var o Outcomes
			var n int
			var note string
			if s.Fraud != nil {
				o, n = s.Fraud.Outcomes, s.Fraud.Transactions
				note = fmt.Sprintf("%.1f%% stepped up or denied, %.1f%% of %.0f CNY stopped",
					100*s.Fraud.SteppedUpOrDeniedShare, 100*s.Fraud.AmountStoppedShare, s.Fraud.Amount)
			} else {
				o, n = s.Legit.Outcomes, s.Legit.Transactions
				note = fmt.Sprintf("%.1f step-ups /1000, %.2f%% denied, %d frozen", s.Legit.StepUpsPer1000,
					100*s.Legit.DeniedShare, s.Legit.AccountsFrozen)
			}
			p(`<text x="12" y="%d">%s (%d)</text>`+"\n", y, esc(s.Name), n)
			bx := float64(left)
			for i, v := range [4]int{o.Allowed, o.Verified, o.Abandoned, o.Denied} {
				if n == 0 || v == 0 {
					continue
				}
				wd := float64(barW) * float64(v) / float64(n)
				p(`<rect x="%.1f" y="%d" width="%.1f" height="16" fill="%s"><title>%s: %d</title></rect>`+"\n",
					bx, y-12, wd, outcomeColours[i].fill, esc(outcomeColours[i].name), v)
				bx += wd
			}
			p(`<text x="%d" y="%d">%s</text>`+"\n", left+barW+10, y, esc(note))
		}
	}
	p("</svg>\n")
	return bw.Flush()
}

// goalValue formats a goal's value as the goal states it.
func goalValue(g Goal, v float64) string {
	switch g.Name {
	case "legit accounts frozen that did not abuse velocity":
		return fmt.Sprintf("%.0f", v)
	case "legit transactions denied":
		return fmt.Sprintf("%.2f%%", 100*v)
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}
