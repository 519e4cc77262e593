package request

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"golang.org/x/text/unicode/norm"

	"github.com/riskpdp/riskpdp/pdp"
)

// Input is a decoded decide request: the typed fields the sidecar reads and
// the policy input document under construction. The enrichment steps add
// their objects (reputation, velocity, ...) before evaluation.
type Input struct {
	Req pdp.Request
	// Now is the decision time; every derived fact uses it.
	Now time.Time
	// Derived holds the facts computed from the request (account age, hours
	// since a sensitive change, ...). Enrichment may refine them.
	Derived Derived
	// Body is the request body as received. It aliases the caller's
	// buffer: copy it to keep it past the call.
	Body []byte
	// Rates is the rate table the decision converts amounts with (the
	// policy set's, see Engine.Rates; SetRates); nil converts nothing.
	Rates *pdp.Rates
	// Purchase is the purchase the operation is counted under: the
	// request's (pdp.Request.Purchase) unless the decision service knows
	// better (an order already paid by another transaction).
	Purchase string

	// top holds the request's top-level members. The known objects
	// (device, txn, account) keep their members as a list: the fast path
	// reads them by a scan that is cheaper than hashing, and only topdown
	// needs them as OPA objects (term).
	top []member
	// Enrich is filled in by the decision service before evaluation.
	Enrich Enrichment
	// deviceNewSet: the sidecar, not the caller, set device.new
	// (SetDeviceKnown).
	deviceNewSet bool
}

// member is a top-level input member: a value, or an object kept as its
// member list until needed.
type member struct {
	key     *ast.Term
	val     *ast.Term
	members [][2]*ast.Term
}

// value returns the member as a term, building the object once.
func (m *member) value() *ast.Term {
	if m.val == nil {
		m.val = ast.NewTerm(ast.NewObject(m.members...))
	}
	return m.val
}

// Derived are facts the sidecar computes once so that policies and plugins
// agree on them. The policy sees them under input.derived.
type Derived struct {
	// AccountAgeDays is the account age in days: from account.created_at,
	// else from the time the sidecar first saw the account (NoteFirstSeen);
	// -1 when neither is known.
	AccountAgeDays float64
	// SensitiveChangeHours is the time since the latest password reset,
	// phone change or payment-password change, -1 when none is known.
	SensitiveChangeHours float64
	// IPForeign: the IP country is known and not known to be the home
	// country (a request without account.home_country counts as foreign:
	// a missing field is never evidence of safety).
	IPForeign bool
	// IPDomestic: the IP country and the home country are both known and
	// the same: the positive evidence a rule that waives a check needs.
	IPDomestic bool
	// CrossBorder: the ship-to country is known and not known to be the
	// home country.
	CrossBorder bool
	// DeviceKnown: the sidecar has seen the account use this device before
	// (with risk state off: the caller said device.new is false), and the
	// caller does not say it is new. A missing device is not known.
	DeviceKnown bool
	// DestinationNew: a withdrawal goes to a destination the account has
	// not moved money to at least pdp.NewDestinationWindow before
	// (SetDestinationKnown; with risk state off: the caller did not say
	// txn.destination_new is false), or the caller says it is new. A
	// withdrawal without txn.instrument goes somewhere new. False for the
	// other stages.
	DestinationNew bool
	// VIP: the account is a VIP: on the VIP list when risk state is on
	// (the caller's account.vip relaxes nothing then), account.vip without
	// risk state. Always true or false, so rules can index on it.
	VIP bool
	// AmountBase is the request's amount in the base currency of the
	// policy's rates (SetRates; the amount itself without a rate table, 0
	// for a login): every amount the policy compares is in base units.
	AmountBase float64
	// The policy also sees derived.money (every stage but login) and
	// derived.outflow (payment, withdrawal): flags to index rules on.
}

// Limits bound what the decoder accepts.
type Limits struct {
	MaxDepth  int
	MaxAmount float64
}

// DefaultLimits are the sidecar's default limits (config.Default's).
var DefaultLimits = Limits{MaxDepth: 16, MaxAmount: 1e12}

