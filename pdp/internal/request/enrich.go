package request

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// Enrichment is what the sidecar knows about a request beyond the request
// itself; the decision service fills it in before evaluation. The policy
// sees it under input.reputation, input.velocity, input.verification,
// input.account_state and input.scores (see enrichSchema for every field).
//
// It stays typed: the fast path reads single values through the schema
// without building anything, and topdown gets OPA objects built from the
// same schema only when it needs them, so the two views cannot disagree.
type Enrichment struct {
	// Reputation of the uid, device, IP and card BIN, when state is on.
	Reputation    [4]pdp.Reputation
	HasReputation bool
	// Velocity counted from the traffic, including this request.
	Velocity *pdp.Velocity
	// Verification of this transaction's step-up challenge, if any.
	Verification VerificationView
	// Account is the durable state of the UID, when state is on.
	Account *AccountView
	// Scores of the plugins that answered, by plugin.
	Scores []Score
	// Unavailable names the plugins that did not answer (a fault, a
	// quarantine): input.scores_unavailable, {name: true}.
	Unavailable []string
	// Unknown names the parts of the risk state that could not be read in
	// time ("reputation", "account", "verification": a shared state store
	// past its read budget); input.state_unknown, so the policy decides
	// with what is known.
	Unknown []string
}

// Subject indexes of Enrichment.Reputation.
const (
	RepUID = iota
	RepDevice
	RepIP
	RepCardBIN
)

// VerificationView is input.verification.
type VerificationView struct {
	// Status is none, pending, passed, failed, refused or expired.
	Status      string
	ChallengeID string
	Methods     []string // asked for
	Passed      []string // passed so far
}

// AccountView is input.account_state: the account's state as it applies
// to this request.
type AccountView struct {
	Frozen          bool   // a full freeze is in force
	FreezeKind      string // temporary, review, permanent ("" when not frozen)
	FrozenUntil     time.Time
	StageRestricted bool     // a grey freeze denies this request's stage
	Restricted      []string // stages a grey freeze denies
	Probation       bool
	ProbationUntil  time.Time
	// Limit in force (zero values: none): the smallest caps of all limits,
	// and the smallest daily cap an operator set (it counts every money
	// movement; a release's cap only large ones).
	DailyAmount, MaxAmount float64
	OperatorDailyAmount    float64
	LimitCurrency          string
	// EverFrozen: the account has been frozen before (within what the
	// state keeps), part of "a long clean history".
	EverFrozen   bool
	KnownDevices int
	// ProfileChanges7d counts the profile and contact changes (profile,
	// email, phone, device binding) reported in the last 7 days;
	// Freezes24h the freezes put on the account in the last 24 hours;
	// NewDestinations24h, for a withdrawal, the destinations other than
	// its own that the account first moved money to in the last 24 hours
	// (pdp.NewDestinationWindow); Flags24h the
	// follow-up flags ("key tracking": a scam statement, an extreme
	// amount...) put on the account in the last 24 hours by other
	// transactions than this request's.
	ProfileChanges7d, Freezes24h, NewDestinations24h, Flags24h int
}

// Score is one plugin's answer under input.scores.<plugin>.
type Score struct {
	Plugin  string
	Score   float64
	Reasons []string
}

// field describes one key of the enrichment document: a leaf with a
// getter, or an object of sub-fields. A nil getter result means the key is
// absent. The schema is the one description of the enrichment: the policy
// input's terms (fieldTerm), the fast path's reads (compileEnrichPath), the
// log's JSON (AppendEnrichment) and its reading back (ReplayInput) all walk
// it.
type field struct {
	name    *ast.Term
	get     func(in *Input) *ast.Term
	sub     []field
	present func(in *Input) bool // objects: whether the key is there at all
	// num is a numeric leaf's value as a float64 (before numValue), for
	// the fast path's native comparisons; get is floatTerm of the same.
	num func(in *Input) float64
	// dst is where a leaf is read back from the log (ReplayInput): a
	// pointer to the Go value get reads, which encoding/json decodes into.
	dst func(in *Input) any
	// read reads a leaf the log writes in another form than its Go value
	// (scores, scores_unavailable); it takes precedence over dst.
	read func(in *Input, raw json.RawMessage) error
	// open sets an object up when a logged input has it (the velocity and
	// account values allocated, reputation marked present).
	open func(in *Input)
	// put, if set, appends a leaf's JSON straight from its Go value, the
	// bytes get's term would be written as (no term built, nothing
	// allocated), and reports whether the leaf is there; the decision log
	// writes leaves with it (Input.AppendEnrichment).
	put func(in *Input, b []byte) ([]byte, bool)
}

// leaf is a leaf read by get and read back into dst.
func leaf[T any](name string, dst func(in *Input) *T, get func(in *Input) *ast.Term) field {
	return field{name: ast.StringTerm(name), get: get, dst: func(in *Input) any { return dst(in) }}
}

