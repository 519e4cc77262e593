package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/riskpdp/riskpdp/pdp/sim"
)

func simulateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulate --out <dir> [--seed N] [--days D] [--accounts A] [--policies <dir>] [--plugins <dir>]",
		Short: "Run labelled simulated traffic through the decision path: how much fraud is stopped, how many customers are bothered?",
		Long: `Simulate customers and fraudsters over days of simulated time and drive
the real decision path with them, in process: the policy, the risk state,
velocity windows, plugins (with --plugins) and the decision log, at a
simulated clock. Customers make everyday purchases, withdraw their salary,
buy on a promotion evening, travel abroad with a new phone, change devices,
reset passwords, move refunds and repay credit, and pass their step-ups;
fraud takes over accounts, guides scam victims, tests stolen cards, shares
one device among many accounts, reships high-value goods abroad, switches
payment methods and cashes out mule accounts, and mostly fails or abandons
its step-ups. Every operation is labelled by the scenario that made it.

The same seed gives the same operations and the same report. --out
receives report.json (the figures per scenario and overall, the goals,
the reasons behind legit friction, the fraud that got through),
report.svg (a chart), labels.csv (txn_id,label) and decisions.jsonl (the
decision log): pdp replay --log DIR/decisions.jsonl --labels
DIR/labels.csv --policies <candidate> backtests a policy change on it.
The summary goes to standard output.`,
		Example: `  pdp simulate --out sim-out
  pdp simulate --seed 7 --days 14 --accounts 20000 --out sim-out --policies ./candidate
  plugins/build.sh && pdp simulate --out sim-out --plugins plugins/build`,
		Args: cobra.NoArgs,
		RunE: runSimulate,
	}
	f := cmd.Flags()
	f.Uint64("seed", sim.DefaultSeed, "random seed: the same seed gives the same run (0 is refused)")
	f.Int("days", sim.DefaultDays, "simulated days")
	f.Int("accounts", sim.DefaultAccounts, "simulated customers")
	f.Int("fraud-min", sim.DefaultFraudMin, "least number of episodes of each fraud scenario")
	f.String("out", "", "output directory (created when missing; must not hold a decision log already) (required)")
	f.String("policies", "", "policy directory, laid out as for pdp serve --policies (default: the embedded reference policies)")
	f.String("plugins", "", "plugin directory, NAME.yaml next to NAME.wasm (default: none, as pdp serve; plugins/build.sh builds the examples)")
	f.String("format", "text", "summary on standard output: text, json or none")
	return cmd
}

// Output files of pdp simulate, in --out.
const (
	simReport    = "report.json"
	simChart     = "report.svg"
	simLabels    = "labels.csv"
	simDecisions = "decisions.jsonl"
)

func runSimulate(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	var cfg sim.Config
	cfg.Seed, _ = f.GetUint64("seed")
	cfg.Days, _ = f.GetInt("days")
	cfg.Accounts, _ = f.GetInt("accounts")
	cfg.FraudMin, _ = f.GetInt("fraud-min")
	cfg.Policies, _ = f.GetString("policies")
	cfg.Plugins, _ = f.GetString("plugins")
	out, _ := f.GetString("out")
	format, _ := f.GetString("format")
	switch {
	case out == "":
		return errors.New("--out: required (the output directory)")
	case cfg.Seed == 0:
		return errors.New("--seed: must not be 0")
	case cfg.Days < 1 || cfg.Days > 366:
		return fmt.Errorf("--days: %d is not between 1 and 366", cfg.Days)
	case cfg.Accounts < 1 || cfg.Accounts > 1_000_000:
		return fmt.Errorf("--accounts: %d is not between 1 and 1000000", cfg.Accounts)
	case cfg.FraudMin < 0:
		return fmt.Errorf("--fraud-min: %d is negative", cfg.FraudMin)
	}
	switch format {
	case "text", "json", "none":
	default:
		return fmt.Errorf("--format: %q is not text, json or none", format)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	// The decision log appends: a log left by an earlier run would mix two
	// runs in one file (and its rotated backups would be read with it).
	if old, _ := filepath.Glob(filepath.Join(out, "decisions*.jsonl*")); len(old) > 0 {
		return fmt.Errorf("--out: %s already holds a decision log (%s): choose another directory or remove it", out, filepath.Base(old[0]))
	}
	for _, dir := range []struct{ flag, path string }{{"policies", cfg.Policies}, {"plugins", cfg.Plugins}} {
		if dir.path == "" {
			continue
		}
		if fi, err := os.Stat(dir.path); err != nil || !fi.IsDir() {
			if err == nil {
				err = fmt.Errorf("%s is not a directory", dir.path)
			}
			return fmt.Errorf("--%s: %w", dir.flag, err)
		}
	}
	cfg.DecisionLog = filepath.Join(out, simDecisions)
	var outs []*outFile
	defer func() {
		for _, o := range outs {
			o.abort()
		}
	}()
	files := map[string]*outFile{}
	for _, name := range []string{simReport, simChart, simLabels} {
		o, err := createOut(filepath.Join(out, name))
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		outs = append(outs, o)
		files[name] = o
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := sim.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && cmd.Context().Err() == nil {
			return errors.New("interrupted")
		}
		return err
	}
	rep := res.Report
	if err := rep.WriteJSON(files[simReport].w); err != nil {
		return err
	}
	if err := rep.WriteSVG(files[simChart].w); err != nil {
		return err
	}
	if err := res.WriteLabels(files[simLabels].w); err != nil {
		return err
	}
	for _, o := range outs {
		if err := o.commit(); err != nil {
			return err
		}
	}
	switch format {
	case "text":
		err = rep.WriteText(cmd.OutOrStdout())
	case "json":
		err = rep.WriteJSON(cmd.OutOrStdout())
	}
	if err != nil {
		return err
	}
	logSize := int64(0)
	if fi, err := os.Stat(cfg.DecisionLog); err == nil {
		logSize = fi.Size()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "simulated %d days in %.1f s; wrote %s, %s, %s and %s (%d MiB) to %s\n",
		rep.Days, time.Since(start).Seconds(), simReport, simChart, simLabels, simDecisions, logSize>>20, out)
	return nil
}
