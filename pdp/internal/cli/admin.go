package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
)

// `pdp admin`: the operator API (pdp/internal/admin) for scripts. Each
// subcommand shapes one request to the running sidecar's operator API and
// prints the answer; the API does every check. The address and the token
// file come from the configuration serve reads (admin.addr,
// admin.token_file; --admin-addr, --admin-token-file; PDP_ADMIN_ADDR,
// PDP_ADMIN_TOKEN_FILE), the token from that file by its name (--as).
//
// Exit status: 0 when the API answered 2xx, 1 when it answered an error
// (its code, field and message on stderr) or could not be reached, 2 on a
// usage error.

const adminUsageTemplate = `Synopsis:
  pdp admin COMMAND [ARGS] [flags]

Commands:
  account UID                              an account's full state
  freeze UID --kind K [--duration D] [--functions S,...]
                                           freeze (temporary, review, permanent; with functions a grey freeze)
  release UID [--probation D]              lift the freezes in force (202 when a second operator must approve)
  approve UID ID | reject UID ID           decide a release waiting for a second operator
  limit UID --daily N|--max N --currency C [--duration D]  |  limit UID --clear
  list get|put|delete LIST KIND [VALUE] [--ttl D] [--after V --limit N]
  import FILE.csv|- [--dry-run]            list entries from CSV: list,kind,value,ttl,reason
  case UID [--close [--flags K,...]]       an account's case trail; --close closes its flags
  note UID TEXT                            add an operator's note
  claim UID [--to NAME | --unassign]       work the account yourself, or assign it
  appeal UID ID --status granted|rejected --answer TEXT
  queue [--kind K --flag F --stage S --min-age D --assignee NAME --mine --after C --limit N]
  journal [--uid U --from-seq N --to-seq N --since T --until T --limit N]

Every change carries --reason and --ticket (both required by the API)
and --operator (default: the token's name).
`

// adminCmd is `pdp admin`.
func adminCmd() *cobra.Command {
	o := &adminOpts{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Call the running sidecar's operator API (freeze, release, lists, cases, queue, journal)",
		Long: `Call the running sidecar's operator API: one request per command, the
answer printed as the API gave it (JSON; --quiet: one short line).

The address and token file are serve's: admin.addr / --admin-addr /
PDP_ADMIN_ADDR (HOST:PORT or unix:/path), admin.token_file /
--admin-token-file / PDP_ADMIN_TOKEN_FILE, from --config or PDP_CONFIG too.
--as NAME (PDP_ADMIN_AS) picks the token by its name (the file's third
field); a file with one token needs none.

Exit status: 0 on a 2xx answer; 1 on an error answer (its code, field and
message on stderr) or when the API cannot be reached; 2 on a usage error.

` + adminUsageTemplate,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(cmd, "a command is required")
			}
			return usageErr(cmd, "unknown command %q", args[0])
		},
	}
	pf := cmd.PersistentFlags()
	pf.String("config", "", "YAML configuration file, as serve's [env PDP_CONFIG]")
	def := config.Default()
	pf.String("admin-addr", def.Admin.Addr, "operator API address, HOST:PORT or unix:/path [env PDP_ADMIN_ADDR]")
	pf.String("admin-token-file", def.Admin.TokenFile, "operator token file [env PDP_ADMIN_TOKEN_FILE]")
	pf.StringVar(&o.as, "as", os.Getenv("PDP_ADMIN_AS"), "the token's name in the token file (needed when it has several) [env PDP_ADMIN_AS]")
	pf.BoolVar(&o.quiet, "quiet", false, "print one short line instead of the JSON answer")
	pf.StringVar(&o.operator, "operator", "", "who makes the change (default: the token's name)")
	pf.StringVar(&o.reason, "reason", "", "why the change is made (the API requires it of a change)")
	pf.StringVar(&o.ticket, "ticket", "", "the change's ticket (the API requires it of a change)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(c, "%v", err) })

	cmd.AddCommand(
		o.sub("account UID", "Show an account's full state", 1, nil, func(c *cobra.Command, a []string) error {
			return o.call(c, "GET", "/admin/v1/accounts/"+seg(a[0]), nil, "")
		}),
		o.freezeCmd(), o.releaseCmd(), o.approvalCmd("approve"), o.approvalCmd("reject"),
		o.limitCmd(), o.listCmd(), o.importCmd(), o.caseCmd(),
		o.sub("note UID TEXT", "Add an operator's note to an account", 2, nil, func(c *cobra.Command, a []string) error {
			return o.call(c, "POST", "/admin/v1/accounts/"+seg(a[0])+"/notes", o.change(map[string]any{"text": a[1]}), "")
		}),
		o.claimCmd(), o.appealCmd(), o.queueCmd(), o.journalCmd(),
	)
	return cmd
}

