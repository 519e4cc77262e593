package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeTokenFileFailsClosed: on a live sidecar, emptying the operator
// token file revokes every token at once (401), /health/ready stays 200
// but lists it as degraded, the metrics show it, one error line is
// logged; writing a valid file back restores the API without a restart.
func TestServeTokenFileFailsClosed(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "policies"), 0o700)
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "policies", "riskpdp"))
	s := startSOP(t, dir)
	tokens := filepath.Join(dir, "tokens")
	const get = "/admin/v1/accounts/u-1"
	if code, m := s.op("GET", get, opToken, ""); code != 200 {
		t.Fatalf("valid token: %d %v", code, m)
	}

	if err := os.WriteFile(tokens, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code, _ := s.op("GET", get, opToken, ""); code != 401 {
			t.Fatalf("emptied token file: %d, want 401", code)
		}
	}
	code, ready := s.get("/health/ready")
	if code != 200 || !strings.Contains(ready, `"degraded":[`) || !strings.Contains(ready, "operator API: every token refused") {
		t.Errorf("ready while the token file is empty: %d %s", code, ready)
	}
	_, metrics := s.get("/metrics")
	for _, want := range []string{"pdp_admin_token_file_valid 0", "pdp_admin_tokens_loaded 0", "pdp_admin_token_file_errors_total 1"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if n := strings.Count(s.logs.String(), "operator token file invalid"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, s.logs)
	}

	if err := os.WriteFile(tokens, []byte(opToken+" write alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, m := s.op("GET", get, opToken, ""); code != 200 {
		t.Fatalf("valid file back: %d %v", code, m)
	}
	if _, ready := s.get("/health/ready"); strings.Contains(ready, "degraded") {
		t.Errorf("still degraded after recovery: %s", ready)
	}
	if _, metrics := s.get("/metrics"); !strings.Contains(metrics, "pdp_admin_token_file_valid 1\n") {
		t.Error("pdp_admin_token_file_valid not back to 1")
	}
}

// TestServeRefusesInvalidTokenFileAtStart: a token file that is invalid
// when pdp serve starts stops the start (exit status 1), never an operator
// API without tokens.
func TestServeRefusesInvalidTokenFileAtStart(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "", "partly invalid": opToken + " write\nshort\n"} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(path, []byte(content), 0o600)
		var logs bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := Run(ctx, []string{"serve", "--addr", freeAddr(t), "--admin-addr", freeAddr(t), "--admin-token-file", path,
			"--state", filepath.Join(dir, name+".db")}, io.Discard, &logs)
		cancel()
		if code == 0 || !strings.Contains(logs.String(), "admin token file") {
			t.Errorf("%s: exit %d:\n%s", name, code, logs.String())
		}
	}
}
