package pdp

import (
	"fmt"
	"strings"
	"time"
)

// User-facing messages. A decision answers with a short text the service
// shows its user; it is chosen by the situation (verify, frozen, denied,
// an anti-fraud warning, a limit applied), never by the rule that fired,
// and written by the risk team in the policy's data, per locale.

// Situations a message is chosen for.
const (
	SituationVerify       = "verify"        // step_up
	SituationFrozen       = "frozen"        // denied: the account is frozen, until {until}
	SituationFrozenReview = "frozen_review" // denied: frozen until an operator releases it
	SituationDenied       = "denied"        // any other deny
	SituationAntiFraud    = "anti_fraud"    // the anti-fraud warning
	SituationLimit        = "limit_applied" // allowed with a cap: {daily_amount} {currency}
	SituationAllowed      = "allowed"       // allow
	// The account status's own (GET /v1/accounts/{uid}/status): what the
	// app shows outside a decision. Without them the status uses
	// limit_applied and verify.
	SituationLimited   = "limited"   // a daily cap in force: {daily_amount} {currency}
	SituationProbation = "probation" // large amounts need a verification
)

// Situations lists every situation, for validating templates.
var Situations = []string{SituationVerify, SituationFrozen, SituationFrozenReview, SituationDenied,
	SituationAntiFraud, SituationLimit, SituationAllowed, SituationLimited, SituationProbation}

// Messages are templates by locale ("zh", "en", "zh-HK") and situation.
// A template may use {until} (a freeze's end, "2006-01-02 15:04 UTC"),
// {daily_amount} and {currency} (a cap). A nil *Messages has none.
type Messages struct {
	byLocale map[string]map[string]string
}

// NewMessages validates templates: every situation known, every template
// non-empty. Locales are language tags, which are case-insensitive (BCP
// 47): "zh-CN", "zh-cn" and "ZH-CN" are one, so two spellings of one tag
// are refused.
func NewMessages(m map[string]map[string]string) (*Messages, error) {
	if len(m) == 0 {
		return nil, nil
	}
	folded := make(map[string]map[string]string, len(m))
	for loc, ts := range m {
		if loc == "" || strings.ContainsAny(loc, " _") {
			return nil, fmt.Errorf("messages: locale %q: want a tag such as \"zh\" or \"zh-CN\"", loc)
		}
		key := strings.ToLower(loc)
		if _, dup := folded[key]; dup {
			return nil, fmt.Errorf("messages: locale %q: another spelling of it is there (tags are case-insensitive)", loc)
		}
		folded[key] = ts
		for sit, t := range ts {
			if !contains(Situations, sit) {
				return nil, fmt.Errorf("messages.%s: unknown situation %q (want one of %s)", loc, sit, strings.Join(Situations, ", "))
			}
			if strings.TrimSpace(t) == "" && sit != SituationAllowed {
				return nil, fmt.Errorf("messages.%s.%s: empty", loc, sit)
			}
		}
	}
	return &Messages{byLocale: folded}, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Text is the template of situation for locale, with its variables filled
// in: the locale's own, else its language's ("zh-CN" → "zh"), else
// fallback's (the configured default locale), in any case ("ZH-cn" is
// "zh-CN"). ok is false when none has one.
func (m *Messages) Text(locale, fallback, situation string, vars MessageVars) (string, bool) {
	if m == nil {
		return "", false
	}
	locale, fallback = strings.ToLower(locale), strings.ToLower(fallback)
	for _, loc := range [...]string{locale, language(locale), fallback, language(fallback)} {
		if t, ok := m.byLocale[loc][situation]; ok && loc != "" {
			return vars.fill(t), true
		}
	}
	return "", false
}

func language(tag string) string {
	if i := strings.IndexByte(tag, '-'); i > 0 {
		return tag[:i]
	}
	return tag
}

// MessageVars are the values a template may show.
type MessageVars struct {
	Until       time.Time
	DailyAmount float64
	Currency    string
}

func (v MessageVars) fill(t string) string {
	if !strings.Contains(t, "{") {
		return t
	}
	until := ""
	if !v.Until.IsZero() {
		until = v.Until.UTC().Format("2006-01-02 15:04 UTC")
	}
	return strings.NewReplacer("{until}", until,
		"{daily_amount}", strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v.DailyAmount), "0"), "."),
		"{currency}", v.Currency).Replace(t)
}