// boolLeaf is a boolean leaf.
func boolLeaf(name string, p func(in *Input) *bool) field {
	f := leaf(name, p, func(in *Input) *ast.Term { return boolTerm(*p(in)) })
	f.put = func(in *Input, b []byte) ([]byte, bool) { return strconv.AppendBool(b, *p(in)), true }
	return f
}

// stringLeaf is a string leaf, absent when empty if omitEmpty.
func stringLeaf(name string, omitEmpty bool, p func(in *Input) *string) field {
	f := leaf(name, p, func(in *Input) *ast.Term {
		if s := *p(in); s != "" || !omitEmpty {
			return ast.StringTerm(s)
		}
		return nil
	})
	f.put = func(in *Input, b []byte) ([]byte, bool) {
		if s := *p(in); s != "" || !omitEmpty {
			return jsonw.AppendString(b, s), true
		}
		return b, false
	}
	return f
}

// listLeaf is an array of strings.
func listLeaf(name string, p func(in *Input) *[]string) field {
	f := leaf(name, p, func(in *Input) *ast.Term { return stringsTerm(*p(in)) })
	f.put = func(in *Input, b []byte) ([]byte, bool) { // [] for nil too, as stringsTerm
		b = append(b, '[')
		for i, s := range *p(in) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, s)
		}
		return append(b, ']'), true
	}
	return f
}

// timeLeaf is a time, absent when zero.
func timeLeaf(name string, p func(in *Input) *time.Time) field {
	f := leaf(name, p, func(in *Input) *ast.Term { return timeTerm(*p(in)) })
	f.put = func(in *Input, b []byte) ([]byte, bool) {
		t := *p(in)
		if t.IsZero() {
			return b, false
		}
		b = append(b, '"')
		return append(t.UTC().AppendFormat(b, time.RFC3339), '"'), true // RFC 3339 needs no escape
	}
	return f
}

// numLeaf is a leaf holding a number: the policy sees floatTerm(num(in)).
func numLeaf[T uint32 | int | float64](name string, p func(in *Input) *T) field {
	num := func(in *Input) float64 { return float64(*p(in)) }
	return field{name: ast.StringTerm(name), num: num, get: func(in *Input) *ast.Term { return floatTerm(num(in)) },
		dst: func(in *Input) any { return p(in) }}
}

func object(name string, present func(in *Input) bool, open func(in *Input), sub ...field) field {
	return field{name: ast.StringTerm(name), sub: sub, present: present, open: open}
}

func boolTerm(b bool) *ast.Term { return ast.InternedTerm(b) }

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

func timeTerm(t time.Time) *ast.Term {
	if t.IsZero() {
		return nil
	}
	return ast.StringTerm(t.UTC().Format(time.RFC3339))
}

func reputationFields(i int) []field {
	rep := func(in *Input) *pdp.Reputation { return &in.Enrich.Reputation[i] }
	return []field{
		boolLeaf("blocked", func(in *Input) *bool { return &rep(in).Blocked }),
		boolLeaf("allowed", func(in *Input) *bool { return &rep(in).Allowed }),
		boolLeaf("vip", func(in *Input) *bool { return &rep(in).VIP }),
	}
}

func windowFields(w func(v *pdp.Velocity) *pdp.WindowCounts) []field {
	win := func(in *Input) *pdp.WindowCounts { return w(in.Enrich.Velocity) }
	return []field{
		numLeaf("count_1m", func(in *Input) *uint32 { return &win(in).Count1m }),
		numLeaf("count_1h", func(in *Input) *uint32 { return &win(in).Count1h }),
		numLeaf("count_24h", func(in *Input) *uint32 { return &win(in).Count24h }),
		numLeaf("amount_1m", func(in *Input) *float64 { return &win(in).Amount1m }),
		numLeaf("amount_1h", func(in *Input) *float64 { return &win(in).Amount1h }),
		numLeaf("amount_24h", func(in *Input) *float64 { return &win(in).Amount24h }),
		numLeaf("logins_1h", func(in *Input) *uint32 { return &win(in).Logins1h }),
	}
}

func hasVelocity(in *Input) bool { return in.Enrich.Velocity != nil }

func hasAccount(in *Input) bool { return in.Enrich.Account != nil }

func acct(in *Input) *AccountView { return in.Enrich.Account }

func vel(in *Input) *pdp.Velocity { return in.Enrich.Velocity }

func verif(in *Input) *VerificationView { return &in.Enrich.Verification }

