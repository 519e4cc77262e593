package admin

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
)

func TestParseTokens(t *testing.T) {
	toks, err := parseTokens([]byte("# operators\n0123456789abcdef0123 write alice\n\nfedcba9876543210fedc read\n"))
	if err != nil || len(toks) != 2 || toks[0].role != RoleWrite || toks[0].name != "alice" || toks[1].role != RoleRead {
		t.Fatalf("%+v %v", toks, err)
	}
	valid := "0123456789abcdef0123 write alice\n"
	for name, bad := range map[string]string{
		"empty":                     "",
		"whitespace only":           " \n\t\n",
		"comments only":             "# x\n",
		"short":                     "short write\n",
		"bad role":                  "0123456789abcdef0123 admin\n",
		"role in upper case":        "0123456789abcdef0123 WRITE\n",
		"too many fields":           "0123456789abcdef0123 write alice # rotated\n",
		"invalid line after valid":  valid + "broken\n",
		"invalid line before valid": "broken\n" + valid,
		"same token twice":          valid + "0123456789abcdef0123 read bob\n",
		"byte order mark":           "\ufeff" + valid,
		"non-breaking space inside": "0123456789\u00a0abcdef0123 write alice\n",
		"NUL inside":                "0123456789\x00abcdef0123 write alice\n",
		"non-ASCII letter":          "0123456789abcdéf0123 write alice\n",
	} {
		if toks, err := parseTokens([]byte(bad)); err == nil {
			t.Errorf("%s: accepted (%d tokens)", name, len(toks))
		} else if strings.Contains(err.Error(), "0123456789abcdef0123") || strings.Contains(err.Error(), "broken") {
			t.Errorf("%s: the error quotes the file: %v", name, err)
		}
	}
}

