package pdp

import (
	"strings"
	"testing"
)

// A language tag is case-insensitive: a request's "ZH" or "zh-cn" is
// answered in the "zh" templates (it was answered in the default locale's),
// and the data's "zh-CN" is found by "zh-cn".
func TestMessagesLocaleIgnoresCase(t *testing.T) {
	m, err := NewMessages(map[string]map[string]string{
		"en":    {SituationVerify: "Please verify."},
		"zh":    {SituationVerify: "请验证。"},
		"zh-HK": {SituationVerify: "請驗證。"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ locale, fallback, want string }{
		{"zh", "en", "请验证。"},
		{"ZH", "en", "请验证。"},
		{"Zh-cN", "en", "请验证。"},
		{"zh-hk", "en", "請驗證。"},
		{"ZH-HK", "en", "請驗證。"},
		{"fr", "EN", "Please verify."},
		{"", "ZH", "请验证。"},
	} {
		got, ok := m.Text(c.locale, c.fallback, SituationVerify, MessageVars{})
		if !ok || got != c.want {
			t.Errorf("Text(%q, %q) = %q, %v; want %q", c.locale, c.fallback, got, ok, c.want)
		}
	}
}

func TestMessagesRefuseTwoSpellingsOfALocale(t *testing.T) {
	_, err := NewMessages(map[string]map[string]string{
		"zh-CN": {SituationVerify: "请验证。"},
		"zh-cn": {SituationVerify: "请验证"},
	})
	if err == nil || !strings.Contains(err.Error(), "case-insensitive") {
		t.Fatalf("err = %v, want two spellings refused", err)
	}
}
