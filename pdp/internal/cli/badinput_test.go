package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The bad-input suite: hostile and broken requests against a live sidecar
// (Run on a real loopback listener, as main starts it), over HTTP and, for
// what an HTTP client will not send, raw TCP. Every case asserts the status
// and the error code (and field, where one is named); no case may ever
// answer allow. The body every JSON case corrupts is allowBody, so a case
// the sidecar wrongly accepted would show up as an allow.

// badInputCases counts the cases run, for the README's Reliability figures
// (`go test -run TestBadInput -v ./pdp/internal/cli/` logs it).
var badInputCases atomic.Int64

// wantError checks an answer: the status, the error envelope's code (and
// field when given), and never an allow.
func wantError(t *testing.T, name string, status int, body []byte, wantStatus int, wantCode, wantField string) {
	t.Helper()
	badInputCases.Add(1)
	var m struct {
		Outcome string `json:"outcome"`
		Error   struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Errorf("%s: answer is not JSON (%d): %q", name, status, body)
		return
	}
	if m.Outcome == "allow" {
		t.Errorf("%s: ALLOW for bad input: %s", name, body)
	}
	if status != wantStatus || m.Error.Code != wantCode || (wantField != "" && m.Error.Field != wantField) {
		t.Errorf("%s: %d %s, want %d %s %s", name, status, body, wantStatus, wantCode, wantField)
	}
}

