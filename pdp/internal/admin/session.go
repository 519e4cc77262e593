package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Console sessions. The console (a browser) signs in with an operator
// token once (POST /console/api/session) and gets a session cookie in
// exchange: HttpOnly (no script reads it), SameSite=Strict (no other site's
// page sends it), Secure on TLS, and a CSRF token its changes must carry in
// the X-CSRF-Token header. The session keeps the token's digest, never the
// token: every request looks the digest up in the token file as it is then,
// so removing a token from the file (or the file going invalid) ends its
// sessions at once, and a role change applies at once. Sessions live in
// memory: a restart signs everyone out. They end after sessionIdle without
// a request, sessionMax after sign-in, or at sign-out.

const (
	sessionCookie = "pdp_console"
	csrfHeader    = "X-CSRF-Token"
	sessionIdle   = 30 * time.Minute
	sessionMax    = 12 * time.Hour
	maxSessions   = 10_000
)

type session struct {
	digest  [sha256.Size]byte // the token's
	csrf    string
	created time.Time
	seen    time.Time
}

// sessions are the console's sessions by the SHA-256 of their id (the id
// itself is only in the browser's cookie).
type sessions struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*session
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) > sessionIdle || now.Sub(s.created) > sessionMax
}

// start creates a session for the token digest d and returns its id.
func (ss *sessions) start(d [sha256.Size]byte, now time.Time) (id string, s *session, err error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = make(map[[sha256.Size]byte]*session)
	}
	if len(ss.m) >= maxSessions {
		for k, s := range ss.m {
			if ss.expired(s, now) {
				delete(ss.m, k)
			}
		}
		if len(ss.m) >= maxSessions {
			return "", nil, pdp.Errorf(pdp.CodeConflict, "", "too many console sessions; sign out elsewhere or wait")
		}
	}
	id, s = randomToken(), &session{digest: d, csrf: randomToken(), created: now, seen: now}
	ss.m[sha256.Sum256([]byte(id))] = s
	return id, s, nil
}

// get returns the session of id, unexpired, touching it; nil if none.
func (ss *sessions) get(id string, now time.Time) *session {
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[k]
	if s == nil {
		return nil
	}
	if ss.expired(s, now) {
		delete(ss.m, k)
		return nil
	}
	s.seen = now
	return s
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sha256.Sum256([]byte(id)))
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sessionAuth authenticates a request by its session cookie: the role and
// name of the session's token as the token file has it now. A change
// (any method but GET and HEAD) must carry the session's CSRF token.
func (s *Server) sessionAuth(r *http.Request) (Role, string, *pdp.Error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return 0, "", pdp.Errorf(pdp.CodeUnauthorized, "", "a valid bearer token or console session is required")
	}
	sess := s.sessions.get(c.Value, s.o.Now())
	if sess == nil {
		return 0, "", pdp.Errorf(pdp.CodeUnauthorized, "", "the console session has ended: sign in again")
	}
	role, name, ok := s.o.Tokens.lookup(sess.digest)
	if !ok {
		s.sessions.end(c.Value)
		return 0, "", pdp.Errorf(pdp.CodeUnauthorized, "", "the session's token is no longer valid: sign in again")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.csrf)) != 1 {
		return 0, "", pdp.Errorf(pdp.CodeForbidden, csrfHeader, "a change from the console needs the session's CSRF token in the %s header", csrfHeader)
	}
	return role, name, nil
}

type signInRequest struct {
	Token string `json:"token"`
}

type sessionView struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"` // the latest it can last (sessionMax after sign-in)
	IdleLimit string    `json:"idle_limit"`
}

func roleName(r Role) string {
	if r == RoleWrite {
		return "write"
	}
	return "read"
}

// signIn exchanges an operator token for a console session (201 and the
// cookie); a wrong token is 401, as on the API.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	var req signInRequest
	if err := decode(r, &req); err != nil {
		writeError(w, pdp.AsError(err))
		return
	}
	d := sha256.Sum256([]byte(req.Token))
	role, name, ok := s.o.Tokens.lookup(d)
	if req.Token == "" || !ok {
		writeError(w, pdp.Errorf(pdp.CodeUnauthorized, "token", "not a valid operator token"))
		return
	}
	now := s.o.Now()
	id, sess, err := s.sessions.start(d, now)
	if err != nil {
		writeError(w, pdp.AsError(err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionMax / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	s.o.Logger.Info("console sign-in", "operator", name)
	writeJSON(w, http.StatusCreated, sessionView{Name: name, Role: roleName(role), CSRFToken: sess.csrf,
		ExpiresAt: sess.created.Add(sessionMax), IdleLimit: sessionIdle.String()})
}

// currentSession answers who the session is (GET) or ends it (DELETE,
// with the CSRF token): the cookie is cleared either way once it is gone.
func (s *Server) currentSession(w http.ResponseWriter, r *http.Request) {
	role, name, e := s.sessionAuth(r)
	if e != nil {
		writeError(w, e)
		return
	}
	c, _ := r.Cookie(sessionCookie)
	if r.Method == http.MethodDelete {
		s.sessions.end(c.Value)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		s.o.Logger.Info("console sign-out", "operator", name)
		writeJSON(w, http.StatusOK, map[string]string{"status": "signed_out"})
		return
	}
	sess := s.sessions.get(c.Value, s.o.Now())
	if sess == nil {
		writeError(w, pdp.Errorf(pdp.CodeUnauthorized, "", "the console session has ended: sign in again"))
		return
	}
	writeJSON(w, http.StatusOK, sessionView{Name: name, Role: roleName(role), CSRFToken: sess.csrf,
		ExpiresAt: sess.created.Add(sessionMax), IdleLimit: sessionIdle.String()})
}
