package admin

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Role is what a token may do.
type Role uint8

// Roles: read tokens may only GET; write tokens may do everything.
const (
	RoleRead Role = iota + 1
	RoleWrite
)

// token is one entry of the token file, kept as a digest.
type token struct {
	digest [sha256.Size]byte
	role   Role
	name   string
}

// Tokens holds the operator tokens from a file of lines
//
//	<token> [read|write] [name]
//
// (role default write, name default the token's position; blank lines and
// lines starting with # are ignored). The file is read again when it
// changes, so rotating a Kubernetes Secret takes effect without a restart.
// Tokens are compared as SHA-256 digests in constant time.
type Tokens struct {
	path string

	mu     sync.Mutex
	mtime  time.Time
	size   int64
	tokens []token
}

// LoadTokens reads the token file. A file with no token is an error: the
// operator API is never served without authentication.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.refresh(); err != nil {
		return nil, err
	}
	return t, nil
}

// refresh re-reads the file if its size or modification time changed.
func (t *Tokens) refresh() error {
	fi, err := os.Stat(t.path)
	if err != nil {
		return fmt.Errorf("admin token file: %w", err)
	}
	if fi.ModTime().Equal(t.mtime) && fi.Size() == t.size && t.tokens != nil {
		return nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("admin token file: %w", err)
	}
	toks, err := parseTokens(b)
	if err != nil {
		return fmt.Errorf("admin token file %s: %w", t.path, err)
	}
	t.tokens, t.mtime, t.size = toks, fi.ModTime(), fi.Size()
	return nil
}

func parseTokens(b []byte) ([]token, error) {
	var out []token
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f[0]) < 16 {
			return nil, fmt.Errorf("line %d: tokens must be at least 16 characters", n)
		}
		tk := token{digest: sha256.Sum256([]byte(f[0])), role: RoleWrite, name: fmt.Sprintf("token-%d", n)}
		if len(f) > 1 {
			switch f[1] {
			case "read":
				tk.role = RoleRead
			case "write":
			default:
				return nil, fmt.Errorf("line %d: role must be read or write", n)
			}
		}
		if len(f) > 2 {
			tk.name = f[2]
		}
		out = append(out, tk)
	}
	if len(out) == 0 {
		return nil, errors.New("no token")
	}
	return out, sc.Err()
}

// check authenticates a request: the token's role and name, or an error
// status (401).
func (t *Tokens) check(r *http.Request) (Role, string, bool) {
	auth := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || raw == "" {
		return 0, "", false
	}
	d := sha256.Sum256([]byte(raw))
	t.mu.Lock()
	_ = t.refresh() // keep serving the last good file if the new one is broken
	toks := t.tokens
	t.mu.Unlock()
	var role Role
	var name string
	for _, tk := range toks { // no early exit: the time does not depend on which token matched
		if subtle.ConstantTimeCompare(d[:], tk.digest[:]) == 1 {
			role, name = tk.role, tk.name
		}
	}
	return role, name, role != 0
}