type adminOpts struct {
	as, operator, reason, ticket string
	quiet                        bool
	// name is the chosen token's name (the operator by default), token
	// the token, addr the operator API's address.
	name, token, addr string
}

// usageError is a usage error: exit status 2.
func usageErr(cmd *cobra.Command, format string, args ...any) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "pdp admin: %s\nRun '%s -h' for usage.\n", fmt.Sprintf(format, args...), cmd.CommandPath())
	return exitCode(2)
}

// sub builds a subcommand taking exactly n arguments.
func (o *adminOpts) sub(use, short string, n int, flags func(*pflag.FlagSet), run func(*cobra.Command, []string) error) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != n {
				return usageErr(c, "%s takes %d argument(s), got %d", c.Name(), n, len(args))
			}
			return nil
		},
		RunE: run}
	if flags != nil {
		flags(c.Flags())
	}
	return c
}

// seg escapes a path segment (an IP range's slash too).
func seg(s string) string { return url.PathEscape(s) }

// change is a change's body: operator (default the token's name), reason,
// ticket and the fields given.
func (o *adminOpts) change(fields map[string]any) map[string]any {
	b := map[string]any{"operator": o.operator, "reason": o.reason, "ticket": o.ticket}
	for k, v := range fields {
		b[k] = v
	}
	return b
}

func (o *adminOpts) freezeCmd() *cobra.Command {
	var kind, duration string
	var functions []string
	return o.sub("freeze UID", "Freeze an account", 1, func(f *pflag.FlagSet) {
		f.StringVar(&kind, "kind", "review", "temporary, review or permanent")
		f.StringVar(&duration, "duration", "", "a temporary freeze's duration (\"30m\")")
		f.StringSliceVar(&functions, "functions", nil, "stages to deny (a grey freeze), comma-separated")
	}, func(c *cobra.Command, a []string) error {
		b := map[string]any{"kind": kind}
		if duration != "" {
			b["duration"] = duration
		}
		if len(functions) > 0 {
			b["functions"] = functions
		}
		return o.call(c, "POST", "/admin/v1/accounts/"+seg(a[0])+"/freeze", o.change(b), "")
	})
}

func (o *adminOpts) releaseCmd() *cobra.Command {
	var probation string
	return o.sub("release UID", "Release an account (202 when a second operator must approve)", 1, func(f *pflag.FlagSet) {
		f.StringVar(&probation, "probation", "", "the probation the release starts (\"0s\": none; default the policy's)")
	}, func(c *cobra.Command, a []string) error {
		b := map[string]any{}
		if probation != "" {
			b["probation"] = probation
		}
		return o.call(c, "POST", "/admin/v1/accounts/"+seg(a[0])+"/release", o.change(b), "")
	})
}

func (o *adminOpts) approvalCmd(verb string) *cobra.Command {
	return o.sub(verb+" UID APPROVAL_ID", strings.ToUpper(verb[:1])+verb[1:]+" a release waiting for a second operator", 2, nil,
		func(c *cobra.Command, a []string) error {
			return o.call(c, "POST", "/admin/v1/accounts/"+seg(a[0])+"/approvals/"+seg(a[1])+"/"+verb, o.change(nil), "")
		})
}

func (o *adminOpts) limitCmd() *cobra.Command {
	var daily, max float64
	var currency, duration string
	var clear bool
	return o.sub("limit UID", "Set (or --clear) an account's short-term limit", 1, func(f *pflag.FlagSet) {
		f.Float64Var(&daily, "daily", 0, "daily amount")
		f.Float64Var(&max, "max", 0, "largest single amount")
		f.StringVar(&currency, "currency", "", "ISO 4217 currency (\"CNY\")")
		f.StringVar(&duration, "duration", "", "how long the limit holds (default 24h)")
		f.BoolVar(&clear, "clear", false, "end every limit in force")
	}, func(c *cobra.Command, a []string) error {
		path := "/admin/v1/accounts/" + seg(a[0]) + "/limit"
		if clear {
			return o.call(c, "DELETE", path, o.change(nil), "")
		}
		b := map[string]any{"daily_amount": daily, "max_amount": max, "currency": currency}
		if duration != "" {
			b["duration"] = duration
		}
		return o.call(c, "PUT", path, o.change(b), "")
	})
}

