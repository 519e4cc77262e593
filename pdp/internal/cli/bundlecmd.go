package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/riskpdp/riskpdp/pdp/internal/bundle"
)

// bundleCmd is `pdp bundle build`: a policy directory (and plugins) into a
// signed OPA bundle, for the bundle service.
func bundleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Make policy bundles for a bundle service"}
	var o struct{ policies, plugins, revision, key, alg, keyID, out string }
	build := &cobra.Command{
		Use:   "build",
		Short: "Build a policy directory (and a plugin directory) into a signed bundle",
		Long: `Build a policy directory (and, optionally, a plugin directory) into an
OPA bundle (gzip tarball: .manifest with the revision, .signatures.json when
a signing key is given, modules and data at their paths, plugins under
plugins/). Sidecars started with --bundle-url and the matching --bundle-key
load it. Unlike 'opa build', it keeps plugin modules.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bo := bundle.BuildOptions{Policies: os.DirFS(o.policies), Revision: o.revision, Algorithm: o.alg, KeyID: o.keyID}
			if o.plugins != "" {
				bo.Plugins = os.DirFS(o.plugins)
			}
			if o.key != "" {
				k, err := os.ReadFile(o.key)
				if err != nil {
					return fmt.Errorf("--signing-key: %w", err)
				}
				bo.SigningKey = k
			}
			var buf bytes.Buffer
			rev, err := bundle.Build(&buf, bo)
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(o.out), ".bundle*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			if _, err := tmp.Write(buf.Bytes()); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), o.out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: revision %s, %d bytes, signed %v\n", o.out, rev, buf.Len(), o.key != "")
			return nil
		},
	}
	f := build.Flags()
	f.StringVar(&o.policies, "policies", "policies", "policy directory")
	f.StringVar(&o.plugins, "plugins", "", "plugin directory (NAME.yaml next to NAME.wasm); default none")
	f.StringVar(&o.revision, "revision", "", "manifest revision (default: sha256: and a hash of the files)")
	f.StringVar(&o.key, "signing-key", "", "PEM private key (or HS* secret) to sign with; default: unsigned")
	f.StringVar(&o.alg, "signing-alg", "RS256", "signature algorithm (RS256, PS256, ES256, HS256, ...)")
	f.StringVar(&o.keyID, "key-id", "default", "key id written into the signature")
	f.StringVarP(&o.out, "output", "o", "bundle.tar.gz", "output file")
	cmd.AddCommand(build)
	return cmd
}
