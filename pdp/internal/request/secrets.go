package request

import (
	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

// Secret, card and identity-number detection. The sources (000 §4.1, 003
// §3.1) forbid collecting, logging or echoing payment passwords, SMS
// codes, CVV/expiry or full card numbers, and a resident identity number
// is sensitive personal information; the decoder refuses them before
// anything else sees the request. The rules are pdp/internal/pii's, which
// the decision log's masker also uses: a key is refused exactly when the
// log would mask its value. What the decoder accepts on purpose, the log
// masks: identifier fields (long digit ids), secrets written in free text
// ("my pin is 1234": policies read user statements), numbers joined by
// list punctuation or mixed separators (coordinates and amounts look the
// same), cards split across neighbouring fields.

// isSecretKey reports whether a JSON key names a secret (pii.SecretKey).
func isSecretKey(key string) bool { return pii.SecretKey(key) }

// checkNumbers refuses a string (or number literal) holding a full card
// number or a resident identity number (pii.Refuse rules); a canonical
// UUID is exempt, as in the log.
func (p *parser) checkNumbers(s string) *pdp.Error {
	if !pii.MayHoldNumber(s) || pii.IsUUID(s) {
		return nil
	}
	switch p.scan.FirstNumber(s, pii.Refuse) {
	case pii.Card:
		return p.err(pdp.CodeCardNumber, "value looks like a full card number; send only card_bin")
	case pii.ResidentID:
		return p.err(pdp.CodeIdentityNumber, "value looks like a resident identity number, which must never be sent")
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
