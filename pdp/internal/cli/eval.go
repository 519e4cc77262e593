package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/spf13/cobra"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// evalCmd prints the policy input the sidecar builds for a decide request:
// what `opa eval -i` and an `opa test` fixture need to answer as the
// sidecar does.
func evalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval REQUEST.json",
		Short: "Print the policy input the sidecar builds for a decide request",
		Long: `Print the policy input the sidecar builds for a decide request (REQUEST.json,
or - for stdin, as POST /v1/decide takes it): the request as decoded, the
derived facts (input.derived) and, with the configuration's components on,
the risk state (--state), velocity and plugin scores, exactly as a
decision would see them, changing nothing (velocity as if this request were
counted, without counting it). For opa eval -i and opa test fixtures:

  pdp eval request.json > input.json
  opa eval -d policies -i input.json data.riskpdp.step_up

The configuration is serve's (--config, PDP_* variables, flags): the same
policies, plugins and state. A state file a running sidecar holds cannot
be opened: use a copy. Bad input is refused as /v1/decide refuses it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			body, err := readRequest(cmd, args[0], cfg.Limits.MaxBodyBytes)
			if err != nil {
				return err
			}
			b, err := policyInput(cmd.Context(), cfg, body, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().String("config", "", "YAML configuration file [env PDP_CONFIG]")
	registerSettings(cmd.Flags())
	return cmd
}

// policyInput builds the components a decision needs (no listener, no
// decision log) and returns the policy input of body as indented JSON.
func policyInput(ctx context.Context, cfg config.Config, body []byte, logw io.Writer) ([]byte, error) {
	s, closeAll, err := readOnlyService(ctx, cfg, body, logw)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	in, err := s.svc.PolicyInput(body)
	if err != nil {
		return nil, err
	}
	v, err := ast.JSON(in.Term().Value)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// readOnlyService builds the components a decision needs with serve's
// configuration, without a listener or a decision log, for a request of
// body's size (`pdp eval`, `pdp explain`). closeAll closes them.
func readOnlyService(ctx context.Context, cfg config.Config, body []byte, logw io.Writer) (_ *components, closeAll func(), _ error) {
	if len(body) > cfg.Limits.MaxBodyBytes {
		return nil, nil, fmt.Errorf("request: larger than limits.max_body_bytes (%d)", cfg.Limits.MaxBodyBytes)
	}
	s := &components{cfg: cfg, log: newLogger(cfg, logw), m: metrics.New(),
		limits: request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}}
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	for _, step := range []func(context.Context) (func(), error){s.withEngine, s.withVelocity, s.withPlugins, s.withBundle, s.withState, s.withService} {
		closer, err := step(ctx)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		if closer != nil {
			closers = append(closers, closer)
		}
	}
	if s.bundles != nil && !s.eng.Ready() {
		closeAll()
		return nil, nil, errors.New("the bundle's policies are not loaded")
	}
	return s, closeAll, nil
}
