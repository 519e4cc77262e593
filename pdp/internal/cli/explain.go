package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
)

// explainCmd explains the decision the sidecar would make for a decide
// request, changing nothing.
func explainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain REQUEST.json",
		Short: "Explain the decision the sidecar would make for a decide request",
		Long: `Explain the decision the sidecar would make for a decide request (REQUEST.json,
or - for stdin, as POST /v1/decide takes it): the decision, each rule that
fired with the input values that made it fire (and the helper rules and
data it read), each scoring plugin's score with the features it was sent,
and, with --json, the policy input as built. Nothing is decided or
changed: velocity is read as if this request were counted, without
counting it; no obligation, challenge or state change. The rules are found
by OPA's evaluator on the policy as written, the answer the faster
evaluators are held to.

The configuration is serve's (--config, PDP_* variables, flags): the same
policies, plugins and state. A state file a running sidecar holds cannot
be opened: use a copy, or ask the sidecar (POST /v1/decide?explain=true
on the loopback). --json prints what that answers.`,
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
			asJSON, _ := cmd.Flags().GetBool("json")
			s, closeAll, err := readOnlyService(cmd.Context(), cfg, body, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeAll()
			x, err := s.svc.Explain(cmd.Context(), body)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				var buf bytes.Buffer
				if err := json.Indent(&buf, server.AppendExplanation(nil, x), "", "  "); err != nil {
					return err
				}
				buf.WriteByte('\n')
				_, err = out.Write(buf.Bytes())
				return err
			}
			_, err = io.WriteString(out, explanationText(x))
			return err
		},
	}
	cmd.Flags().String("config", "", "YAML configuration file [env PDP_CONFIG]")
	cmd.Flags().Bool("json", false, "print the explanation as JSON (as POST /v1/decide?explain=true answers), with the policy input")
	registerSettings(cmd.Flags())
	return cmd
}

// readRequest reads a request body from file, or stdin for "-".
func readRequest(cmd *cobra.Command, file string, limit int) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(io.LimitReader(cmd.InOrStdin(), int64(limit)+1))
	}
	return os.ReadFile(file)
}

// maxTextValue bounds a value printed in the text explanation; --json
// prints it whole.
const maxTextValue = 160

// explanationText renders an explanation for people: the decision, the
// rules that fired with what they read, the plugins. Every value is masked
// as the decision log masks it.
func explanationText(x *decide.Explanation) string {
	var b strings.Builder
	d := x.Decision
	fmt.Fprintf(&b, "decision: %s", d.Outcome)
	if len(d.Reasons) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(d.Reasons, ", "))
	}
	if d.Fallback {
		b.WriteString(" [fallback]")
	}
	b.WriteString("\n")
	if x.Error != "" {
		fmt.Fprintf(&b, "  the policy could not decide: %s\n", x.Error)
	}
	if d.StepUp != nil {
		fmt.Fprintf(&b, "  step-up methods: %s\n", strings.Join(d.StepUp.Methods, ", "))
	}
	if d.Warning != nil {
		fmt.Fprintf(&b, "  warning: %s\n", d.Warning.Code)
	}
	if d.Limit != nil {
		fmt.Fprintf(&b, "  limit: max %v, daily %v %s\n", d.Limit.MaxAmount, d.Limit.DailyAmount, d.Limit.Currency)
	}
	for _, o := range d.Obligations {
		fmt.Fprintf(&b, "  obligation: %s %s (%s)\n", o.Type, o.Kind, o.Reason)
	}
	fmt.Fprintf(&b, "  message: %s\n", d.Message)
	fmt.Fprintf(&b, "  policy revision: %s\n", d.PolicyRevision)
	if len(x.Rules) > 0 {
		b.WriteString("\nrules that fired:\n")
	}
	for _, r := range x.Rules {
		fmt.Fprintf(&b, "  %s  %s %s\n", r.Location, r.Rule, textValue(r.Value))
		for _, rv := range append(append([]policy.RefValue{}, r.Inputs...), r.Refs...) {
			if rv.Undefined {
				fmt.Fprintf(&b, "      %s is undefined\n", rv.Ref)
				continue
			}
			fmt.Fprintf(&b, "      %s = %s\n", rv.Ref, textValue(rv.Value))
		}
	}
	if len(x.Plugins) > 0 {
		b.WriteString("\nscoring plugins:\n")
	}
	for _, p := range x.Plugins {
		switch {
		case p.Unavailable && p.FailClosed:
			fmt.Fprintf(&b, "  %s: did not answer (closed mode: at least a step-up)\n", p.Plugin)
		case p.Unavailable:
			fmt.Fprintf(&b, "  %s: did not answer\n", p.Plugin)
		default:
			fmt.Fprintf(&b, "  %s: score %v", p.Plugin, p.Score)
			if len(p.Reasons) > 0 {
				fmt.Fprintf(&b, " (%s)", strings.Join(p.Reasons, ", "))
			}
			b.WriteString("\n")
		}
		if len(p.Features) > 0 {
			parts := make([]string, len(p.Features))
			for i, f := range p.Features {
				parts[i] = f.Name + "=" + textValue(f.Value)
			}
			fmt.Fprintf(&b, "      features: %s\n", strings.Join(parts, " "))
		}
	}
	return b.String()
}

// textValue is v as compact JSON, masked, shortened past maxTextValue.
func textValue(v any) string {
	j, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	s := string(decisionlog.MaskJSON(nil, j))
	if len(s) > maxTextValue {
		s = strings.ToValidUTF8(s[:maxTextValue], "") + "… (--json prints it whole)"
	}
	return s
}
