package decide

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Step-up challenges are stateless: the challenge id is a token that binds
// the UID, the operation (pdp.VerificationBinding: stage, transaction,
// amount, currency, instrument, device), the methods and the expiry under an HMAC with
// a key the state keeps. Issuing one costs no write on the decision path;
// what is stored is the verification result, with the binding the token
// carries, when the payment service reports it. A forged, altered, expired
// or foreign token is rejected.
//
// Token: "c3." + base64url(payload) + "." + base64url(hmac[:16]), where the
// payload is the expiry (8 bytes, Unix seconds, big-endian), the stage (1
// byte), the uid, the transaction id, the amount (8 bytes, IEEE 754
// big-endian), the currency, the instrument, the device id, the number of
// methods and the methods; strings and the count are
// uvarint-length-prefixed, so no value can run into the next. Tokens of
// earlier formats ("c1.", which bound the transaction id alone; "c2.",
// which did not bind the instrument) are no longer accepted: a retry
// after one steps up again.

const challengePrefix = "c3."

// maxChallengeLen bounds a token: identifiers are at most 128 bytes each.
const maxChallengeLen = 2048

// challenge is a decoded challenge token.
type challenge struct {
	ID      string
	UID     string
	Binding pdp.VerificationBinding
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

// bindingOf is the operation a request is about: for a login its device,
// for every other stage its transaction, amount, currency, instrument (on
// a withdrawal, where the money goes) and device.
func bindingOf(r *pdp.Request) pdp.VerificationBinding {
	if r.Stage == pdp.StageLogin {
		return pdp.VerificationBinding{Stage: r.Stage, DeviceID: r.Device.ID}
	}
	return pdp.VerificationBinding{Stage: r.Stage, TxnID: r.Txn.ID, Amount: r.Txn.Amount, Currency: r.Txn.Currency,
		Instrument: r.Txn.Instrument, DeviceID: r.Device.ID}
}

func appendField(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func (s signer) issue(uid string, bd pdp.VerificationBinding, methods []string, expires time.Time) string {
	n := 8 + 1 + 8 + 7*binary.MaxVarintLen16 + len(uid) + len(bd.TxnID) + len(bd.Currency) + len(bd.Instrument) + len(bd.DeviceID)
	for _, m := range methods {
		n += binary.MaxVarintLen16 + len(m)
	}
	payload := make([]byte, 8, n)
	binary.BigEndian.PutUint64(payload, uint64(expires.Unix()))
	payload = append(payload, byte(bd.Stage))
	payload = appendField(payload, uid)
	payload = appendField(payload, bd.TxnID)
	payload = binary.BigEndian.AppendUint64(payload, math.Float64bits(bd.Amount))
	payload = appendField(payload, bd.Currency)
	payload = appendField(payload, bd.Instrument)
	payload = appendField(payload, bd.DeviceID)
	payload = binary.AppendUvarint(payload, uint64(len(methods)))
	for _, m := range methods {
		payload = appendField(payload, m)
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

// payloadReader reads a token payload; a short or malformed one sets bad.
type payloadReader struct {
	b   []byte
	bad bool
}

func (r *payloadReader) fixed(n int) []byte {
	if len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *payloadReader) uvarint() uint64 {
	v, w := binary.Uvarint(r.b)
	if w <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[w:]
	return v
}

func (r *payloadReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	return string(r.fixed(int(n)))
}

// open checks a token's MAC and expiry and decodes it.
func (s signer) open(token string, now time.Time) (challenge, error) {
	rest, ok := strings.CutPrefix(token, challengePrefix)
	if !ok || len(token) > maxChallengeLen {
		return challenge{}, errChallengeInvalid
	}
	p64, m64, ok := strings.Cut(rest, ".")
	if !ok || !base64URL(p64) || !base64URL(m64) {
		return challenge{}, errChallengeInvalid
	}
	enc := base64.RawURLEncoding.Strict() // one spelling per token
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(payload)) {
		return challenge{}, errChallengeInvalid
	}
	r := payloadReader{b: payload}
	c := challenge{ID: token}
	c.Expires = time.Unix(int64(binary.BigEndian.Uint64(r.fixed(8))), 0)
	c.Binding.Stage = pdp.Stage(r.fixed(1)[0])
	c.UID = r.str()
	c.Binding.TxnID = r.str()
	c.Binding.Amount = math.Float64frombits(binary.BigEndian.Uint64(r.fixed(8)))
	c.Binding.Currency = r.str()
	c.Binding.Instrument = r.str()
	c.Binding.DeviceID = r.str()
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
	}
	for i := uint64(0); i < n && !r.bad; i++ {
		c.Methods = append(c.Methods, r.str())
	}
	if r.bad || len(r.b) > 0 || !c.Binding.Stage.Valid() || len(c.Methods) == 0 {
		// A token this signer made always reads back whole: anything
		// else was not issued by it.
		return challenge{}, errChallengeInvalid
	}
	if !now.Before(c.Expires) {
		return c, errChallengeExpired
	}
	return c, nil
}

// base64URL reports whether s is made of the base64url alphabet only: Go's
// decoder skips \r and \n, so a token with a line break inside would
// decode as the token without it (two spellings of one token).
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
