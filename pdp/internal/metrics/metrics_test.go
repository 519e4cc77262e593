package metrics

import (
	"bytes"
	"strings"
	"testing"
)

// TestFallbackCausesFromTheStart: a fresh registry exports every fallback
// cause at 0, so that the first fallback is an increase alerts see.
func TestFallbackCausesFromTheStart(t *testing.T) {
	m := New()
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, c := range FallbackCauses {
		if line := `pdp_decision_fallbacks_total{cause="` + c + `"} 0`; !strings.Contains(buf.String(), line+"\n") {
			t.Errorf("a fresh registry lacks %s", line)
		}
	}
	m.Fallback(FallbackTimeout)
	buf.Reset()
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `pdp_decision_fallbacks_total{cause="timeout"} 1`+"\n") {
		t.Error("a fallback is not counted")
	}
}
