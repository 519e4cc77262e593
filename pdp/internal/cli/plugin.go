package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
)

func pluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Try and time WASM scoring plugins",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "test <module.wasm> <features.json>",
		Short: "Score one feature record with a plugin and print the score and reasons",
		Long: `Score one feature record with a plugin (its manifest NAME.yaml sits next to
NAME.wasm) and print the score and reasons. features.json is a flat object
of feature names to values, e.g.
  {"amount": 4999, "stage": "payment", "category_code": "digital", "device_new": true}
("-" reads it from standard input).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var features []byte
			var err error
			if args[1] == "-" {
				features, err = readAll(cmd.InOrStdin())
			} else {
				features, err = os.ReadFile(args[1])
			}
			if err != nil {
				return fmt.Errorf("read features: %w", err)
			}
			return plugin.TestModule(cmd.Context(), args[0], features, cmd.OutOrStdout())
		},
	})
	bench := &cobra.Command{
		Use:   "bench <module.wasm>",
		Short: "Time a plugin in isolation (calls through the host, marshaling included)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, _ := cmd.Flags().GetInt("n")
			return plugin.BenchModule(cmd.Context(), args[0], n, cmd.OutOrStdout())
		},
	}
	bench.Flags().IntP("n", "n", 100000, "number of calls")
	cmd.AddCommand(bench)
	return cmd
}