// Well-known keys of the input document, shared by every request.
var (
	keyDerived = ast.StringTerm("derived")
	keyNew     = ast.StringTerm("new")

	stageTerms [pdp.NumStages]*ast.Term
)

func init() {
	for _, s := range pdp.Stages {
		stageTerms[s] = ast.StringTerm(s.String())
	}
}

// reservedKeys are filled in by the sidecar; a caller may not send them.
var reservedKeys = map[string]bool{
	"derived": true, "reputation": true, "velocity": true, "verification": true,
	"account_state": true, "scores": true, "pdp": true,
}

// sensitiveChanges are account changes that make a following large money
// movement suspicious (DOMAIN: "a password reset, phone-number change or
// payment-password change shortly followed by a large money movement").
var sensitiveChanges = map[string]bool{"password_reset": true, "phone_change": true, "pay_password_change": true}

// changeKinds are the account change kinds a request or event may carry.
var changeKinds = map[string]bool{
	"password_reset": true, "phone_change": true, "pay_password_change": true,
	"profile_change": true, "email_change": true, "device_bind": true,
}

// DecodeRequest decodes and validates a decide request body.
func DecodeRequest(body []byte, now time.Time, lim Limits) (*Input, error) {
	in := &Input{Now: now, Body: body, top: make([]member, 0, 8)}
	in.Derived = Derived{AccountAgeDays: -1, SensitiveChangeHours: -1}
	p := &parser{buf: body, maxDepth: lim.MaxDepth, path: make([]pathElem, 0, 8)}
	var seenStage, seenUID bool
	err := p.objectKeys(func(key string, kt *ast.Term) *pdp.Error {
		var t *ast.Term
		var ms [][2]*ast.Term
		var err *pdp.Error
		switch key {
		case "request_id":
			in.Req.RequestID, t, err = p.ident(128, false)
		case "challenge_id":
			in.Req.ChallengeID, t, err = p.ident(2048, false)
		case "locale":
			in.Req.Locale, t, err = p.locale()
		case "stage":
			seenStage = true
			t, err = p.stage(&in.Req.Stage)
		case "uid":
			seenUID = true
			in.Req.UID, t, err = p.ident(128, true)
		case "device":
			ms, err = p.device(&in.Req.Device)
		case "txn":
			in.Req.HasTxn = true
			ms, err = p.txn(&in.Req.Txn, lim.MaxAmount)
		case "account":
			ms, err = p.account(&in.Req.Account)
		case "context":
			ms, err = p.context()
		default:
			if reservedKeys[key] {
				return p.err(pdp.CodeReservedField, "is computed by the sidecar and may not be sent")
			}
			return p.unknown(key)
		}
		if err != nil {
			return err
		}
		in.top = append(in.top, member{key: kt, val: t, members: ms})
		return nil
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, err
	}
	switch {
	case !seenStage:
		return nil, pdp.Errorf(pdp.CodeMissingField, "stage", "is required")
	case !seenUID:
		return nil, pdp.Errorf(pdp.CodeMissingField, "uid", "is required")
	case in.Req.Stage.NeedsTxn() && !in.Req.HasTxn:
		return nil, pdp.Errorf(pdp.CodeMissingField, "txn", "is required for stage %s", in.Req.Stage)
	case in.Req.HasTxn && in.Req.Txn.ID == "" && in.Req.Stage.NeedsTxn():
		return nil, pdp.Errorf(pdp.CodeMissingField, "txn.id", "is required for stage %s", in.Req.Stage)
	case in.Req.HasTxn && in.Req.Txn.Amount < 0 && in.Req.Stage.NeedsTxn():
		return nil, pdp.Errorf(pdp.CodeMissingField, "txn.amount", "is required for stage %s", in.Req.Stage)
	case in.Req.HasTxn && in.Req.Txn.Currency == "" && in.Req.Stage.NeedsTxn():
		// An amount means nothing without its currency: thresholds are
		// per currency.
		return nil, pdp.Errorf(pdp.CodeMissingField, "txn.currency", "is required for stage %s", in.Req.Stage)
	}
	if in.Req.Txn.Amount < 0 {
		in.Req.Txn.Amount = 0 // a login may carry a txn without an amount
	}
	in.derive()
	return in, nil
}

// derive computes the facts of Derived from the typed request.
func (in *Input) derive() {
	r := &in.Req
	if !r.Account.CreatedAt.IsZero() {
		in.Derived.AccountAgeDays = ageDays(in.Now, r.Account.CreatedAt)
	}
	for _, c := range r.Account.RecentChanges {
		if sensitiveChanges[c.Kind] {
			in.NoteSensitiveChange(c.At)
		}
	}
	home, ipc, ship := r.Account.HomeCountry, r.Device.IPCountry, r.Txn.ShipCountry
	in.Derived.IPForeign = ipc != "" && ipc != home
	in.Derived.IPDomestic = ipc != "" && ipc == home
	in.Derived.CrossBorder = ship != "" && ship != home
	in.Derived.DeviceKnown = r.Device.ID != "" && r.Device.New == pdp.False
	in.Derived.DestinationNew = r.Stage == pdp.StageWithdrawal && r.Txn.DestinationNew != pdp.False
	in.Derived.VIP = r.Account.VIP.IsTrue()
	in.SetRates(nil)
}

// SetRates sets the rate table the request's amounts convert with, and
// input.derived.amount_base.
func (in *Input) SetRates(r *pdp.Rates) {
	in.Rates = r
	if in.Req.Stage.NeedsTxn() {
		in.Derived.AmountBase = r.ToBase(in.Req.Txn.Amount, in.Req.Txn.Currency)
	}
}

// ageDays is the age in whole days at now of something that began at t.
func ageDays(now, t time.Time) float64 { return math.Max(0, math.Floor(now.Sub(t).Hours()/24)) }

// NoteFirstSeen sets the account's age from t, the time the sidecar first
// saw the account, when the caller sent no account.created_at. The
// caller's date counts when it is sent: the sidecar cannot know when an
// account was opened, only that it existed when it first saw it; without
// either the age is unknown (-1), which the reference policy treats as a
// new account.
func (in *Input) NoteFirstSeen(t time.Time) {
	if in.Req.Account.CreatedAt.IsZero() && !t.IsZero() {
		in.Derived.AccountAgeDays = ageDays(in.Now, t)
	}
}

// NoteSensitiveChange folds a sensitive change at time at into the derived
// facts (the latest change wins). Hours are rounded to hundredths: exact
// enough for any window, and short decimals keep OPA's number comparisons
// on their fast path (more than 15 significant digits fall back to big.Rat).
func (in *Input) NoteSensitiveChange(at time.Time) {
	h := math.Round(math.Max(0, in.Now.Sub(at).Hours())*100) / 100
	if in.Derived.SensitiveChangeHours < 0 || h < in.Derived.SensitiveChangeHours {
		in.Derived.SensitiveChangeHours = h
	}
}

// ident parses an identifier string of at most max bytes. Identifiers are
// exempt from the card and identity-number scan (order ids are often long
// digit runs); the decision log masks such numbers there.
// Control characters (NUL included) and U+FFFD (what a lone UTF-16
// surrogate escape decodes to) are refused: "u-1\u0000" must not be a
// second name for the blocklisted "u-1" in a policy's eyes.
func (p *parser) ident(max int, required bool) (string, *ast.Term, *pdp.Error) {
	s, t, err := p.shortString(max, required)
	if err == nil && strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) {
		return "", nil, p.err(pdp.CodeInvalidValue, "must not contain control characters or lone surrogates")
	}
	return s, t, err
}

