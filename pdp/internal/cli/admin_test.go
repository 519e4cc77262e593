package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// adminSidecar is a running sidecar with the operator API and a token
// file of three operators: alice and carol write, bob reads.
type adminSidecar struct {
	*sidecar
	flags []string // --admin-addr, --admin-token-file
}

func startAdminSidecar(t *testing.T, adminAddr string) *adminSidecar {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# operators\n"+opToken+" write alice\nop-read-token-0123456789 read bob\n"+
		"op3-write-token-0123456789 write carol\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--admin-addr", adminAddr, "--admin-token-file", tokens}
	return &adminSidecar{sidecar: startSidecar(t, append([]string{"--state", filepath.Join(dir, "state.db")}, flags...)...), flags: flags}
}

// admin runs `pdp admin args...` against the sidecar and returns the exit
// status, stdout and stderr.
func (s *adminSidecar) admin(args ...string) (int, string, string) {
	s.t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append(append([]string{"admin"}, args...), s.flags...), &out, &errb)
	return code, out.String(), errb.String()
}

func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}

// Freeze, release (202: it waits for a second operator, four eyes), approve
// with another operator's token; the account is released.
func TestAdminCLIFreezeRelease(t *testing.T) {
	s := startAdminSidecar(t, freeAddr(t))
	code, out, errs := s.admin("freeze", "u-cli", "--kind", "review", "--as", "alice", "--reason", "chargeback dispute", "--ticket", "RISK-7")
	if code != 0 || jsonOf(t, out)["frozen"] != true {
		t.Fatalf("freeze: %d %s %s", code, out, errs)
	}
	code, out, errs = s.admin("release", "u-cli", "--as", "alice", "--reason", "KYC passed", "--ticket", "RISK-7")
	if code != 0 {
		t.Fatalf("release: %d %s %s", code, out, errs)
	}
	// 202: four eyes (no verification since the freeze). The requester
	// may not approve it; carol may.
	acct := jsonOf(t, out)
	id := pendingApproval(acct)
	if id == "" || acct["frozen"] != true || !strings.Contains(errs, "pdp admin approve u-cli "+id) {
		t.Fatalf("release without a second operator, or without the hint: %s %q", out, errs)
	}
	if code, _, errs := s.admin("approve", "u-cli", id, "--as", "alice", "--reason", "looks fine", "--ticket", "RISK-7"); code != 1 || !strings.Contains(errs, "forbidden") {
		t.Errorf("the requester approved: %d %s", code, errs)
	}
	code, out, errs = s.admin("approve", "u-cli", id, "--as", "carol", "--reason", "second look", "--ticket", "RISK-7")
	if code != 0 {
		t.Fatalf("approve: %d %s %s", code, out, errs)
	}
	acct = jsonOf(t, out)
	if acct["frozen"] != false {
		t.Fatalf("not released: %v", acct)
	}
	code, out, _ = s.admin("account", "u-cli", "--as", "bob", "--quiet")
	if code != 0 || strings.TrimSpace(out) != "u-cli: not frozen" {
		t.Fatalf("account --quiet: %d %q", code, out)
	}
	// The journal through the CLI: the operator defaulted to the token's
	// name.
	code, out, _ = s.admin("journal", "--uid", "u-cli", "--as", "bob")
	recs := jsonOf(t, out)["records"].([]any)
	if code != 0 || len(recs) < 2 || recs[0].(map[string]any)["actor"].(map[string]any)["operator"] != "alice" {
		t.Fatalf("journal: %d %s", code, out)
	}
}