// enrichSchema is the whole enrichment document.
var enrichSchema = []field{
	{name: ast.StringTerm("state_unknown"), present: func(in *Input) bool { return len(in.Enrich.Unknown) > 0 },
		get: func(in *Input) *ast.Term { return stringsTerm(in.Enrich.Unknown) },
		dst: func(in *Input) any { return &in.Enrich.Unknown }},
	object("reputation", func(in *Input) bool { return in.Enrich.HasReputation },
		func(in *Input) { in.Enrich.HasReputation = true },
		object("uid", nil, nil, reputationFields(RepUID)...),
		object("device", nil, nil, reputationFields(RepDevice)...),
		object("ip", nil, nil, reputationFields(RepIP)...),
		object("card_bin", nil, nil, reputationFields(RepCardBIN)...),
	),
	object("velocity", hasVelocity, func(in *Input) { in.Enrich.Velocity = &pdp.Velocity{} },
		object("uid", nil, nil, windowFields(func(v *pdp.Velocity) *pdp.WindowCounts { return &v.UID })...),
		object("device", nil, nil, windowFields(func(v *pdp.Velocity) *pdp.WindowCounts { return &v.Device })...),
		object("ip", nil, nil, windowFields(func(v *pdp.Velocity) *pdp.WindowCounts { return &v.IP })...),
		numLeaf("uid_devices_1h", func(in *Input) *uint32 { return &vel(in).UIDDevices1h }),
		numLeaf("device_uids_1h", func(in *Input) *uint32 { return &vel(in).DeviceUIDs1h }),
		numLeaf("spent_24h", func(in *Input) *float64 { return &vel(in).Spent24h }),
		numLeaf("attempts_1m", func(in *Input) *uint32 { return &vel(in).Attempts1m }),
		numLeaf("attempts_1h", func(in *Input) *uint32 { return &vel(in).Attempts1h }),
		numLeaf("uid_methods_1h", func(in *Input) *uint32 { return &vel(in).UIDMethods1h }),
		numLeaf("purchase_methods_1h", func(in *Input) *uint32 { return &vel(in).PurchaseMethods1h }),
		numLeaf("instrument_uids_1h", func(in *Input) *uint32 { return &vel(in).InstrumentUIDs1h }),
		numLeaf("uid_instruments_1h", func(in *Input) *uint32 { return &vel(in).UIDInstruments1h }),
		object("failures", nil, nil,
			numLeaf("payment_1h", func(in *Input) *uint32 { return &vel(in).Failures.Payment1h }),
			numLeaf("payment_24h", func(in *Input) *uint32 { return &vel(in).Failures.Payment24h }),
			numLeaf("pin_1h", func(in *Input) *uint32 { return &vel(in).Failures.PIN1h }),
			numLeaf("pin_24h", func(in *Input) *uint32 { return &vel(in).Failures.PIN24h }),
			numLeaf("login_1h", func(in *Input) *uint32 { return &vel(in).Failures.Login1h }),
			numLeaf("login_24h", func(in *Input) *uint32 { return &vel(in).Failures.Login24h }),
		),
	),
	object("verification", func(in *Input) bool { return in.Enrich.Verification.Status != "" },
		func(in *Input) { in.Enrich.Verification = VerificationView{} },
		stringLeaf("status", false, func(in *Input) *string { return &verif(in).Status }),
		stringLeaf("challenge_id", true, func(in *Input) *string { return &verif(in).ChallengeID }),
		listLeaf("methods", func(in *Input) *[]string { return &verif(in).Methods }),
		listLeaf("passed", func(in *Input) *[]string { return &verif(in).Passed }),
	),
	object("account_state", hasAccount, func(in *Input) { in.Enrich.Account = &AccountView{} },
		boolLeaf("frozen", func(in *Input) *bool { return &acct(in).Frozen }),
		stringLeaf("freeze_kind", true, func(in *Input) *string { return &acct(in).FreezeKind }),
		timeLeaf("frozen_until", func(in *Input) *time.Time { return &acct(in).FrozenUntil }),
		boolLeaf("stage_restricted", func(in *Input) *bool { return &acct(in).StageRestricted }),
		listLeaf("restricted", func(in *Input) *[]string { return &acct(in).Restricted }),
		boolLeaf("probation", func(in *Input) *bool { return &acct(in).Probation }),
		timeLeaf("probation_until", func(in *Input) *time.Time { return &acct(in).ProbationUntil }),
		boolLeaf("ever_frozen", func(in *Input) *bool { return &acct(in).EverFrozen }),
		leaf("known_devices", func(in *Input) *int { return &acct(in).KnownDevices },
			func(in *Input) *ast.Term { return ast.InternedTerm(acct(in).KnownDevices) }),
		numLeaf("profile_changes_7d", func(in *Input) *int { return &acct(in).ProfileChanges7d }),
		numLeaf("freezes_24h", func(in *Input) *int { return &acct(in).Freezes24h }),
		numLeaf("new_destinations_24h", func(in *Input) *int { return &acct(in).NewDestinations24h }),
		numLeaf("flags_24h", func(in *Input) *int { return &acct(in).Flags24h }),
		object("limit", func(in *Input) bool {
			return acct(in).DailyAmount > 0 || acct(in).MaxAmount > 0
		}, nil,
			numLeaf("daily_amount", func(in *Input) *float64 { return &acct(in).DailyAmount }),
			numLeaf("max_amount", func(in *Input) *float64 { return &acct(in).MaxAmount }),
			numLeaf("operator_daily_amount", func(in *Input) *float64 { return &acct(in).OperatorDailyAmount }),
			stringLeaf("currency", false, func(in *Input) *string { return &acct(in).LimitCurrency }),
		),
	),
	{name: ast.StringTerm("scores"), present: func(in *Input) bool { return len(in.Enrich.Scores) > 0 },
		read: readScores},
	{name: ast.StringTerm("scores_unavailable"), present: func(in *Input) bool { return len(in.Enrich.Unavailable) > 0 },
		get:  func(in *Input) *ast.Term { return trueSetTerm(in.Enrich.Unavailable) },
		read: readUnavailable},
}