// shortString parses a string of at most max bytes.
func (p *parser) shortString(max int, required bool) (string, *ast.Term, *pdp.Error) {
	if p.peek() != '"' {
		return "", nil, p.err(pdp.CodeWrongType, "must be a string")
	}
	s, err := p.str()
	if err != nil {
		return "", nil, err
	}
	if required && s == "" {
		return "", nil, p.err(pdp.CodeInvalidValue, "must not be empty")
	}
	if len(s) > max {
		return "", nil, p.err(pdp.CodeInvalidValue, "longer than %d bytes", max)
	}
	return s, ast.StringTerm(s), nil
}

// text parses a free-form short string (scanned for card and identity
// numbers).
func (p *parser) text(max int) (string, *ast.Term, *pdp.Error) {
	s, t, err := p.shortString(max, false)
	if err == nil {
		err = p.checkNumbers(s)
	}
	if err != nil {
		return "", nil, err
	}
	return s, t, nil
}

func (p *parser) stage(out *pdp.Stage) (*ast.Term, *pdp.Error) {
	if p.peek() != '"' {
		return nil, p.err(pdp.CodeWrongType, "must be a string")
	}
	s, err := p.str()
	if err != nil {
		return nil, err
	}
	st, ok := pdp.ParseStage(s)
	if !ok {
		return nil, p.err(pdp.CodeUnknownStage, "must be one of login, order, payment, withdrawal, repayment")
	}
	*out = st
	return stageTerms[st], nil
}