// A change the API refuses: its error on stderr, exit status 1; a read
// token on a write: 1; usage errors and token choice: 2.
func TestAdminCLIErrors(t *testing.T) {
	s := startAdminSidecar(t, freeAddr(t))
	code, out, errs := s.admin("freeze", "u-x", "--kind", "forever", "--as", "alice", "--reason", "x", "--ticket", "RISK-1")
	if code != 1 || out != "" || !strings.Contains(errs, "400 invalid_value (field kind): must be temporary, review or permanent") {
		t.Fatalf("refused freeze: %d %q %q", code, out, errs)
	}
	code, _, errs = s.admin("freeze", "u-x", "--as", "alice", "--ticket", "RISK-1")
	if code != 1 || !strings.Contains(errs, "missing_field (field reason)") {
		t.Fatalf("no reason: %d %q", code, errs)
	}
	code, _, errs = s.admin("list", "put", "block", "device", "d-1", "--as", "bob", "--reason", "x")
	if code != 1 || !strings.Contains(errs, "403 forbidden") {
		t.Fatalf("read token: %d %q", code, errs)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"freeze", "u-x", "--reason", "x"}, "choose one with --as NAME"},
		{[]string{"freeze", "u-x", "--as", "dave", "--reason", "x"}, `no token named "dave"`},
		{[]string{"freeze", "--as", "alice"}, "takes 1 argument"},
		{[]string{"list", "put", "block", "ip", "--as", "alice"}, "want list get LIST KIND"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"journal", "--nope"}, "unknown flag"},
	} {
		code, _, errs := s.admin(tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: %d %q", tt.args, code, errs)
		}
	}
}

// Lists through the CLI: an IP range's slash travels escaped; an import
// of a CSV file prints the API's report.
func TestAdminCLIListsAndImport(t *testing.T) {
	s := startAdminSidecar(t, freeAddr(t))
	code, out, errs := s.admin("list", "put", "block", "ip", "::ffff:10.1.0.0/112", "--ttl", "72h", "--as", "alice", "--reason", "abuse", "--ticket", "RISK-2")
	if code != 0 || jsonOf(t, out)["value"] != "10.1.0.0/16" {
		t.Fatalf("list put: %d %s %s", code, out, errs)
	}
	csv := filepath.Join(t.TempDir(), "entries.csv")
	os.WriteFile(csv, []byte("list,kind,value,ttl,reason\nblock,device,d-farm-1,72h,emulator farm\nblock,card_bin,4111111111111111,,oops\n"), 0o600)
	code, out, errs = s.admin("import", csv, "--as", "alice", "--reason", "weekly sweep", "--ticket", "RISK-9")
	rep := jsonOf(t, out)
	if code != 0 || rep["imported"] != 1.0 || rep["refused"] != 1.0 || !strings.Contains(errs, "1 line(s) refused") {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	if strings.Contains(out, "4111111111111111") {
		t.Fatalf("the report repeats the card number: %s", out)
	}
	code, out, _ = s.admin("import", csv, "--dry-run", "--quiet", "--as", "alice", "--reason", "weekly sweep", "--ticket", "RISK-9")
	if code != 0 || strings.TrimSpace(out) != "dry run: 1 valid, 1 refused" {
		t.Fatalf("import --dry-run --quiet: %d %q", code, out)
	}
	code, out, _ = s.admin("list", "get", "block", "device", "--as", "bob")
	if code != 0 || len(jsonOf(t, out)["entries"].([]any)) != 1 {
		t.Fatalf("list get: %d %s", code, out)
	}
	code, out, errs = s.admin("list", "delete", "block", "ip", "10.1.0.0/16", "--as", "alice", "--reason", "done", "--ticket", "RISK-2")
	if code != 0 {
		t.Fatalf("list delete: %d %s %s", code, out, errs)
	}
}

// The operator API on a Unix socket, the token file with one token (no
// --as), the address from the environment.
func TestAdminCLIUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte(opToken+"\n"), 0o600)
	startSidecar(t, "--admin-addr", "unix:"+sock, "--admin-token-file", tokens)
	t.Setenv("PDP_ADMIN_ADDR", "unix:"+sock)
	t.Setenv("PDP_ADMIN_TOKEN_FILE", tokens)
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"admin", "freeze", "u-sock", "--kind", "temporary", "--duration", "10m", "--reason", "test", "--ticket", "RISK-3", "--quiet"}, &out, &errb)
	if code != 0 || strings.TrimSpace(out.String()) != "u-sock: frozen" {
		t.Fatalf("freeze over a socket: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	Run(context.Background(), []string{"admin", "journal", "--uid", "u-sock"}, &out, &errb)
	if rec := jsonOf(t, out.String())["records"].([]any)[0].(map[string]any); rec["actor"].(map[string]any)["operator"] != "token-1" {
		t.Fatalf("the operator is not the token's name: %v", rec)
	}
}
