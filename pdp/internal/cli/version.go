package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../pdp/internal/cli.Version=v1.2.3";
// otherwise the module version or "dev" is reported.
var Version = ""

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pdp and of the engines it embeds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			info, _ := debug.ReadBuildInfo()
			fmt.Fprintf(w, "pdp %s\n", versionString(info))
			if info == nil {
				return nil
			}
			fmt.Fprintf(w, "go %s\n", info.GoVersion)
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" || s.Key == "vcs.time" {
					fmt.Fprintf(w, "%s %s\n", s.Key, s.Value)
				}
			}
			for _, d := range info.Deps {
				switch d.Path {
				case "github.com/open-policy-agent/opa", "github.com/tetratelabs/wazero",
					"github.com/valyala/fasthttp", "github.com/dgraph-io/ristretto/v2":
					fmt.Fprintf(w, "%s %s\n", d.Path, d.Version)
				}
			}
			return nil
		},
	}
}

func versionString(info *debug.BuildInfo) string {
	switch {
	case Version != "":
		return Version
	case info != nil && info.Main.Version != "" && info.Main.Version != "(devel)":
		return info.Main.Version
	}
	return "dev"
}
