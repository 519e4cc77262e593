// Package pii recognises what the sidecar must never collect, log or
// store: the names of secrets in JSON keys (SecretKey), card and identity
// numbers in text (Scanner.Numbers, Scanner.FirstNumber) and secret values
// written in free text (Scanner.Secrets). The request decoder
// (pdp/internal/request) refuses keys and numbers; the decision log (pdp/internal/decisionlog)
// masks them, and free-text secrets, and cards split across neighbouring
// fields. Both use this package, so they agree on every spelling; the
// rules for the numbers themselves (issuer prefix and Luhn, GB 11643) are
// pdp.IsCardNumber and pdp.IsResidentID.
//
// # Keys
//
// A key is folded (fold.go: compatibility decomposition, marks and
// zero-width characters dropped, look-alike letters mapped, case folded,
// any-script digits to 0-9, separators dropped leaving word boundaries)
// and searched for the names of secrets (vocab.go):
//
//   - strong terms match anywhere inside a word: password, passwd, pwd,
//     passcode, cvv, cvc, securitycode, smscode, verifycode, cardnumber,
//     expiry, yanzhengma, shenfenzheng, ... ("newpassword", "cardcvv",
//     "mypasswordvalue");
//   - word terms (pin, pan, otp, ssn, mima, idnumber, cardno, validthru,
//     secret, ...) must start and end at word boundaries, or be glued to
//     modifiers in front ("paypin", "zhifumima", "userpin") and value
//     pieces behind ("pinvalue", "otpcode"); so "spin", "opinion",
//     "timespan", "japan", "footprint" and "hotpot" hold none;
//   - a term may span several words when it starts and ends at
//     boundaries: "c_v_v", "pass-word", "Pass Word", "sms_code",
//     "card_no", "id_number", "valid_thru" are cvv, password, smscode,
//     cardno, idnumber, validthru;
//   - Chinese terms, simplified and traditional (密码, 密碼, 验证码, 卡号,
//     有效期, 身份证, ...), match anywhere.
//
// A digit standing between letters is also read as the letter it imitates
// ("p4ssw0rd"), '@' and '$' as a and s, and a word "2fa" as "tfa" (no term
// starts with a digit).
//
// An occurrence names a fact about the secret, and the key is not secret
// for it, when a fact word follows it anywhere in the key (reset, at,
// failures, attempts, checked, result, status, enabled, sent, last, bin,
// masked, token, type, ... and Chinese 重置, 时间, 次数, 错误, 后四位, ...) or a
// time window does ("pin_1h", "pin_24h"): "password_reset_at",
// "pin_failures_1h", "cvv_checked", "card_number_last4", "密码重置时间" are
// facts the policy uses, the enrichment's "pin_1h" too. A key is secret
// when any occurrence is not such a fact.
//
// # Numbers and free text
//
// numbers.go: card numbers (digits of any script, leading zeros, groups
// joined by separators of one kind; in Mask mode also list punctuation,
// and mixed separators between groups of three digits or more) and
// Chinese resident identity numbers. text.go: a secret's name in free
// text followed by its value ("my password is hunter2", "验证码是123456").
//
// # RATIONALE
//
// A sub-package: folding needs golang.org/x/text's normalization tables,
// and the root package pdp uses the standard library only. The rules for
// the numbers need nothing and stay in pdp.
//
// One function for the decoder and the log. They used to have their own
// rules (the decoder matched most words anywhere, the log only at the end
// of a key); now the decoder refuses exactly the keys whose values the log
// would mask, and the log's second line covers what the decoder lets
// through on purpose: identifier fields, free text, split cards.
//
// Facts after the name, not before. "failed_pin" or "new_password" may
// well hold the value; "pin_failed" or "password_changed" name an event.
// A fact anywhere after the name wins, so "password_last_reset_at" is a
// fact: a key is a phrase whose head is its last part.
//
// What the decoder refuses, what only the log masks. A refused request is
// an outage for the caller; a masked log field costs a replay a value. So
// the decoder refuses what is unambiguous (a key naming a secret, a card
// written in one group or with one kind of separator, an identity number
// with a valid region, birth date and check digit: one random 18-digit
// run in about 40 000), and leaves to the log what innocent data
// resembles one time in ten: numbers joined by commas or by mixed
// separators (coordinates, times, lists of amounts), neighbouring numeric
// fields (a card split across them), and free text, which policies read
// ("the caller asked for my SMS code").
//
// Identity numbers are refused as cards are: a resident identity number is
// sensitive personal information (PIPL art. 28), no policy needs one, and
// the check digit and birth date make a false refusal rare.
//
// What is not caught: digits interleaved with letters ("4111a1111…"),
// mixed separators between groups of fewer than three digits, a card
// split across different objects or across keys, 15-digit first-generation
// identity numbers (no check digit), other countries' identity numbers by
// their value alone (by their key name, ssn, nric, hkid, aadhaar and
// passport are), names of secrets in scripts other than Latin and Chinese,
// and a secret stored under a key that names a fact ("password_reset_at":
// "hunter2"): facts must stay usable, and a caller that means to leak can
// always choose an innocent name.
//
// Cheap first. quickClean reads an ASCII key once, with separators and
// digits skipped, and looks each triple of letters up in a bit table of
// the three letters every term starts with; most keys stop there, without
// folding or allocating. Only keys with a candidate, with non-ASCII
// characters or with a digit between letters are folded, into scratch
// space reused through a sync.Pool (no allocation once warm). Every step
// after folding is linear in the key's length, so a 64 KiB key of
// repeated names costs milliseconds, not minutes.
package pii