// locale parses a language tag such as "zh", "zh-CN" or "en-SG": 2 to 35
// ASCII letters, digits and hyphens, starting with a letter.
func (p *parser) locale() (string, *ast.Term, *pdp.Error) {
	s, t, err := p.ident(35, true)
	if err != nil {
		return "", nil, err
	}
	if !IsLocale(s) {
		return "", nil, p.err(pdp.CodeInvalidValue, "must be a language tag such as \"zh\" or \"en-SG\"")
	}
	return s, t, nil
}

// IsLocale reports whether s is a language tag as a request's locale must
// be: 2 to 35 ASCII letters, digits and hyphens, starting with a letter.
func IsLocale(s string) bool {
	ok := len(s) >= 2 && len(s) <= 35 && (s[0]|0x20) >= 'a' && (s[0]|0x20) <= 'z'
	for i := 0; i < len(s) && ok; i++ {
		c := s[i]
		ok = c == '-' || c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'z'
	}
	return ok
}

// country parses an ISO 3166-1 alpha-2 code; lower case is upper-cased so
// that policies compare one spelling.
func (p *parser) country() (string, *ast.Term, *pdp.Error) {
	return p.code(2, "an ISO 3166-1 alpha-2 country code such as \"SG\"")
}

// code parses an n-letter code (country, currency), upper-cased.
func (p *parser) code(n int, what string) (string, *ast.Term, *pdp.Error) {
	s, _, err := p.ident(8, false)
	if err != nil {
		return "", nil, err
	}
	if len(s) != n {
		return "", nil, p.err(pdp.CodeInvalidValue, "must be %s", what)
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		default:
			return "", nil, p.err(pdp.CodeInvalidValue, "must be %s", what)
		}
	}
	s = string(b)
	return s, ast.StringTerm(s), nil
}

func (p *parser) boolean() (bool, *ast.Term, *pdp.Error) {
	switch p.peek() {
	case 't':
		return true, ast.InternedTerm(true), p.literal()
	case 'f':
		return false, ast.InternedTerm(false), p.literal()
	}
	return false, nil, p.err(pdp.CodeWrongType, "must be true or false")
}

// timestamp parses an RFC 3339 time string.
func (p *parser) timestamp() (time.Time, *ast.Term, *pdp.Error) {
	s, t, err := p.ident(64, false)
	if err != nil {
		return time.Time{}, nil, err
	}
	ts, perr := time.Parse(time.RFC3339Nano, s)
	if perr != nil {
		return time.Time{}, nil, p.err(pdp.CodeInvalidValue, "must be an RFC 3339 time such as \"2026-11-21T10:00:00Z\"")
	}
	return ts, t, nil
}

var numberZero, _ = numberTerm("0")

// amount parses a non-negative finite number no larger than max.
func (p *parser) amount(max float64) (float64, *ast.Term, *pdp.Error) {
	c := p.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, nil, p.err(pdp.CodeWrongType, "must be a number")
	}
	raw, err := p.number()
	if err != nil {
		return 0, nil, err
	}
	v, perr := strconv.ParseFloat(raw, 64)
	switch {
	case perr != nil || math.IsInf(v, 0) || math.IsNaN(v):
		return 0, nil, p.err(pdp.CodeInvalidValue, "must be a finite number")
	case v < 0:
		return 0, nil, p.err(pdp.CodeInvalidValue, "must not be negative")
	case v > max:
		return 0, nil, p.err(pdp.CodeInvalidValue, "must not exceed %g", max)
	}
	t, _ := numberTerm(raw) // finite: always ok
	if v == 0 {
		t = numberZero // "-0", "0.0", "1e-400": all zero
	}
	return v + 0, t, nil
}