// sameDecision compares two decision answers but for their ids and timing.
func sameDecision(a, b []byte) bool {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	for _, k := range []string{"decision_id", "took_us"} {
		delete(x, k)
		delete(y, k)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// truncatedField is the JSON path of the key a truncated body ends on.
func truncatedField(b string) string {
	key := b[strings.LastIndex(b[:len(b)-2], `"`)+1 : len(b)-2]
	for _, parent := range []string{"device", "txn", "account"} {
		if i := strings.Index(b, `"`+parent+`":{`); i >= 0 && !strings.Contains(b[i:], "}") {
			return parent + "." + key
		}
	}
	return key
}

// startHostile starts a sidecar with a 1 s read timeout, so slow clients
// are cut off quickly.
func startHostile(t *testing.T) *sidecar {
	cfg := filepath.Join(t.TempDir(), "pdp.yaml")
	if err := os.WriteFile(cfg, []byte("server:\n  read_timeout: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return startSidecar(t, "--config", cfg)
}

// uids numbers the UIDs of the suite's requests: each request is a new
// user, so velocity rules (many payments by one UID) never mask the answer.
var uids atomic.Int64

// freshUID gives body (an allowBody variant) a UID and a device of its own.
func freshUID(body string) string {
	n := uids.Add(1)
	body = strings.Replace(body, `"id":"d-1"`, fmt.Sprintf(`"id":"bad-dev-%d"`, n), 1)
	return strings.Replace(body, `"uid":"u-1"`, fmt.Sprintf(`"uid":"bad-%d"`, n), 1)
}

func (s *sidecar) send(path, ctype, body string) (int, []byte) {
	s.t.Helper()
	body = freshUID(body)
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// withField returns allowBody with extra members spliced in after "{".
func withField(members string) string { return "{" + members + "," + allowBody[1:] }

// withAmount returns allowBody with its amount literal replaced.
func withAmount(lit string) string {
	return strings.Replace(allowBody, `"amount":120`, `"amount":`+lit, 1)
}

func TestBadInputJSON(t *testing.T) {
	n0 := badInputCases.Load()
	s := startHostile(t)
	if code, d := s.decide(freshUID(allowBody)); code != 200 || d["outcome"] != "allow" {
		t.Fatalf("the carrier body must be an allow: %d %v", code, d)
	}
	nest := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	cases := []struct {
		name, body  string
		status      int
		code, field string
	}{
		// malformed
		{"empty body", ``, 400, "malformed_json", ""},
		{"whitespace only", " \n\t ", 400, "malformed_json", ""},
		{"not an object", `[` + allowBody + `]`, 400, "malformed_json", ""},
		{"bare string", `"allow"`, 400, "malformed_json", ""},
		{"null", `null`, 400, "malformed_json", ""},
		{"trailing garbage", allowBody + `x`, 400, "malformed_json", ""},
		{"two objects", allowBody + allowBody, 400, "malformed_json", ""},
		{"trailing comma", strings.TrimSuffix(allowBody, "}") + ",}", 400, "malformed_json", ""},
		{"single quotes", strings.ReplaceAll(allowBody, `"`, `'`), 400, "malformed_json", ""},
		{"unquoted key", strings.Replace(allowBody, `"uid"`, `uid`, 1), 400, "malformed_json", ""},
		{"comment", "/* c */" + allowBody, 400, "malformed_json", ""},
		{"BOM", "\ufeff" + allowBody, 400, "malformed_json", ""},
		{"bad escape", withField(`"request_id":"\x"`), 400, "malformed_json", ""},
		{"raw newline in string", strings.Replace(allowBody, `"r-allow"`, "\"r-\nallow\"", 1), 400, "malformed_json", ""},
		{"unterminated string", `{"uid":"u-1`, 400, "malformed_json", ""},
		// duplicate keys: the second uid must not override the first
		{"duplicate uid", withField(`"uid":"u-666"`), 400, "duplicate_key", "uid"},
		{"duplicate amount", strings.Replace(allowBody, `"amount":120`, `"amount":120,"amount":1`, 1), 400, "duplicate_key", "txn.amount"},
		{"duplicate stage", withField(`"stage":"login"`), 400, "duplicate_key", "stage"},
		{"duplicate via escape", withField(`"u\u0069d":"u-666"`), 400, "duplicate_key", "uid"},
		// deep nesting
		{"nesting over the limit", withField(`"context":` + nest(20)), 400, "too_deep", ""},
		{"nesting 10000 arrays", withField(`"context":{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`), 400, "too_deep", ""},
		{"nesting 30000 unclosed", withField(`"context":{"x":` + strings.Repeat("[", 30000)), 400, "too_deep", ""},
		// numbers at the float limits
		{"amount 1e308", withAmount("1e308"), 400, "invalid_value", "txn.amount"},
		{"amount 1e309 overflows", withAmount("1e309"), 400, "invalid_value", "txn.amount"},
		{"amount -1e308", withAmount("-1e308"), 400, "invalid_value", "txn.amount"},
		{"amount huge exponent", withAmount("1e999999999999999999"), 400, "invalid_value", "txn.amount"},
		{"amount 400 digits", withAmount(strings.Repeat("9", 400)), 400, "invalid_value", "txn.amount"},
		{"amount NaN", withAmount("NaN"), 400, "wrong_type", "txn.amount"},
		{"amount Infinity", withAmount("Infinity"), 400, "wrong_type", "txn.amount"},
		{"amount hex", withAmount("0x10"), 400, "malformed_json", ""},
		{"amount leading zero", withAmount("0120"), 400, "malformed_json", ""},
		{"amount plus sign", withAmount("+120"), 400, "wrong_type", "txn.amount"},
		{"amount negative denormal", withAmount("-4.9e-324"), 400, "invalid_value", "txn.amount"},
		{"context number 1e400", withField(`"context":{"n":1e400}`), 400, "invalid_value", "context.n"},
		{"context number -1e99999999999", withField(`"context":{"n":-1e99999999999}`), 400, "invalid_value", "context.n"},
		{"amount dot only", withAmount("120."), 400, "malformed_json", ""},
		{"amount string", withAmount(`"120"`), 400, "wrong_type", "txn.amount"},
		{"amount negative", withAmount("-120"), 400, "invalid_value", "txn.amount"},
		// unicode edge cases
		{"invalid UTF-8 in uid", strings.Replace(allowBody, `"u-1"`, "\"u-\xff\"", 1), 400, "malformed_json", ""},
		{"overlong UTF-8 in uid", strings.Replace(allowBody, `"u-1"`, "\"u-\xc0\xaf\"", 1), 400, "malformed_json", ""},
		{"UTF-8 surrogate bytes", strings.Replace(allowBody, `"u-1"`, "\"u-\xed\xa0\x80\"", 1), 400, "malformed_json", ""},
		{"lone high surrogate escape", strings.Replace(allowBody, `"u-1"`, `"u-\ud800"`, 1), 400, "invalid_value", "uid"},
		{"lone low surrogate escape", strings.Replace(allowBody, `"u-1"`, `"u-\udc00x"`, 1), 400, "invalid_value", "uid"},
		{"NUL escape in uid", strings.Replace(allowBody, `"u-1"`, `"u-1\u0000"`, 1), 400, "invalid_value", "uid"},
		{"raw NUL in uid", strings.Replace(allowBody, `"u-1"`, "\"u-1\x00\"", 1), 400, "malformed_json", ""},
		{"NUL in key", withField(`"ui\u0000d":"u-666"`), 400, "unknown_field", ""},
		{"invalid UTF-8 in key", withField("\"\xff\":1"), 400, "malformed_json", ""},
		{"NUL stage", strings.Replace(allowBody, `"payment"`, `"payment\u0000"`, 1), 400, "unknown_stage", "stage"},
		{"fullwidth stage", strings.Replace(allowBody, `"payment"`, `"ｐａｙｍｅｎｔ"`, 1), 400, "unknown_stage", "stage"},
		{"RTL override in currency", strings.Replace(allowBody, `"CNY"`, `"\u202eYNC"`, 1), 400, "invalid_value", "txn.currency"},
		// fields that must never be accepted
		{"unknown top-level field", withField(`"outcome":"allow"`), 400, "unknown_field", "outcome"},
		{"cvv", withField(`"cvv":"123"`), 400, "secret_field", "cvv"},
		{"card number in context", withField(`"context":{"n":"4111 1111 1111 1111"}`), 400, "card_number", "context.n"},
	}
	for _, c := range cases {
		status, body := s.send("/v1/decide", "application/json", c.body)
		wantError(t, c.name, status, body, c.status, c.code, c.field)
	}

	// Zero written at the float limits is zero: answered exactly as amount 0
	// (5e-999999999999999999 used to panic inside OPA and kill the process).
	status, zero := s.send("/v1/decide", "application/json", withAmount("0"))
	for _, lit := range []string{"-0", "0.0e-0", "1e-400", "5e-999999999999999999", "0e99999999999999999999"} {
		st, b := s.send("/v1/decide", "application/json", withAmount(lit))
		badInputCases.Add(1)
		if st != status || !sameDecision(b, zero) {
			t.Errorf("amount %s: %d %s, want as amount 0: %d %s", lit, st, b, status, zero)
		}
	}

	// Every truncation of an allow request is refused, at every byte: as
	// malformed, or (cut right after a key's colon) as that field's wrong type.
	for i := 1; i < len(allowBody); i++ {
		status, body := s.send("/v1/decide", "application/json", allowBody[:i])
		code, field := "malformed_json", ""
		if strings.HasSuffix(allowBody[:i], `":`) {
			code, field = "wrong_type", truncatedField(allowBody[:i])
		}
		wantError(t, fmt.Sprintf("truncated at %d", i), status, body, 400, code, field)
	}

	// Wrong content types, on every JSON endpoint; "" sends no Content-Type
	// at all (a browser's fetch with a Blob body).
	for _, path := range []string{"/v1/decide", "/v1/events", "/v1/verifications", "/v1/data/riskpdp/decision"} {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
			"application/xml", "application/jsonx", "application/json;;", "text/json", "*/*", "application/javascript"} {
			status, body := s.send(path, ct, allowBody)
			wantError(t, path+" as "+ct, status, body, 415, "unsupported_media_type", "")
		}
	}

	// Bodies over the limit (64 KiB by default), sent with a length and chunked.
	// With a length: the sidecar answers 413 from the header and hangs up,
	// so the body is not sent here (an HTTP client still writing it may
	// see a reset before it reads the answer).
	lc, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	fmt.Fprintf(lc, "POST /v1/decide HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"stage\":", 1<<20)
	resp, err := http.ReadResponse(bufio.NewReader(lc), nil)
	if err != nil {
		t.Fatalf("1 MiB body: no answer: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, "1 MiB body", resp.StatusCode, raw, 413, "body_too_large", "")
	// Chunked, over raw TCP: the sidecar answers 413 and hangs up before the
	// client has finished sending, which an HTTP client reports as a reset.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		io.WriteString(conn, "POST /v1/decide HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := 0; i < 64; i++ {
			if _, err := fmt.Fprintf(conn, "4000\r\n%s\r\n", strings.Repeat("a", 0x4000)); err != nil {
				return
			}
		}
		io.WriteString(conn, "0\r\n\r\n")
	}()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, "1 MiB chunked body", resp.StatusCode, b, 413, "body_too_large", "")

	// The sidecar still decides correctly after all of it.
	if code, d := s.decide(freshUID(allowBody)); code != 200 || d["outcome"] != "allow" {
		t.Fatalf("after the bad input: %d %v", code, d)
	}
	t.Logf("bad-input cases (JSON, truncation, content type, size): %d", badInputCases.Load()-n0)
}

// raw sends req on a fresh TCP connection and reads one answer. A
// well-behaved server answers once and sends nothing more: a second answer
// on the same connection would be a smuggled request being served.
func raw(t *testing.T, addr, req string) (int, []byte, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no HTTP answer to %q: %v", req[:min(len(req), 80)], err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	rest, _ := io.ReadAll(br)
	return resp.StatusCode, body, rest
}

func TestBadInputHTTP(t *testing.T) {
	n0 := badInputCases.Load()
	s := startHostile(t)
	addr := strings.TrimPrefix(s.url, "http://")
	post := func(headers, body string) string {
		return "POST /v1/decide HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + headers + "\r\n" + body
	}
	cl := func(b string) string { return fmt.Sprintf("Content-Length: %d\r\n", len(b)) }
	// smuggled is a complete allow request: if it were ever served, a
	// second answer (an allow) would follow the first.
	allow := func() string { return freshUID(allowBody) }
	smuggled := func() string { b := allow(); return post(cl(b), b) }
	chunk := func() string { b := allow(); return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(b), b) }
	ch := chunk()
	cases := []struct {
		name, req   string
		status      int
		code, field string
	}{
		{"garbage request line", "GARBAGE\r\n\r\n", 400, "invalid_value", ""},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "missing_field", "host"},
		// the Host header (DNS rebinding): only loopback names
		{"no Host", strings.Replace(post(cl(allowBody), allow()), "Host: localhost\r\n", "", 1), 400, "missing_field", "host"},
		{"HTTP/1.0 without Host", strings.Replace(strings.Replace(post(cl(allowBody), allow()), "Host: localhost\r\n", "", 1), "HTTP/1.1", "HTTP/1.0", 1), 400, "missing_field", "host"},
		{"rebinding Host", strings.Replace(post(cl(allowBody), allow()), "Host: localhost", "Host: evil.example:9191", 1), 421, "host_not_allowed", "host"},
		{"empty Host", strings.Replace(post(cl(allowBody), allow()), "Host: localhost", "Host:", 1), 400, "missing_field", "host"},
		{"two Host headers", strings.Replace(post(cl(allowBody), allow()), "Host: localhost\r\n", "Host: localhost\r\nHost: evil.example\r\n", 1), 400, "invalid_value", ""},
		{"absolute-form target elsewhere", strings.Replace(post(cl(allowBody), allow()), "POST /v1/decide", "POST http://evil.example/v1/decide", 1), 421, "host_not_allowed", "host"},
		{"header without colon", post("X-Broken\r\n"+cl(allowBody), allow()), 400, "invalid_value", ""},
		{"space before colon", post("Content-Length : 4\r\n", "null"), 400, "invalid_value", ""},
		{"negative Content-Length", post("Content-Length: -1\r\n", allow()), 400, "invalid_value", ""},
		{"Content-Length not a number", post("Content-Length: 1e3\r\n", allow()), 400, "invalid_value", ""},
		{"Content-Length over the limit", post("Content-Length: 99999999999\r\n", ""), 413, "body_too_large", ""},
		{"huge header", post("X-Big: "+strings.Repeat("a", 64<<10)+"\r\n"+cl(allowBody), allow()), 431, "invalid_value", "headers"},
		{"10000 headers", post(strings.Repeat("X-A: b\r\n", 10000)+cl(allowBody), allow()), 431, "invalid_value", "headers"},
		{"NUL in a header", post("X-A: a\x00b\r\n"+cl(allowBody), allow()), 400, "invalid_value", ""},
		// request smuggling: the first request is refused, the connection
		// closed, and the smuggled allow request never served
		{"CL and TE", post(cl(ch)+"Transfer-Encoding: chunked\r\n", ch+smuggled()), 400, "invalid_value", "headers"},
		{"TE and CL", post("Transfer-Encoding: chunked\r\n"+"Content-Length: 4\r\n", chunk()+smuggled()), 400, "invalid_value", "headers"},
		{"TE and lower-case CL", post("Transfer-Encoding: chunked\r\n"+"content-length: 4\r\n", chunk()+smuggled()), 400, "invalid_value", "headers"},
		{"double CL", post("Content-Length: 4\r\n"+cl(allowBody), allow()+smuggled()), 400, "invalid_value", ""},
		{"double CL same value", post(cl(allowBody)+cl(allowBody), allow()), 400, "invalid_value", ""},
		{"double TE", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunk()+smuggled()), 400, "invalid_value", ""},
		{"TE not chunked", post("Transfer-Encoding: gzip\r\n", allow()), 400, "invalid_value", ""},
		{"TE chunked, gzip", post("Transfer-Encoding: chunked, gzip\r\n", chunk()), 400, "invalid_value", ""},
		{"obfuscated TE", post("Transfer-Encoding : chunked\r\n"+cl(ch), ch+smuggled()), 400, "invalid_value", ""},
		{"TE with tab and CL", post("Transfer-Encoding:\tchunked\r\n"+cl(ch), ch+smuggled()), 400, "invalid_value", "headers"},
		{"obs-fold", post("X-A: b\r\n c\r\n"+cl(allowBody), allow()), 400, "invalid_value", "headers"},
		{"obs-fold on TE", post("X-A: b\r\nTransfer-Encoding:\r\n chunked\r\n"+cl(ch), ch+smuggled()), 400, "invalid_value", "headers"},
		{"HTTP/1.0 with TE", strings.Replace(post("Transfer-Encoding: chunked\r\n", chunk()+smuggled()), "HTTP/1.1", "HTTP/1.0", 1), 400, "invalid_value", ""},
		{"bad chunk size", post("Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"), 400, "invalid_value", ""},
		{"chunk size overflow", post("Transfer-Encoding: chunked\r\n", "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n"), 400, "invalid_value", ""},
		// bare LF line ends: fasthttp waits for a CRLF header end, never
		// serves the request, and the read timeout (1 s) ends it
		{"bare LF line ends", strings.ReplaceAll(post(cl(allowBody), allow()), "\r\n", "\n"), 408, "malformed_json", ""},
	}
	for _, c := range cases {
		status, body, rest := raw(t, addr, c.req)
		wantError(t, c.name, status, body, c.status, c.code, c.field)
		if len(rest) != 0 {
			t.Errorf("%s: a second answer on the connection (smuggled request served?): %q", c.name, rest)
		}
	}
	// Methods other than POST on the decision endpoint.
	for _, m := range []string{"GET", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "CONNECT", "BREW"} {
		status, body, _ := raw(t, addr, m+" /v1/decide HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		wantError(t, m+" /v1/decide", status, body, 405, "method_not_allowed", "")
	}
	t.Logf("bad-input cases (raw HTTP, smuggling, methods): %d", badInputCases.Load()-n0)
}

// Slow clients are cut off after the read timeout (1 s here) with a 408,
// and while a crowd of them holds connections open, decisions go on.
func TestBadInputSlowClients(t *testing.T) {
	s := startHostile(t)
	addr := strings.TrimPrefix(s.url, "http://")
	trickle := func(prefix string) (int, []byte, time.Duration) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return 0, nil, 0
		}
		defer conn.Close()
		start := time.Now()
		go func() { // one byte every 100 ms until the server hangs up
			for i := 0; ; i++ {
				if _, err := conn.Write([]byte{prefix[i%len(prefix)]}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, nil, time.Since(start)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, time.Since(start)
	}
	headers := "POST /v1/decide HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + strings.Repeat("a", 1000)
	body := fmt.Sprintf("POST /v1/decide HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(allowBody)*10, allowBody)

	var wg sync.WaitGroup
	var mu sync.Mutex
	type result struct {
		status int
		body   []byte
		took   time.Duration
	}
	var results []result
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := headers
			if i%2 == 1 {
				p = body
			}
			st, b, took := trickle(p)
			mu.Lock()
			results = append(results, result{st, b, took})
			mu.Unlock()
		}()
	}
	// Meanwhile, ordinary callers are served.
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 20; i++ {
		body := stepUpAs(fmt.Sprintf("calm-%d", i))
		if code, d := s.decide(body); code != 200 || d["outcome"] != "step_up" {
			t.Fatalf("decision during slowloris: %d %v", code, d)
		}
	}
	wg.Wait()
	for _, r := range results {
		// The header trickle may end before a full request line; the body
		// trickle always has a request: both answer 408 or hang up, and
		// within a few read timeouts (fasthttp checks between reads).
		if r.took > 5*time.Second {
			t.Errorf("slow client held on for %v", r.took)
		}
		if r.status == 0 {
			badInputCases.Add(1)
			continue
		}
		wantError(t, "slow client", r.status, r.body, 408, "malformed_json", "")
	}
	if bytes.Contains([]byte(s.logs.String()), []byte("panic")) {
		t.Errorf("panic in the logs:\n%s", s.logs)
	}
	t.Logf("bad-input cases (slow clients): %d", len(results))
}
