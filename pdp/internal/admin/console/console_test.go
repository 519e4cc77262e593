package console

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

// TestAssetsServed: the page, the module, the style and both dictionaries,
// each with its type and every security header.
func TestAssetsServed(t *testing.T) {
	for _, c := range []struct{ path, ctype, has string }{
		{"/console/", "text/html; charset=utf-8", `<script type="module" src="app.js"></script>`},
		{"/console/index.html", "text/html; charset=utf-8", "<main id=\"main\">"},
		{"/console/app.js", "text/javascript; charset=utf-8", "X-CSRF-Token"},
		{"/console/app.css", "text/css; charset=utf-8", "body {"},
		{"/console/i18n/en.json", "application/json", `"signin.title"`},
		{"/console/i18n/zh.json", "application/json", `"signin.title"`},
	} {
		w := get(t, "GET", c.path)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", c.path, w.Code)
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if !strings.Contains(w.Body.String(), c.has) {
			t.Errorf("GET %s: body lacks %q", c.path, c.has)
		}
		checkHeaders(t, c.path, w.Header())
	}
	if w := get(t, "HEAD", "/console/app.js"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
}

func checkHeaders(t *testing.T, path string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", path, k, got, v)
		}
	}
}

// TestAssetsRefused: no file, a hidden name, a path out of the assets and
// a change are refused, still with the headers, with the operator API's
// error envelope.
func TestAssetsRefused(t *testing.T) {
	for _, c := range []struct {
		method, path string
		code         int
		errCode      string
	}{
		{"GET", "/console/nope.js", 404, "not_found"},
		{"GET", "/console/i18n/", 404, "not_found"},
		{"GET", "/console/i18n", 404, "not_found"},
		{"GET", "/console/../admin.go", 404, "not_found"},
		{"GET", "/console/.hidden", 404, "not_found"},
		{"POST", "/console/", 405, "method_not_allowed"},
		{"PUT", "/console/app.js", 405, "method_not_allowed"},
	} {
		w := get(t, c.method, c.path)
		if w.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.code)
		}
		var env struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code != c.errCode || env.Error.Message == "" ||
			w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %q %s, want the %s error envelope", c.method, c.path, w.Header().Get("Content-Type"), w.Body, c.errCode)
		}
		checkHeaders(t, c.path, w.Header())
	}
}

// TestNoInlineScriptOrStyle: the page has no inline script, style or event
// handler attribute (the policy would block them) and loads nothing from
// another origin.
func TestNoInlineScriptOrStyle(t *testing.T) {
	b, err := fs.ReadFile(assets, "assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, re := range []string{`<script(?:[^>](?:[^s]|s[^r]|sr[^c]))*>\s*[^<\s]`, `<style`, `\sstyle=`, `\son[a-z]+=`, `(?:src|href)="(?:https?:)?//`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("index.html: %q matches %s", m, re)
		}
	}
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("index.html: %d scripts, want the one module", n)
	}
	js, _ := fs.ReadFile(assets, "assets/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "http://", "https://"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}

func dict(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(assets, "assets/i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]string
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return d
}

// TestDictionariesSameKeys: English and Chinese have the same keys, none
// empty, and the same {placeholders} in each string.
func TestDictionariesSameKeys(t *testing.T) {
	en, zh := dict(t, "en"), dict(t, "zh")
	ph := regexp.MustCompile(`\{[a-z_]+\}`)
	for k, v := range en {
		z, ok := zh[k]
		if !ok {
			t.Errorf("zh.json lacks %q", k)
			continue
		}
		if v == "" || z == "" {
			t.Errorf("%q is empty in a dictionary", k)
		}
		a, b := ph.FindAllString(v, -1), ph.FindAllString(z, -1)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("%q: placeholders %v in en, %v in zh", k, a, b)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("en.json lacks %q", k)
		}
	}
}

// TestStringsFromDictionaries: every key the page and the module name is in
// the dictionaries (keys built at run time: their prefixes with every
// value the module gives them).
func TestStringsFromDictionaries(t *testing.T) {
	en := dict(t, "en")
	js, _ := fs.ReadFile(assets, "assets/app.js")
	page, _ := fs.ReadFile(assets, "assets/index.html")
	var keys []string
	for _, m := range regexp.MustCompile(`\bt\('([a-z_.]+)'`).FindAllStringSubmatch(string(js), -1) {
		keys = append(keys, m[1])
	}
	for _, m := range regexp.MustCompile(`data-i18n(?:-placeholder)?="([a-z_.]+)"`).FindAllStringSubmatch(string(page), -1) {
		keys = append(keys, m[1])
	}
	// Keys built at run time: their prefixes with every value the module
	// gives them (the column labels, f.*, are checked in the browser:
	// TestConsoleInBrowser fails on a key in no dictionary).
	for prefix, values := range map[string][]string{
		"queue.kind.": {"case", "review", "approval", "appeal"},
		"freeze.":     {"temporary", "review", "permanent"},
		"role.":       {"read", "write"},
		"appeal.":     {"open", "granted", "rejected"},
		"standing.":   {"frozen", "restricted", "limited", "probation", "ok"},
		"import.":     {"imported", "valid", "refused", "not_written"},
	} {
		for _, v := range values {
			keys = append(keys, prefix+v)
		}
	}
	if len(keys) < 50 {
		t.Fatalf("only %d keys found: the patterns no longer match the module", len(keys))
	}
	for _, k := range keys {
		if _, ok := en[k]; !ok {
			t.Errorf("%q is used but in no dictionary", k)
		}
	}
}
