package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// auditCmd is `pdp audit`: the audit journal's hash chain verified, and
// its records exported for long-term storage.
func auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify the audit journal's hash chain, export its records",
		Long: `Verify the audit journal's hash chain, export its records.

Both read the risk state the way pdp serve finds it: the state file
(--state, state.path) or, with redis.addrs, Redis. A state file is locked
by the sidecar that has it open: run them on a stopped sidecar's file or
on a copy taken while it was stopped (they wait --lock-timeout, then say
so). On Redis they run beside the sidecars.`,
	}
	cmd.AddCommand(auditVerifyCmd(), auditExportCmd())
	return cmd
}

func auditFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file, as pdp serve's [env PDP_CONFIG]")
	fs.Duration("lock-timeout", 5*time.Second, "how long to wait for the state file's lock")
	registerSettings(fs)
}

// openAuditBackend opens the backend the configuration names, read-only
// for a state file.
func openAuditBackend(cmd *cobra.Command) (state.Backend, error) {
	cfg, err := loadConfig(cmd.Flags())
	if err != nil {
		return nil, err
	}
	if cfg.Redis.On() {
		be, err := openRedis(cfg, metrics.New(), slog.New(slog.DiscardHandler))
		if err != nil {
			return nil, err
		}
		return be, nil
	}
	wait, _ := cmd.Flags().GetDuration("lock-timeout")
	return state.OpenBoltReadOnly(cfg.State.Path, wait)
}

func auditVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Walk the audit journal's hash chain and report the first broken link",
		Long: `Walk the audit journal's hash chain from its head back to its first record
(or to the checkpoint left by pruning past audit.retention), checking each
kept record's link, then check that every kept record is in the chain.

It prints the records checked and the head's seq and link (keep the link
elsewhere: a chain rewritten whole is caught only against it), and, when
the chain does not verify, the first broken link by seq, with exit
status 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, err := openAuditBackend(cmd)
			if err != nil {
				return err
			}
			defer be.Close()
			r, err := state.VerifyChain(cmd.Context(), be)
			if err != nil {
				return err
			}
			printChainReport(cmd.OutOrStdout(), r)
			if !r.OK() {
				return exitCode(1)
			}
			return nil
		},
	}
	auditFlags(cmd.Flags())
	return cmd
}

func printChainReport(w io.Writer, r *state.ChainReport) {
	fmt.Fprintf(w, "records   %d in the journal, %d chained and checked\n", r.Records, r.Checked)
	if r.Head != 0 {
		fmt.Fprintf(w, "head      seq %d link %s\n", r.Head, r.HeadLink)
		fmt.Fprintf(w, "start     seq %d\n", r.Start)
	} else {
		fmt.Fprintf(w, "head      none (no record chained yet)\n")
	}
	if r.Base != 0 {
		fmt.Fprintf(w, "pruned    through seq %d (past audit.retention; the chain starts from its link)\n", r.Base)
	}
	if r.Unchained > 0 {
		fmt.Fprintf(w, "unchained %d records from before the chain started\n", r.Unchained)
	}
	if r.Newer > 0 {
		fmt.Fprintf(w, "newer     %d records chained during the walk (not checked)\n", r.Newer)
	}
	if r.OK() {
		fmt.Fprintln(w, "verified")
		return
	}
	fmt.Fprintf(w, "BROKEN    first at seq %d: %s\n", r.Broken[0].Seq, r.Broken[0].Problem)
	for _, b := range r.Broken[1:] {
		fmt.Fprintf(w, "          %s\n", b)
	}
}

// exportLine is one record of `pdp audit export`, in the operator API's
// style: snake_case keys, RFC 3339 times, detail as JSON when it is.
type exportLine struct {
	Seq     uint64          `json:"seq"`
	At      string          `json:"at,omitempty"`
	Actor   *exportActor    `json:"actor,omitempty"`
	Action  string          `json:"action"`
	UID     string          `json:"uid,omitempty"`
	Target  string          `json:"target,omitempty"`
	Detail  json.RawMessage `json:"detail,omitempty"`
	Link    string          `json:"link,omitempty"`
	PrevSeq *uint64         `json:"prev_seq,omitempty"`
	Record  string          `json:"record"`
}

type exportActor struct {
	Operator string `json:"operator,omitempty"`
	Ticket   string `json:"ticket,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func exportLineOf(e *state.ExportRecord) exportLine {
	l := exportLine{Seq: e.Seq, Action: e.Action, UID: e.UID, Target: e.Target, Record: string(e.Stored)}
	if !e.At.IsZero() {
		l.At = e.At.UTC().Format(time.RFC3339Nano)
	}
	if e.Actor.Operator != "" || e.Actor.Ticket != "" || e.Actor.Reason != "" {
		l.Actor = &exportActor{e.Actor.Operator, e.Actor.Ticket, e.Actor.Reason}
	}
	if e.Detail != "" {
		if json.Valid([]byte(e.Detail)) {
			l.Detail = json.RawMessage(e.Detail)
		} else {
			l.Detail, _ = json.Marshal(e.Detail)
		}
	}
	if e.Link != nil {
		prev := e.PrevSeq
		l.Link, l.PrevSeq = e.Link.String(), &prev
	}
	return l
}

func auditExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the audit journal's records as JSON lines, with their chain links",
		Long: `Write the audit journal's records, in sequence order, as JSON lines: seq,
at, actor, action, uid, target, detail (JSON), and for a chained record its
link and prev_seq (the record chained before it); record is the stored
bytes the link covers (link = SHA-256(link of prev_seq || seq as 8 bytes
big-endian || record)). --since and --until (RFC 3339) select by time.
The last link exported, printed on stderr with the count, anchors the
chain outside the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var f state.JournalFilter
			for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
				v, _ := cmd.Flags().GetString(name)
				if v == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					return fmt.Errorf("--%s: %w", name, err)
				}
				*dst = t
			}
			be, err := openAuditBackend(cmd)
			if err != nil {
				return err
			}
			defer be.Close()
			out := cmd.OutOrStdout()
			path, _ := cmd.Flags().GetString("out")
			var file *os.File
			if path != "" {
				if file, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
					return err
				}
				out = file
			}
			w := bufio.NewWriterSize(out, 64<<10)
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			n := 0
			var last *state.ExportRecord
			err = state.ExportJournal(cmd.Context(), be, f, func(e *state.ExportRecord) error {
				n++
				if e.Link != nil {
					c := *e
					last = &c
				}
				return enc.Encode(exportLineOf(e))
			})
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if file != nil {
				if serr := file.Sync(); err == nil {
					err = serr
				}
				if cerr := file.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("exported %d records", n)
			if last != nil {
				msg += fmt.Sprintf("; last chained: seq %d link %s", last.Seq, last.Link)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), msg)
			return nil
		},
	}
	cmd.Flags().String("since", "", "export records at or after this time (RFC 3339)")
	cmd.Flags().String("until", "", "export records before this time (RFC 3339)")
	cmd.Flags().String("out", "", "write to this new file (default stdout)")
	auditFlags(cmd.Flags())
	return cmd
}