func (o *adminOpts) listCmd() *cobra.Command {
	var ttl, after string
	var limit int
	c := &cobra.Command{Use: "list get|put|delete LIST KIND [VALUE]", Short: "Read or change a block, allow or vip list",
		Args: func(c *cobra.Command, a []string) error {
			switch {
			case len(a) == 3 && a[0] == "get", len(a) == 4 && (a[0] == "put" || a[0] == "delete"):
				return nil
			}
			return usageErr(c, "want list get LIST KIND, or list put|delete LIST KIND VALUE")
		},
		RunE: func(c *cobra.Command, a []string) error {
			path := "/admin/v1/lists/" + seg(a[1]) + "/" + seg(a[2])
			switch a[0] {
			case "get":
				q := url.Values{}
				if after != "" {
					q.Set("after", after)
				}
				if limit != 0 {
					q.Set("limit", strconv.Itoa(limit))
				}
				return o.call(c, "GET", withQuery(path, q), nil, "")
			case "put":
				b := map[string]any{}
				if ttl != "" {
					b["ttl"] = ttl
				}
				return o.call(c, "PUT", path+"/"+seg(a[3]), o.change(b), "")
			default:
				return o.call(c, "DELETE", path+"/"+seg(a[3]), o.change(nil), "")
			}
		}}
	c.Flags().StringVar(&ttl, "ttl", "", "put: the entry ends after this long (\"72h\")")
	c.Flags().StringVar(&after, "after", "", "get: the page after this value")
	c.Flags().IntVar(&limit, "limit", 0, "get: entries per page (API default 100)")
	return c
}

func (o *adminOpts) importCmd() *cobra.Command {
	var dry bool
	return o.sub("import FILE.csv|-", "Import list entries from CSV (list,kind,value,ttl,reason), one report line per line", 1,
		func(f *pflag.FlagSet) { f.BoolVar(&dry, "dry-run", false, "check every line, write nothing") },
		func(c *cobra.Command, a []string) error {
			var body []byte
			var err error
			if a[0] == "-" {
				body, err = io.ReadAll(io.LimitReader(c.InOrStdin(), 16<<20))
			} else {
				body, err = os.ReadFile(a[0])
			}
			if err != nil {
				return usageErr(c, "%v", err)
			}
			if err := o.pickToken(c); err != nil {
				return err
			}
			op := o.operator
			if op == "" {
				op = o.name
			}
			q := url.Values{"operator": {op}, "reason": {o.reason}, "ticket": {o.ticket}}
			if dry {
				q.Set("dry_run", "true")
			}
			return o.call(c, "POST", withQuery("/admin/v1/lists/import", q), body, "text/csv")
		})
}

func (o *adminOpts) caseCmd() *cobra.Command {
	var closeIt bool
	var flags []string
	return o.sub("case UID", "Show an account's case trail, or --close its open flags", 1, func(f *pflag.FlagSet) {
		f.BoolVar(&closeIt, "close", false, "close the account's open flags (all, or --flags)")
		f.StringSliceVar(&flags, "flags", nil, "with --close: the flag kinds to close, comma-separated")
	}, func(c *cobra.Command, a []string) error {
		if !closeIt {
			return o.call(c, "GET", "/admin/v1/cases/"+seg(a[0]), nil, "")
		}
		b := map[string]any{}
		if len(flags) > 0 {
			b["flags"] = flags
		}
		return o.call(c, "POST", "/admin/v1/cases/"+seg(a[0])+"/close", o.change(b), "")
	})
}

func (o *adminOpts) claimCmd() *cobra.Command {
	var to string
	var unassign bool
	return o.sub("claim UID", "Work an account yourself (or --to NAME: assign it, --unassign)", 1, func(f *pflag.FlagSet) {
		f.StringVar(&to, "to", "", "assign the account to this operator (a token's name)")
		f.BoolVar(&unassign, "unassign", false, "leave the account to nobody")
	}, func(c *cobra.Command, a []string) error {
		path := "/admin/v1/accounts/" + seg(a[0])
		switch {
		case unassign && to != "":
			return usageErr(c, "give --to or --unassign, not both")
		case unassign || to != "":
			return o.call(c, "POST", path+"/assign", map[string]any{"assignee": to}, "")
		}
		return o.call(c, "POST", path+"/claim", nil, "")
	})
}

