package admin

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTokens(t *testing.T) {
	toks, err := parseTokens([]byte("# operators\n0123456789abcdef0123 write alice\n\nfedcba9876543210fedc read\n"))
	if err != nil || len(toks) != 2 || toks[0].role != RoleWrite || toks[0].name != "alice" || toks[1].role != RoleRead {
		t.Fatalf("%+v %v", toks, err)
	}
	for name, bad := range map[string]string{
		"empty": "", "comments only": "# x\n", "short": "short write\n", "bad role": "0123456789abcdef0123 admin\n",
	} {
		if _, err := parseTokens([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTokensRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(path, []byte("old-token-0123456789 write\n"), 0o600)
	tk, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	req := func(token string) bool {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		_, _, ok := tk.check(r)
		return ok
	}
	if !req("old-token-0123456789") || req("new-token-0123456789") || req("") {
		t.Fatal("initial tokens")
	}
	time.Sleep(10 * time.Millisecond) // a different modification time
	os.WriteFile(path, []byte("new-token-0123456789 read\n"), 0o600)
	if req("old-token-0123456789") || !req("new-token-0123456789") {
		t.Fatal("rotation not picked up")
	}
	os.WriteFile(path, []byte("broken\n"), 0o600)
	if !req("new-token-0123456789") {
		t.Fatal("a broken file dropped the last good tokens")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic "+strings.Repeat("x", 20))
	if _, _, ok := tk.check(r); ok {
		t.Fatal("basic auth accepted")
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123 write alice\n"))
	f.Add([]byte("# c\n\n x y z w\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		toks, err := parseTokens(b)
		if err == nil && len(toks) == 0 {
			t.Fatal("no token and no error")
		}
	})
}