// trueSetTerm is {name: true} for each name: an object, so that a rule can
// test one name with an equality (input.scores_unavailable.fraud_model ==
// true) that OPA's rule index and the fast path use.
func trueSetTerm(names []string) *ast.Term {
	pairs := make([][2]*ast.Term, len(names))
	for i, n := range names {
		pairs[i] = [2]*ast.Term{ast.StringTerm(n), ast.InternedTerm(true)}
	}
	return ast.NewTerm(ast.NewObject(pairs...))
}

// enrichField finds the schema field named by key among fields.
// NumericPath reports whether path (below input, without it) names a
// value the sidecar computes that is a number whenever it is present
// (input.velocity.spent_24h, a count, a limit): never false, never a
// string, whatever the request says (a request cannot carry these keys).
func NumericPath(path ast.Ref) bool {
	if len(path) < 2 {
		return false
	}
	f := enrichField(enrichSchema, path[0])
	if f == nil {
		return false
	}
	f, _, rest := enrichLeaf(f, path[1:])
	return f != nil && f.num != nil && len(rest) == 0
}

func enrichField(fields []field, key *ast.Term) *field {
	for i := range fields {
		if fields[i].name.Equal(key) {
			return &fields[i]
		}
	}
	return nil
}

// lookupEnrich resolves a path whose first key is an enrichment key, or
// reports ok=false when path[0] is not one.
func (in *Input) lookupEnrich(path ast.Ref) (t *ast.Term, ok bool) {
	f := enrichField(enrichSchema, path[0])
	if f == nil {
		return nil, false
	}
	if f.name.Value.Compare(ast.String("scores")) == 0 {
		if len(in.Enrich.Scores) == 0 {
			return nil, true
		}
		return LookupTerms(in.scoresTerm(), path[1:]), true
	}
	leaf, presence, rest := enrichLeaf(f, path[1:])
	if leaf == nil || !allPresent(presence, in) {
		return nil, true
	}
	return LookupTerms(in.fieldTerm(leaf), rest), true
}

// fieldTerm builds the value of a schema field.
func (in *Input) fieldTerm(f *field) *ast.Term {
	if f.get != nil {
		return f.get(in)
	}
	if f.name.Value.Compare(ast.String("scores")) == 0 {
		return in.scoresTerm()
	}
	pairs := make([][2]*ast.Term, 0, len(f.sub))
	for i := range f.sub {
		s := &f.sub[i]
		if s.present != nil && !s.present(in) {
			continue
		}
		if v := in.fieldTerm(s); v != nil {
			pairs = append(pairs, [2]*ast.Term{s.name, v})
		}
	}
	return ast.NewTerm(ast.NewObject(pairs...))
}

// enrichPairs are the enrichment members of the full input document.
func (in *Input) enrichPairs() [][2]*ast.Term {
	var pairs [][2]*ast.Term
	for i := range enrichSchema {
		f := &enrichSchema[i]
		if f.present != nil && !f.present(in) {
			continue
		}
		pairs = append(pairs, [2]*ast.Term{f.name, in.fieldTerm(f)})
	}
	return pairs
}

// scoresTerm builds input.scores: {plugin: {"score": s, "reasons": [...]}}.
func (in *Input) scoresTerm() *ast.Term {
	pairs := make([][2]*ast.Term, 0, len(in.Enrich.Scores))
	for _, s := range in.Enrich.Scores {
		pairs = append(pairs, [2]*ast.Term{ast.StringTerm(s.Plugin), ast.ObjectTerm(
			[2]*ast.Term{ast.StringTerm("score"), floatTerm(s.Score)},
			[2]*ast.Term{ast.StringTerm("reasons"), stringsTerm(s.Reasons)},
		)})
	}
	return ast.NewTerm(ast.NewObject(pairs...))
}