func (o *adminOpts) appealCmd() *cobra.Command {
	var status, answer string
	return o.sub("appeal UID APPEAL_ID", "Answer a user's appeal", 2, func(f *pflag.FlagSet) {
		f.StringVar(&status, "status", "", "granted or rejected")
		f.StringVar(&answer, "answer", "", "what the user is told")
	}, func(c *cobra.Command, a []string) error {
		return o.call(c, "POST", "/admin/v1/accounts/"+seg(a[0])+"/appeals/"+seg(a[1])+"/answer",
			o.change(map[string]any{"status": status, "answer": answer}), "")
	})
}

// queryCmd is a GET whose flags are query parameters (flag name with
// dashes as underscores), sent when set; bools are flags without a value
// (sent as "true").
func (o *adminOpts) queryCmd(use, short, path string, names, bools []string) *cobra.Command {
	vals := make([]string, len(names))
	bvals := make([]bool, len(bools))
	return o.sub(use, short, 0, func(f *pflag.FlagSet) {
		for i, n := range names {
			f.StringVar(&vals[i], n, "", "the API's "+strings.ReplaceAll(n, "-", "_")+" parameter")
		}
		for i, n := range bools {
			f.BoolVar(&bvals[i], n, false, "the API's "+n+"=true")
		}
	}, func(c *cobra.Command, _ []string) error {
		q := url.Values{}
		for i, n := range names {
			if c.Flags().Changed(n) {
				q.Set(strings.ReplaceAll(n, "-", "_"), vals[i])
			}
		}
		for i, n := range bools {
			if bvals[i] {
				q.Set(n, "true")
			}
		}
		return o.call(c, "GET", withQuery(path, q), nil, "")
	})
}

func (o *adminOpts) queueCmd() *cobra.Command {
	return o.queryCmd("queue", "List the open work, longest waiting first", "/admin/v1/queue",
		[]string{"kind", "flag", "stage", "min-age", "assignee", "after", "limit"}, []string{"mine"})
}

func (o *adminOpts) journalCmd() *cobra.Command {
	return o.queryCmd("journal", "Read the audit journal", "/admin/v1/journal",
		[]string{"uid", "from-seq", "to-seq", "since", "until", "limit"}, nil)
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// pickToken reads the token file and chooses the token (--as), once.
func (o *adminOpts) pickToken(c *cobra.Command) error {
	if o.name != "" {
		return nil
	}
	cfg, err := loadConfig(c.Flags())
	if err != nil {
		return usageErr(c, "%v", err)
	}
	if cfg.Admin.TokenFile == "" {
		return usageErr(c, "no token file: give --admin-token-file (or admin.token_file, PDP_ADMIN_TOKEN_FILE)")
	}
	tok, name, err := tokenByName(cfg.Admin.TokenFile, o.as)
	if err != nil {
		return usageErr(c, "%v", err)
	}
	o.name, o.token, o.addr = name, tok, cfg.Admin.Addr
	return nil
}

// tokenByName reads a token file (admin.Tokens' format: "<token>
// [read|write] [name]", name default "token-<line>") and returns the token
// named as, or the only one when as is "".
func tokenByName(path, as string) (token, name string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("token file: %w", err)
	}
	var names []string
	var only string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		nm := fmt.Sprintf("token-%d", n)
		if len(f) > 2 {
			nm = f[2]
		}
		if as != "" && nm == as {
			return f[0], nm, nil
		}
		names = append(names, nm)
		only = f[0]
	}
	switch {
	case as != "":
		return "", "", fmt.Errorf("no token named %q in %s (names: %s)", as, path, strings.Join(names, ", "))
	case len(names) == 1:
		return only, names[0], nil
	case len(names) == 0:
		return "", "", fmt.Errorf("no token in %s", path)
	}
	return "", "", fmt.Errorf("%s has %d tokens (%s): choose one with --as NAME", path, len(names), strings.Join(names, ", "))
}

