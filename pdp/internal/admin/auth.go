package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
)

// Role is what a token may do.
type Role uint8

// Roles: read tokens may only GET; write tokens may do everything.
const (
	RoleRead Role = iota + 1
	RoleWrite
)

// maxTokenFile bounds the token file: a larger file is invalid (a path
// pointed at the wrong file must not be read into memory on every request).
const maxTokenFile = 1 << 20

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
// lines starting with # are ignored). Tokens are compared as SHA-256
// digests in constant time.
//
// The file is read again on every authenticated request (and by Err and
// Stats), so rotating a Kubernetes Secret takes effect without a restart,
// and so does revoking: the file fails closed. While it is missing,
// unreadable, not a regular file, over 1 MiB, empty, or has any invalid
// line, every token is refused (401) — the last good set is not kept —
// until a valid file is back; the next request after it is back is served.
// (The kubelet updates a Secret volume by swapping a ..data symlink, so the
// file may briefly not exist: requests in that instant are refused.) Each
// change of the file's state is logged once: an error when it becomes
// invalid or fails for another reason, info when valid tokens are
// (re)loaded.
type Tokens struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex
	sum    [sha256.Size]byte // digest of the valid file in force
	tokens []token           // nil while the file is invalid: every token refused
	err    error             // why the file is invalid, nil when valid
	errors uint64            // times the file turned invalid (or failed for a new reason)
}

// LoadTokens reads the token file. A file with no token, or any invalid
// line, is an error: the operator API is never served without
// authentication, and a file that is wrong at start stops the start. log
// (nil: slog.Default()) gets one line per later change of the file's state.
func LoadTokens(path string, log *slog.Logger) (*Tokens, error) {
	if log == nil {
		log = slog.Default()
	}
	b, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin token file: %w", err)
	}
	toks, err := parseTokens(b)
	if err != nil {
		return nil, fmt.Errorf("admin token file %s: %w", path, err)
	}
	return &Tokens{path: path, log: log, tokens: toks, sum: sha256.Sum256(b)}, nil
}

// refresh reads the file again and updates the tokens in force (t.mu
// held). Bytes identical to the valid file in force are not parsed again.
func (t *Tokens) refresh() {
	var toks []token
	b, err := readSmallFile(t.path)
	if err != nil {
		err = fmt.Errorf("admin token file: %w", err)
	} else if sum := sha256.Sum256(b); t.err == nil && sum == t.sum {
		return // unchanged
	} else if toks, err = parseTokens(b); err != nil {
		err = fmt.Errorf("admin token file %s: %w", t.path, err)
	} else {
		was := t.err
		t.tokens, t.sum, t.err = toks, sum, nil
		if was != nil {
			t.log.Info("operator token file valid again: operator API restored", "path", t.path, "tokens", len(toks))
		} else {
			t.log.Info("operator token file reloaded", "path", t.path, "tokens", len(toks))
		}
		return
	}
	// Invalid: every token refused, the last good set dropped.
	t.tokens = nil
	if t.err != nil && t.err.Error() == err.Error() {
		return // the same failure: logged and counted already
	}
	t.err = err
	t.errors++
	t.log.Error("operator token file invalid: every operator token is refused until it is fixed",
		"path", t.path, "error", err)
}

// readSmallFile reads a regular file of at most maxTokenFile bytes (a
// FIFO or device would block or never end).
func readSmallFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxTokenFile {
		return nil, fmt.Errorf("%s: over %d bytes", path, maxTokenFile)
	}
	return b, nil
}

// parseTokens parses the token file; any invalid line makes the whole
// file invalid (a half-applied file would keep a revoked token or drop a
// new one silently). Errors name a line number, never what is on it.
func parseTokens(b []byte) ([]token, error) {
	var out []token
	seen := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxTokenFile+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f[0]) < 16 {
			return nil, fmt.Errorf("line %d: tokens must be at least 16 characters", n)
		}
		if !printableASCII(f[0]) {
			// A byte order mark an editor put in front, a non-breaking
			// space: a token no client sends. The file is wrong, and says so.
			return nil, fmt.Errorf("line %d: a token must be printable ASCII (a byte order mark or another invisible or non-ASCII character is in it)", n)
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
		if len(f) > 3 {
			return nil, fmt.Errorf("line %d: want <token> [read|write] [name], got %d fields", n, len(f))
		}
		if first, dup := seen[tk.digest]; dup {
			return nil, fmt.Errorf("line %d: the same token as line %d", n, first)
		}
		seen[tk.digest] = n
		out = append(out, tk)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no token")
	}
	return out, nil
}

// printableASCII reports whether s is made of the visible ASCII
// characters only (what an Authorization header carries).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Poll reads the file again every interval until ctx is done, so a change
// of its state is logged and counted when it happens, not only when a
// request, a readiness probe or a scrape comes.
func (t *Tokens) Poll(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.mu.Lock()
			t.refresh()
			t.mu.Unlock()
		}
	}
}

// Err reads the file again and reports why it is invalid (every token is
// then refused), or nil: a degraded-readiness check.
func (t *Tokens) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	if t.err != nil {
		return fmt.Errorf("operator API: every token refused: %w", t.err)
	}
	return nil
}

// Stats reads the file again and reports its state, for
// metrics.TokenFileCollector.
func (t *Tokens) Stats() metrics.TokenFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	return metrics.TokenFile{Valid: t.err == nil, Loaded: len(t.tokens), Errors: t.errors}
}

// check authenticates a request: the token's role and name, or false
// (401). The file is read again first: a token removed from it, or every
// token while it is invalid, is refused from this request on.
func (t *Tokens) check(r *http.Request) (Role, string, bool) {
	auth := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || raw == "" {
		return 0, "", false
	}
	return t.lookup(sha256.Sum256([]byte(raw)))
}

// lookup finds the token whose digest is d in the file as it is now: its
// role and name, or false.
func (t *Tokens) lookup(d [sha256.Size]byte) (Role, string, bool) {
	t.mu.Lock()
	t.refresh()
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
