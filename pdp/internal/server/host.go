package server

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/valyala/fasthttp"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
)

// hostPolicy is the Host check of the decision listener, against DNS
// rebinding: a web page on evil.example whose name is made to resolve to
// 127.0.0.1 can make the browser connect to the sidecar, but the browser
// still sends "Host: evil.example:9191". The sidecar answers only to the
// loopback names — localhost, 127.0.0.0/8 and [::1] (and IPv4-mapped
// loopback), each with or without a port — and to server.allowed_hosts.
// Names are compared case-insensitively, one trailing dot ignored
// ("LOCALHOST." is localhost). Subdomains of localhost are not loopback
// here: only some resolvers and browsers pin them to the loopback
// (RFC 6761 lets them); list them in allowed_hosts where they are.
//
// A request without Host is refused (400 missing_field), HTTP/1.0 too: the
// sidecar needs to know which name the caller meant, and every client
// sends it. A malformed Host is 400 invalid_value; a well-formed one not
// allowed is 421 host_not_allowed (Misdirected Request: this server does
// not answer for that name). An absolute-form request target
// ("POST http://evil.example/v1/decide") must name an allowed host too.
//
// Requests over a Unix socket are not checked (no browser can connect to
// one), nor are those to the health listener (the kubelet probes the pod
// IP).
type hostPolicy struct {
	names map[string]struct{}
	addrs map[netip.Addr]struct{}
}

// maxHost bounds a Host header's name: a DNS name is at most 253 bytes,
// 254 with its trailing dot.
const maxHost = 254

func newHostPolicy(allowed []string) hostPolicy {
	p := hostPolicy{names: map[string]struct{}{"localhost": {}}, addrs: map[netip.Addr]struct{}{}}
	for _, h := range allowed {
		name, ip, err := config.ParseAllowedHost(h)
		switch {
		case err != nil: // refused by config.Validate
		case name != "":
			p.names[name] = struct{}{}
		default:
			p.addrs[ip.Unmap()] = struct{}{}
		}
	}
	return p
}

// checkRequest checks the Host header and an absolute-form target's host,
// unless the request came over a Unix socket.
func (p *hostPolicy) checkRequest(ctx *fasthttp.RequestCtx) *pdp.Error {
	if _, unix := ctx.LocalAddr().(*net.UnixAddr); unix {
		return nil
	}
	if e := p.check(ctx.Request.Header.Host()); e != nil {
		return e
	}
	if uri := ctx.Request.Header.RequestURI(); len(uri) > 0 && uri[0] != '/' && uri[0] != '*' {
		// absolute-form: fasthttp takes the host from the target
		return p.check(ctx.URI().Host())
	}
	return nil
}

// check checks one Host value. The common cases allocate nothing.
func (p *hostPolicy) check(host []byte) *pdp.Error {
	if len(host) == 0 {
		return pdp.Errorf(pdp.CodeMissingField, "host", "the Host header is required")
	}
	name, literal, ok := splitHostPort(host)
	if !ok {
		return pdp.Errorf(pdp.CodeInvalidValue, "host", "the Host header is not HOST[:PORT]")
	}
	if literal { // [IPv6]
		if string(name) == "::1" {
			return nil
		}
		ip, err := netip.ParseAddr(string(name))
		if err != nil || ip.Zone() != "" || !ip.Is6() {
			return pdp.Errorf(pdp.CodeInvalidValue, "host", "the Host header's [address] is not an IPv6 address")
		}
		if p.allowedIP(ip) {
			return nil
		}
		return notAllowed()
	}
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if len(name) == 0 || len(name) > maxHost {
		return pdp.Errorf(pdp.CodeInvalidValue, "host", "the Host header names no host")
	}
	var buf [maxHost]byte
	lower := buf[:len(name)]
	for i, c := range name {
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		default:
			return pdp.Errorf(pdp.CodeInvalidValue, "host", "the Host header has a character a host name cannot have")
		}
		lower[i] = c
	}
	if v4, ok := parseIPv4(lower); ok {
		if p.allowedIP(netip.AddrFrom4(v4)) {
			return nil
		}
		return notAllowed()
	}
	if _, ok := p.names[string(lower)]; ok {
		return nil
	}
	return notAllowed()
}

func notAllowed() *pdp.Error {
	return pdp.Errorf(pdp.CodeHostNotAllowed, "host",
		"this sidecar answers only to localhost, loopback addresses and server.allowed_hosts")
}

func (p *hostPolicy) allowedIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	_, ok := p.addrs[ip]
	return ok
}

// splitHostPort splits "name", "name:port", "[v6]" or "[v6]:port" (the
// port digits only, possibly empty: RFC 3986 port = *DIGIT); literal is
// true for a bracketed address (name is then what is between the
// brackets).
func splitHostPort(h []byte) (name []byte, literal, ok bool) {
	rest := h
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 {
			return nil, false, false
		}
		name, rest, literal = h[1:end], h[end+1:], true
	} else if i := bytes.IndexByte(h, ':'); i >= 0 {
		name, rest = h[:i], h[i:]
	} else {
		return h, false, true
	}
	if len(rest) == 0 {
		return name, literal, true
	}
	if rest[0] != ':' || len(rest) > 6 {
		return nil, false, false
	}
	for _, c := range rest[1:] {
		if c < '0' || c > '9' {
			return nil, false, false
		}
	}
	return name, literal, true
}

// parseIPv4 parses a dotted quad in its canonical form (decimal, no
// leading zeros: what a browser sends after normalizing a URL).
func parseIPv4(b []byte) ([4]byte, bool) {
	var ip [4]byte
	part, digits, val := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || part > 3 {
				return ip, false
			}
			ip[part] = byte(val)
			part, digits, val = part+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return ip, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return ip, false
		}
	}
	return ip, part == 4
}