// call sends one request and prints the answer: the JSON (or, with
// --quiet, one line) on stdout; an error answer's code, field and message
// on stderr (exit status 1). body is JSON-encoded unless it is []byte
// (sent as contentType).
func (o *adminOpts) call(c *cobra.Command, method, path string, body any, contentType string) error {
	if err := o.pickToken(c); err != nil {
		return err
	}
	if m, ok := body.(map[string]any); ok && m["operator"] == "" {
		m["operator"] = o.name
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	client, base := adminClient(o.addr)
	ctx, cancel := context.WithTimeout(c.Context(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return usageErr(c, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "pdp admin: the operator API at %s: %v\n", o.addr, err)
		return exitCode(1)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "pdp admin: reading the answer: %v\n", err)
		return exitCode(1)
	}
	var ans map[string]any
	_ = json.Unmarshal(raw, &ans)
	return o.print(c, resp.StatusCode, raw, ans)
}

// print writes the answer (see call).
func (o *adminOpts) print(c *cobra.Command, status int, raw []byte, ans map[string]any) error {
	out, errw := c.OutOrStdout(), c.ErrOrStderr()
	e, isErr := ans["error"].(map[string]any)
	ok := status >= 200 && status < 300
	// The answer itself: every 2xx, and an error answer that carries more
	// than its error (an import's report of what was written).
	if ok || len(ans) > 1 || (ans == nil && len(raw) > 0) {
		if o.quiet && ok {
			fmt.Fprintln(out, summary(status, ans))
		} else {
			var buf bytes.Buffer
			if json.Indent(&buf, raw, "", "  ") == nil {
				buf.WriteByte('\n')
				_, _ = out.Write(buf.Bytes())
			} else {
				_, _ = out.Write(raw)
			}
		}
	}
	if ok {
		if status == http.StatusAccepted {
			if id := pendingApproval(ans); id != "" {
				fmt.Fprintf(errw, "pdp admin: waits for a second operator: pdp admin approve %v %s --as OTHER --reason ...\n", ans["uid"], id)
			}
		}
		if n, _ := ans["refused"].(float64); n > 0 {
			fmt.Fprintf(errw, "pdp admin: %d line(s) refused (see their errors)\n", int(n))
		}
		return nil
	}
	if isErr {
		msg := fmt.Sprintf("%v", e["code"])
		if f, _ := e["field"].(string); f != "" {
			msg += " (field " + f + ")"
		}
		fmt.Fprintf(errw, "pdp admin: %d %s: %v\n", status, msg, e["message"])
	} else {
		fmt.Fprintf(errw, "pdp admin: %d %s\n", status, http.StatusText(status))
	}
	return exitCode(1)
}

// pendingApproval is the id of the first release waiting for approval in
// an account view.
func pendingApproval(ans map[string]any) string {
	aps, _ := ans["approvals"].([]any)
	for _, a := range aps {
		if m, ok := a.(map[string]any); ok {
			if id, ok := m["id"].(string); ok {
				return id
			}
		}
	}
	return ""
}

// summary is --quiet's line.
func summary(status int, ans map[string]any) string {
	switch {
	case ans == nil:
		return strconv.Itoa(status) + " " + http.StatusText(status)
	case ans["lines"] != nil:
		if ans["dry_run"] == true {
			return fmt.Sprintf("dry run: %v valid, %v refused", num(ans["valid"]), num(ans["refused"]))
		}
		return fmt.Sprintf("%v imported, %v refused", num(ans["imported"]), num(ans["refused"]))
	case ans["uid"] != nil && ans["frozen"] != nil:
		s := fmt.Sprintf("%v: ", ans["uid"])
		switch r, _ := ans["restricted"].([]any); {
		case ans["frozen"] == true:
			s += "frozen"
		case len(r) > 0:
			s += fmt.Sprintf("restricted %v", r)
		default:
			s += "not frozen"
		}
		if id := pendingApproval(ans); id != "" {
			s += ", release " + id + " waits for a second operator"
		}
		return s
	}
	for _, k := range []string{"records", "items", "entries", "trail", "cases"} {
		if l, ok := ans[k].([]any); ok {
			return fmt.Sprintf("%d %s", len(l), k)
		}
	}
	return strconv.Itoa(status) + " " + http.StatusText(status)
}

func num(v any) any {
	if f, ok := v.(float64); ok {
		return int(f)
	}
	return 0
}

// adminClient is an HTTP client for addr (HOST:PORT or unix:/path) and the
// URL base to use with it. A listener on every address (":9192",
// "0.0.0.0:9192") is called on loopback.
func adminClient(addr string) (*http.Client, string) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
		return &http.Client{Transport: tr}, "http://pdp-admin"
	}
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if ip != nil && ip.To4() == nil {
				host = "::1"
			} else {
				host = "127.0.0.1"
			}
		}
		addr = net.JoinHostPort(host, port)
	}
	return &http.Client{}, "http://" + addr
}
