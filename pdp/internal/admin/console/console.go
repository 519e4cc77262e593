// Package console serves the operator console: a browser front end to the
// operator API at /console/ on the operator listener, its HTML, one JS
// module, CSS and two dictionaries (English and Chinese) embedded in the
// binary, served with a Content-Security-Policy that allows only these
// same-origin files (no inline script or style, nothing from elsewhere).
// Sign-in, the session cookie and its CSRF token are the operator API's
// (pdp/internal/admin/session.go); the console only calls that API.
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/riskpdp/riskpdp/pdp"
)

//go:embed assets
var assets embed.FS

// CSP is the console's Content-Security-Policy.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Prefix is where the console is served.
const Prefix = "/console/"

// Handler serves the console's files under Prefix: Prefix itself is the
// page, any other path a file of the assets (404 if none); every answer
// carries the security headers.
func Handler() http.Handler {
	root, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			fail(w, http.StatusMethodNotAllowed, pdp.CodeMethodNotAllowed, "use GET or HEAD")
			return
		}
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		if !fs.ValidPath(name) || strings.HasPrefix(path.Base(name), ".") {
			fail(w, http.StatusNotFound, pdp.CodeNotFound, "no such file")
			return
		}
		b, err := fs.ReadFile(root, name)
		if err != nil {
			fail(w, http.StatusNotFound, pdp.CodeNotFound, "no such file")
			return
		}
		ct := mime.TypeByExtension(path.Ext(name))
		switch path.Ext(name) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".json":
			ct = "application/json"
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	})
}

// fail answers with the API's error envelope, as the rest of the operator
// API does (http.NotFound's plain text was the one answer of the listener
// without it).
func fail(w http.ResponseWriter, status int, code pdp.ErrorCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": string(code), "message": msg}})
}
