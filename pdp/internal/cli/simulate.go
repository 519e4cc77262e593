package cli

import (
	"encoding/json"
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
	cmd.AddCommand(primeStateCmd())
	return cmd
}

func primeStateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prime-state --state <file> [--block-devices N] [--seed N] [--accounts A] [--now T]",
		Short: "Write a risk state file primed with the simulated population's history, for pdp serve under a load harness",
		Long: `Write a new risk state file for pdp serve --state, holding what a sidecar
that had served the simulated population for months would know (first
sight, known devices, the customer's own bank account, the spending
habit, the VIP list), and --block-devices block-list entries for the
devices "bd-0" … "bd-<N-1>" (operator "bench"). A load harness (bench/)
starts pdp serve on it, then plays the same population's sessions
against it live.

The population is the one of --seed, --accounts and --now (the time its
account ages and history are relative to): the population pdp simulate
runs with the same seed and accounts when --now is its start (the
default); --accounts 0 writes the block list alone. Nothing must exist at --state; the file is complete
when the command succeeds. What was written goes to standard output as
JSON: {"keys", "accounts", "file_bytes", "load_seconds"}.`,
		Example: `  pdp simulate prime-state --state /tmp/state.db --seed 1 --accounts 200000 --now 2026-12-07T06:00:00Z --block-devices 10000`,
		Args:    cobra.NoArgs,
		RunE:    runPrimeState,
	}
	f := cmd.Flags()
	f.String("state", "", "state file to write (must not exist) (required)")
	f.Int("block-devices", 0, "block-list entries for the devices bd-0 … bd-<N-1>")
	f.Uint64("seed", sim.DefaultSeed, "the population's random seed (0 is refused)")
	f.Int("accounts", sim.DefaultAccounts, "simulated customers (0: no population, the block list alone)")
	f.String("now", sim.DefaultStart.Format(time.RFC3339), "the population's time, RFC 3339 (pdp simulate's start)")
	return cmd
}

func runPrimeState(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	path, _ := f.GetString("state")
	blocked, _ := f.GetInt("block-devices")
	seed, _ := f.GetUint64("seed")
	accounts, _ := f.GetInt("accounts")
	nowFlag, _ := f.GetString("now")
	now, err := time.Parse(time.RFC3339Nano, nowFlag)
	switch {
	case path == "":
		return errors.New("--state: required (the state file to write)")
	case blocked < 0:
		return fmt.Errorf("--block-devices: %d is negative", blocked)
	case seed == 0:
		return errors.New("--seed: must not be 0")
	case accounts < 0 || accounts > 1_000_000:
		return fmt.Errorf("--accounts: %d is not between 0 and 1000000", accounts)
	case err != nil:
		return fmt.Errorf("--now: %w", err)
	}
	var pop *sim.Population
	if accounts > 0 {
		// The population bench's sim.NewTraffic(seed, accounts, now)
		// plays, and pdp simulate's.
		pop = sim.NewPopulation(seed, accounts, now)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	info, err := sim.WriteState(ctx, path, blocked, pop)
	if err != nil {
		if ctx.Err() != nil && cmd.Context().Err() == nil {
			return errors.New("interrupted")
		}
		return fmt.Errorf("--state: %w", err)
	}
	return json.NewEncoder(cmd.OutOrStdout()).Encode(info)
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
