package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/riskpdp/riskpdp/pdp/internal/replay"
)

func replayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay --log <decision log>... --policies <dir>",
		Short: "Backtest a candidate policy set on decision logs: how would outcomes change?",
		Long: `Re-evaluate the decisions recorded in decision logs (pdp serve --decision-log)
against a candidate policy directory, and report how outcomes would change:
the transition matrix allow/step_up/deny, the same per stage, the decisions
carrying each reason before and after, and the changed decisions.

Each log path brings its rotated backups (oldest first; compressed ones
included); more logs may follow as arguments. Damaged lines (a truncated
last line, a corrupt gzip segment, a record of another schema version) are
skipped and counted with their file and line, never fatal. A policy
directory that does not load fails at once.

--labels names a CSV file "txn_id,label" (fraud, chargeback, complaint,
legit) learnt after the fact: the report then gives the catch rate and the
false-positive (friction) rate, live and candidate.

The text report goes to standard output (--format json for the report as
JSON); --html writes a self-contained HTML report with charts; --changed
writes every changed decision as JSON lines. A progress bar is drawn on
standard error when it is a terminal (or with --progress).`,
		Example: `  pdp replay --log /var/log/pdp/decisions.log --policies ./candidate --html report.html
  pdp replay --log a.log --log b.log.gz --policies ./candidate --labels labels.csv --changed changed.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringArray("log", nil, "decision log file (repeatable; its rotated backups are read too)")
	f.String("policies", "", "candidate policy directory, laid out as for pdp serve --policies (required)")
	f.String("package", "riskpdp", "decision package")
	f.String("labels", "", "labels CSV file with the columns txn_id and label (fraud, chargeback, complaint, legit)")
	f.String("html", "", "write the HTML report to this file")
	f.String("changed", "", "write every changed decision to this file, one JSON object a line")
	f.String("format", "text", "report on standard output: text, json or none")
	f.Int("show", 50, "changed decisions listed in the text and HTML reports")
	f.Int("workers", 0, "evaluations in parallel (default: the number of CPUs)")
	f.Duration("eval-timeout", time.Second, "bound on one evaluation")
	f.Bool("progress", false, "draw the progress bar even when standard error is not a terminal")
	f.Bool("explain", false, "explain each changed decision: the candidate's rules that fired, with the input values that made them fire (in --changed, the JSON report and the text report's sample)")
	return cmd
}

func runReplay(cmd *cobra.Command, args []string) error {
	f := cmd.Flags()
	logs, _ := f.GetStringArray("log")
	logs = append(logs, args...)
	policiesDir, _ := f.GetString("policies")
	pkg, _ := f.GetString("package")
	labelsPath, _ := f.GetString("labels")
	htmlPath, _ := f.GetString("html")
	changedPath, _ := f.GetString("changed")
	format, _ := f.GetString("format")
	show, _ := f.GetInt("show")
	workers, _ := f.GetInt("workers")
	evalTimeout, _ := f.GetDuration("eval-timeout")
	progress, _ := f.GetBool("progress")
	explain, _ := f.GetBool("explain")

	switch format {
	case "text", "json", "none":
	default:
		return fmt.Errorf("--format: %q is not text, json or none", format)
	}
	if policiesDir == "" {
		return errors.New("--policies: required (the candidate policy directory)")
	}
	if len(logs) == 0 {
		return errors.New("--log: required (a decision log file)")
	}
	if show < 0 {
		return fmt.Errorf("--show: %d is negative", show)
	}
	if show == 0 {
		show = -1 // replay.Options: none
	}
	opts := replay.Options{Policies: policiesDir, Package: pkg, Logs: logs, Sample: show, Explain: explain,
		Workers: workers, EvalTimeout: evalTimeout}
	if labelsPath != "" {
		l, err := replay.LoadLabels(labelsPath)
		if err != nil {
			return err
		}
		opts.Labels = l
	}
	// Output files are created before the replay starts, so that a wrong
	// path fails before minutes of work, and replaced only on success.
	var outs []*outFile
	defer func() {
		for _, o := range outs {
			o.abort()
		}
	}()
	create := func(path, flag string) (*outFile, error) {
		o, err := createOut(path)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		outs = append(outs, o)
		return o, nil
	}
	var html, changed *outFile
	var err error
	if htmlPath != "" {
		if html, err = create(htmlPath, "html"); err != nil {
			return err
		}
	}
	if changedPath != "" {
		if changed, err = create(changedPath, "changed"); err != nil {
			return err
		}
		opts.Changed = changed.w
	}

	stderr := cmd.ErrOrStderr()
	var bar *progressbar.ProgressBar // set once the logs' size is known
	if progress || isTerminal(stderr) {
		opts.Progress = func(read, total int64) { _ = bar.Set64(min(read, total)) }
	}
	r, err := replay.New(opts)
	if err != nil {
		return err
	}
	defer r.Close()
	if opts.Progress != nil {
		bar = progressbar.NewOptions64(max(r.Size(), 1), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("replay"), progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	}
	// Ctrl-C stops the replay and removes the unfinished outputs.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := r.Run(ctx)
	if bar != nil && err == nil {
		_ = bar.Finish() // before the report
	} else if bar != nil {
		_ = bar.Exit() // where it stopped
	}
	if err != nil {
		if ctx.Err() != nil && cmd.Context().Err() == nil {
			return errors.New("interrupted")
		}
		return err
	}

	if html != nil {
		if err := replay.WriteHTML(html.w, rep); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	for _, o := range outs {
		if err := o.commit(); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	switch format {
	case "text":
		err = replay.WriteText(out, rep, show)
	case "json":
		err = replay.WriteJSON(out, rep)
	}
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// outFile is an output written to a temporary file next to its path and
// renamed into place on success.
type outFile struct {
	path string
	tmp  *os.File
	w    *bufio.Writer
	done bool
}

func createOut(path string) (*outFile, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	return &outFile{path: path, tmp: tmp, w: bufio.NewWriterSize(tmp, 64<<10)}, nil
}

func (o *outFile) commit() error {
	o.done = true
	err := o.w.Flush()
	if cerr := o.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.tmp.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.tmp.Name())
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

func (o *outFile) abort() {
	if !o.done {
		o.tmp.Close()
		os.Remove(o.tmp.Name())
	}
}
