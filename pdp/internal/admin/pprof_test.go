package admin

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestProfiles: Go's profiles are served on the operator listener to
// write tokens only.
func TestProfiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(path, []byte("writer-token-0123456789 write\nreader-token-0123456789 read\n"), 0o600)
	tk, err := LoadTokens(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Tokens: tk}).srv.Handler
	get := func(target, token string) (int, []byte) {
		r := httptest.NewRequest("GET", target, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.Bytes()
	}
	for _, target := range []string{"/debug/pprof", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		if code, _ := get(target, ""); code != 401 {
			t.Errorf("%s without a token: %d, want 401", target, code)
		}
		if code, _ := get(target, "reader-token-0123456789"); code != 403 {
			t.Errorf("%s with a read token: %d, want 403", target, code)
		}
	}
	if code, body := get("/debug/pprof", "writer-token-0123456789"); code != 200 || !bytes.Contains(body, []byte("goroutine")) {
		t.Errorf("index: %d %.200s", code, body)
	}
	// A profile is gzip-compressed protobuf.
	if code, body := get("/debug/pprof/heap?gc=1", "writer-token-0123456789"); code != 200 || !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		t.Errorf("heap: %d %.200q", code, body)
	}
}
