package server

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// framingError names what makes a request's framing ambiguous, or is "".
// fasthttp serves a request with both Transfer-Encoding: chunked and
// Content-Length by the chunked framing and keeps the connection open, and
// it unfolds obs-fold continuation lines; a proxy in front that reads the
// other framing would see a different request boundary (request
// smuggling). RFC 9112 lets a server refuse both (§6.3, §5.2): the sidecar
// does, and closes the connection, so whatever follows is never served.
// The raw headers are scanned only for what cannot be seen otherwise.
func framingError(h *fasthttp.RequestHeader) string {
	raw := h.RawHeaders()
	if bytes.Contains(raw, []byte("\n ")) || bytes.Contains(raw, []byte("\n\t")) {
		return "obsolete line folding in the headers"
	}
	if h.ContentLength() == -1 && hasHeaderLine(raw, "content-length") {
		return "both Transfer-Encoding and Content-Length"
	}
	return ""
}

// hasHeaderLine reports whether raw has a header line named key (lower
// case), whatever its case.
func hasHeaderLine(raw []byte, key string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) >= len(key) && bytes.EqualFold(line[:len(key)], []byte(key)) {
			if rest := bytes.TrimLeft(line[len(key):], " \t"); len(rest) > 0 && rest[0] == ':' {
				return true
			}
		}
	}
	return false
}
