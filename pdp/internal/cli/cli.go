// Package cli implements the pdp command line: `pdp serve`, `pdp replay`, `pdp simulate`, `pdp audit`, `pdp admin`,
// `pdp version` and the tools that come with the sidecar. Run is the whole
// program, so tests drive it like main does.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Run executes the command line args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "pdp",
		Short:         "Payment-risk policy decision point: allow, step_up or deny in microseconds",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(serveCmd(), evalCmd(), explainCmd(), versionCmd(), pluginCmd(), replayCmd(), bundleCmd(), simulateCmd(), auditCmd(), adminCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			return int(ec)
		}
		fmt.Fprintln(stderr, "pdp:", err)
		return 1
	}
	return 0
}

// exitCode is an error that carries a specific exit status.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 1<<20)) }
