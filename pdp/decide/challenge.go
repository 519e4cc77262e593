package decide

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Step-up challenges are stateless: the challenge id is a token that binds
// the UID, the transaction, the methods and the expiry under an HMAC with a
// key the state keeps. Issuing one costs no write on the decision path;
// what is stored is the verification result, when the payment service
// reports it. A forged, altered, expired or foreign token is rejected.
//
// Token: "c1." + base64url(payload) + "." + base64url(hmac[:16]) where
// payload is expiry (8 bytes, Unix seconds) followed by uid, subject and
// methods joined by 0x1f.

const challengePrefix = "c1."

// challenge is a decoded challenge token.
type challenge struct {
	ID      string
	UID     string
	Subject string // the transaction id, or "login:<device>" for logins
	Methods []string
	Expires time.Time
}

// signer issues and checks challenge tokens.
type signer struct {
	key  []byte
	macs *sync.Pool // of hash.Hash (HMAC-SHA256 under key), reset before use
}

func newSigner(key []byte) signer {
	return signer{key: key, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// subjectOf is what a challenge is bound to besides the UID: the
// transaction, or for a login (no transaction) the device.
func subjectOf(r *pdp.Request) string {
	if r.HasTxn && r.Txn.ID != "" {
		return r.Txn.ID
	}
	return "login:" + r.Device.ID
}

func (s signer) issue(uid, subject string, methods []string, expires time.Time) string {
	payload := make([]byte, 8, 8+len(uid)+len(subject)+16*len(methods))
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	payload = append(payload, uid...)
	payload = append(payload, 0x1f)
	payload = append(payload, subject...)
	for _, m := range methods {
		payload = append(payload, 0x1f)
		payload = append(payload, m...)
	}
	enc := base64.RawURLEncoding
	return challengePrefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
}

func (s signer) mac(payload []byte) []byte {
	h := s.macs.Get().(hash.Hash)
	h.Reset()
	h.Write(payload)
	sum := h.Sum(make([]byte, 0, sha256.Size))[:16]
	s.macs.Put(h)
	return sum
}

// Challenge token errors; the verification API reports them as 4xx.
var (
	errChallengeInvalid = errors.New("unknown challenge")
	errChallengeExpired = errors.New("challenge expired")
)

// open checks a token's MAC and expiry and decodes it.
func (s signer) open(token string, now time.Time) (challenge, error) {
	rest, ok := strings.CutPrefix(token, challengePrefix)
	if !ok || len(token) > 1024 {
		return challenge{}, errChallengeInvalid
	}
	p64, m64, ok := strings.Cut(rest, ".")
	if !ok {
		return challenge{}, errChallengeInvalid
	}
	enc := base64.RawURLEncoding.Strict() // one spelling per token
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || len(payload) < 9 || !hmac.Equal(mac, s.mac(payload)) {
		return challenge{}, errChallengeInvalid
	}
	parts := strings.Split(string(payload[8:]), "\x1f")
	if len(parts) < 3 {
		return challenge{}, errChallengeInvalid
	}
	c := challenge{
		ID:      token,
		UID:     parts[0],
		Subject: parts[1],
		Methods: parts[2:],
		Expires: time.Unix(int64(binary.BigEndian.Uint64(payload[:8])), 0),
	}
	if !now.Before(c.Expires) {
		return c, errChallengeExpired
	}
	return c, nil
}