// members parses an object whose keys are all known: fields maps a key to
// the parser of its value. Unknown keys are errors. It returns the members;
// objectTerm makes them an OPA object.
func (p *parser) members(fields func(key string) (*ast.Term, *pdp.Error, bool)) ([][2]*ast.Term, *pdp.Error) {
	if p.peek() != '{' {
		return nil, p.err(pdp.CodeWrongType, "must be an object")
	}
	var pairs [][2]*ast.Term
	err := p.objectKeys(func(key string, kt *ast.Term) *pdp.Error {
		t, err, known := fields(key)
		if !known {
			return p.unknown(key)
		}
		if err != nil {
			return err
		}
		pairs = append(pairs, [2]*ast.Term{kt, t})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if pairs == nil {
		pairs = [][2]*ast.Term{} // an empty object is still an object
	}
	return pairs, nil
}

func (p *parser) device(d *pdp.Device) ([][2]*ast.Term, *pdp.Error) {
	return p.members(func(key string) (t *ast.Term, err *pdp.Error, known bool) {
		known = true
		switch key {
		case "id":
			d.ID, t, err = p.ident(128, false)
		case "ip":
			d.IP, t, err = p.ident(64, false)
			if err == nil {
				addr, perr := netip.ParseAddr(d.IP)
				if perr != nil {
					return nil, p.err(pdp.CodeInvalidValue, "must be an IPv4 or IPv6 address"), true
				}
				d.IP = addr.Unmap().String() // one spelling per address
				t = ast.StringTerm(d.IP)
			}
		case "ip_country":
			d.IPCountry, t, err = p.country()
		case "new":
			var b bool
			b, t, err = p.boolean()
			d.New = pdp.OptBoolOf(b)
		case "emulator", "rooted", "proxy":
			_, t, err = p.boolean()
		case "os", "model", "app_version":
			_, t, err = p.text(64)
		default:
			known = false
		}
		return
	})
}

func (p *parser) txn(x *pdp.Txn, maxAmount float64) ([][2]*ast.Term, *pdp.Error) {
	x.Amount = -1 // marks "absent" until DecodeRequest checks it
	return p.members(func(key string) (t *ast.Term, err *pdp.Error, known bool) {
		known = true
		switch key {
		case "id":
			x.ID, t, err = p.ident(128, true)
		case "order_id":
			x.OrderID, t, err = p.ident(128, true)
		case "amount":
			x.Amount, t, err = p.amount(maxAmount)
		case "currency":
			x.Currency, t, err = p.code(3, "an ISO 4217 currency code such as \"CNY\"")
		case "category":
			x.Category, t, err = p.text(64)
		case "merchant":
			x.Merchant, t, err = p.ident(128, false)
		case "payment_method":
			x.PaymentMethod, t, err = p.text(32)
		case "instrument":
			// A fingerprint the sidecar keeps (known destinations,
			// instrument counts): never a card or identity number.
			if x.Instrument, t, err = p.ident(128, true); err == nil {
				err = p.checkNumbers(x.Instrument)
			}
		case "ship_country":
			x.ShipCountry, t, err = p.country()
		case "card_bin":
			x.CardBIN, t, err = p.ident(8, false)
			if err == nil && !isBIN(x.CardBIN) {
				err = p.err(pdp.CodeInvalidValue, "must be the first 6 to 8 digits of the card")
			}
		case "purpose":
			_, t, err = p.text(64)
		case "destination_new":
			var b bool
			b, t, err = p.boolean()
			x.DestinationNew = pdp.OptBoolOf(b)
		default:
			known = false
		}
		return
	})
}

// MaxStatement bounds context.user_statement, in bytes.
const MaxStatement = 2000

// context parses the context object. It is free-form, but for the keys the
// reference policy reads: a flag sent as "true" or 1 would silently not
// fire, so third_party_guidance and remote_assistance must be booleans and
// user_statement a string of at most MaxStatement bytes. The statement is
// canonicalized (NFKC: fullwidth letters and digits, ligatures and other
// compatibility forms read as their plain form), so that a policy matches
// one spelling of what the user typed.
func (p *parser) context() ([][2]*ast.Term, *pdp.Error) {
	if p.peek() != '{' {
		return nil, p.err(pdp.CodeWrongType, "must be an object")
	}
	pairs := [][2]*ast.Term{}
	err := p.objectKeys(func(key string, kt *ast.Term) *pdp.Error {
		var t *ast.Term
		var err *pdp.Error
		switch key {
		case "third_party_guidance", "remote_assistance":
			_, t, err = p.boolean()
		case "user_statement":
			t, err = p.statement()
		default:
			if err := p.secretKey(key); err != nil {
				return err
			}
			t, err = p.value()
		}
		if err != nil {
			return err
		}
		pairs = append(pairs, [2]*ast.Term{kt, t})
		return nil
	})
	return pairs, err
}

// statement parses context.user_statement (see context).
func (p *parser) statement() (*ast.Term, *pdp.Error) {
	s, t, err := p.text(MaxStatement)
	if err != nil {
		return nil, err
	}
	if norm.NFKC.IsNormalString(s) {
		return t, nil
	}
	if s = norm.NFKC.String(s); len(s) > MaxStatement {
		return nil, p.err(pdp.CodeInvalidValue, "longer than %d bytes once canonicalized (NFKC)", MaxStatement)
	}
	return ast.StringTerm(s), nil
}

// unknown rejects a key outside the schema, as a secret if it looks like one.
func (p *parser) unknown(key string) *pdp.Error {
	if err := p.secretKey(key); err != nil {
		return err
	}
	return p.err(pdp.CodeUnknownField, "unknown field")
}

func isBIN(s string) bool {
	if len(s) < 6 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func (p *parser) account(a *pdp.Account) ([][2]*ast.Term, *pdp.Error) {
	return p.members(func(key string) (t *ast.Term, err *pdp.Error, known bool) {
		known = true
		switch key {
		case "home_country":
			a.HomeCountry, t, err = p.country()
		case "created_at":
			a.CreatedAt, t, err = p.timestamp()
		case "vip":
			var b bool
			b, t, err = p.boolean()
			a.VIP = pdp.OptBoolOf(b)
		case "recent_changes":
			t, err = p.changes(&a.RecentChanges)
		default:
			known = false
		}
		return
	})
}

// maxChanges bounds account.recent_changes.
const maxChanges = 32

func (p *parser) changes(out *[]pdp.AccountChange) (*ast.Term, *pdp.Error) {
	if p.peek() != '[' {
		return nil, p.err(pdp.CodeWrongType, "must be an array")
	}
	var elems []*ast.Term
	err := p.arrayElems(func(i int) *pdp.Error {
		if i >= maxChanges {
			return p.err(pdp.CodeInvalidValue, "at most %d changes", maxChanges)
		}
		var c pdp.AccountChange
		var seenKind, seenAt bool
		ms, err := p.members(func(key string) (t *ast.Term, err *pdp.Error, known bool) {
			known = true
			switch key {
			case "kind":
				seenKind = true
				c.Kind, t, err = p.ident(32, true)
				if err == nil && !changeKinds[c.Kind] {
					err = p.err(pdp.CodeInvalidValue, "unknown change kind %q", c.Kind)
				}
			case "at":
				seenAt = true
				c.At, t, err = p.timestamp()
			default:
				known = false
			}
			return
		})
		if err != nil {
			return err
		}
		if !seenKind {
			return pdp.Errorf(pdp.CodeMissingField, p.field()+".kind", "is required")
		}
		if !seenAt {
			return pdp.Errorf(pdp.CodeMissingField, p.field()+".at", "is required")
		}
		*out = append(*out, c)
		elems = append(elems, ast.NewTerm(ast.NewObject(ms...)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ast.ArrayTerm(elems...), nil
}