// tokenFixture is a token file with a logger that records what is logged.
type tokenFixture struct {
	t    *testing.T
	path string
	tk   *Tokens
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTokenFixture(t *testing.T, content string) *tokenFixture {
	t.Helper()
	f := &tokenFixture{t: t, path: filepath.Join(t.TempDir(), "tokens"), logs: &lockedBuffer{}}
	f.write(content)
	tk, err := LoadTokens(f.path, slog.New(slog.NewTextHandler(f.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.tk = tk
	return f
}

func (f *tokenFixture) write(content string) {
	f.t.Helper()
	if err := os.WriteFile(f.path, []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// authorized reports whether token is accepted.
func (f *tokenFixture) authorized(token string) bool {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	_, _, ok := f.tk.check(r)
	return ok
}

func (f *tokenFixture) count(msg string) int { return strings.Count(f.logs.String(), msg) }

const (
	oldToken = "old-token-0123456789"
	newToken = "new-token-0123456789"
)

func TestTokensRotate(t *testing.T) {
	f := newTokenFixture(t, oldToken+" write\n")
	if !f.authorized(oldToken) || f.authorized(newToken) || f.authorized("") {
		t.Fatal("initial tokens")
	}
	// Rewritten in place, same size: picked up (the file's bytes are
	// compared, not its modification time).
	f.write(newToken + " write\n")
	if f.authorized(oldToken) || !f.authorized(newToken) {
		t.Fatal("rotation not picked up")
	}
	if f.count("operator token file reloaded") != 1 {
		t.Errorf("rotation not logged once:\n%s", f.logs)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic "+strings.Repeat("x", 20))
	if _, _, ok := f.tk.check(r); ok {
		t.Fatal("basic auth accepted")
	}
}

// TestTokenFileFailsClosed: whatever makes the file unusable revokes every
// token (the last good set is not kept), shows in Err, Stats and the
// metrics, is logged once however many requests come, and a valid file
// coming back restores service without a restart.
func TestTokenFileFailsClosed(t *testing.T) {
	valid := oldToken + " write alice\n"
	for _, c := range []struct {
		name   string
		damage func(f *tokenFixture)
		want   string // in Err's message
	}{
		{"emptied", func(f *tokenFixture) { f.write("") }, "no token"},
		{"comments only", func(f *tokenFixture) { f.write("# all revoked\n") }, "no token"},
		{"deleted", func(f *tokenFixture) { os.Remove(f.path) }, "no such file"},
		{"partly invalid", func(f *tokenFixture) { f.write(valid + "short\n") }, "line 2"},
		{"a token repeated", func(f *tokenFixture) { f.write(valid + oldToken + " read\n") }, "line 2"},
		{"a directory in its place", func(f *tokenFixture) { os.Remove(f.path); os.Mkdir(f.path, 0o700) }, "not a regular file"},
		{"over 1 MiB", func(f *tokenFixture) { f.write(valid + "#" + strings.Repeat("x", maxTokenFile)) }, "over"},
		{"unreadable", func(f *tokenFixture) {
			// A dangling symlink: unreadable for root too (chmod is not).
			os.Remove(f.path)
			os.Symlink(filepath.Join(filepath.Dir(f.path), "gone"), f.path)
		}, "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newTokenFixture(t, valid)
			m := metrics.New()
			m.Register(metrics.TokenFileCollector(f.tk.Stats))
			if !f.authorized(oldToken) || f.tk.Err() != nil {
				t.Fatal("valid file refused")
			}
			c.damage(f)
			for range 5 {
				if f.authorized(oldToken) {
					t.Fatal("a token of the broken file's predecessor is still accepted")
				}
			}
			err := f.tk.Err()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Err: %v, want it to mention %q", err, c.want)
			}
			if s := f.tk.Stats(); s.Valid || s.Loaded != 0 || s.Errors != 1 {
				t.Errorf("stats while broken: %+v", s)
			}
			var buf bytes.Buffer
			m.Write(&buf)
			for _, want := range []string{"pdp_admin_token_file_valid 0", "pdp_admin_tokens_loaded 0", "pdp_admin_token_file_errors_total 1"} {
				if !strings.Contains(buf.String(), want+"\n") {
					t.Errorf("metrics lack %q", want)
				}
			}
			if n := f.count("level=ERROR msg=\"operator token file invalid"); n != 1 {
				t.Errorf("%d error lines for one change of state, want 1:\n%s", n, f.logs)
			}
			if strings.Contains(f.logs.String(), oldToken) {
				t.Errorf("a token was logged:\n%s", f.logs)
			}

			// Back: served from the next request on, no restart.
			os.Remove(f.path)
			f.write(newToken + " write bob\n")
			if !f.authorized(newToken) || f.authorized(oldToken) {
				t.Fatal("a valid file back did not restore the operator API")
			}
			if err := f.tk.Err(); err != nil {
				t.Errorf("Err after recovery: %v", err)
			}
			if s := f.tk.Stats(); !s.Valid || s.Loaded != 1 || s.Errors != 1 {
				t.Errorf("stats after recovery: %+v", s)
			}
			buf.Reset()
			m.Write(&buf)
			if !strings.Contains(buf.String(), "pdp_admin_token_file_valid 1\n") || !strings.Contains(buf.String(), "pdp_admin_tokens_loaded 1\n") {
				t.Errorf("metrics after recovery:\n%s", buf.String())
			}
			if f.count("operator token file valid again") != 1 {
				t.Errorf("recovery not logged once:\n%s", f.logs)
			}
		})
	}
}

// TestTokenFileEachFailureLoggedOnce: a new reason is a new state (logged
// and counted again); the same reason again is not.
func TestTokenFileEachFailureLoggedOnce(t *testing.T) {
	f := newTokenFixture(t, oldToken+"\n")
	f.write("")
	f.authorized(oldToken)
	f.write("# still nothing\n") // the same reason: no token
	f.authorized(oldToken)
	os.Remove(f.path)
	f.authorized(oldToken)
	f.tk.Err()
	if n := f.count("level=ERROR"); n != 2 {
		t.Errorf("%d error lines, want 2 (empty, then missing):\n%s", n, f.logs)
	}
	if s := f.tk.Stats(); s.Errors != 2 {
		t.Errorf("errors %d, want 2", s.Errors)
	}
}

// TestTokenFileSecretSwap: the kubelet updates a Secret volume by writing
// a new timestamped directory and swapping the ..data symlink; the file
// the configuration names is a symlink through ..data. While the link is
// gone every token is refused; the request right after the new link is in
// place is served with the new tokens.
func TestTokenFileSecretSwap(t *testing.T) {
	dir := t.TempDir()
	writeVersion := func(name, content string) {
		os.Mkdir(filepath.Join(dir, name), 0o700)
		if err := os.WriteFile(filepath.Join(dir, name, "tokens"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeVersion("..2026_01_01_00_00_00.1", oldToken+" write\n")
	os.Symlink("..2026_01_01_00_00_00.1", filepath.Join(dir, "..data"))
	os.Symlink("..data/tokens", filepath.Join(dir, "tokens"))
	f := &tokenFixture{t: t, path: filepath.Join(dir, "tokens"), logs: &lockedBuffer{}}
	tk, err := LoadTokens(f.path, slog.New(slog.NewTextHandler(f.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.tk = tk
	if !f.authorized(oldToken) {
		t.Fatal("initial token refused")
	}
	writeVersion("..2026_01_01_00_05_00.2", newToken+" write\n")
	os.Remove(filepath.Join(dir, "..data"))
	if f.authorized(oldToken) || f.authorized(newToken) {
		t.Fatal("a token accepted while the file does not exist")
	}
	os.Symlink("..2026_01_01_00_05_00.2", filepath.Join(dir, "..data"))
	os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.1"))
	if !f.authorized(newToken) || f.authorized(oldToken) {
		t.Fatal("the swapped-in Secret is not served at once")
	}
}

// TestTokenFilePollLogsWithoutRequests: with no request at all, Poll
// notices a broken file and logs it.
func TestTokenFilePollLogsWithoutRequests(t *testing.T) {
	f := newTokenFixture(t, oldToken+"\n")
	ctx := t.Context()
	go f.tk.Poll(ctx, 10*time.Millisecond)
	f.write("")
	deadline := time.Now().Add(5 * time.Second)
	for f.count("level=ERROR") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Poll did not notice the emptied file")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoadTokensRefusesInvalidFile: at start, a wrong file is an error
// (pdp serve does not start), never an operator API without tokens.
func TestLoadTokensRefusesInvalidFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "", "partly invalid": oldToken + "\nshort\n"} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := LoadTokens(path, nil); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := LoadTokens(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("missing: loaded")
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
