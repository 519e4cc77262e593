package bench

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// generatedRulesDigest is the SHA-256 of GenerateRules(1000). The engine's
// differential corpus (pdp/internal/policy/policygen_test.go) holds a copy of the
// generator, which it cannot import; both packages check this digest, so
// a change to either copy fails a test until both agree again.
const generatedRulesDigest = "cdd8e8830cacd8d59eee8a83f4c746890ec6a0cb9e3ee17069e22d37cc9f2df4"

func TestGenerateRulesDigest(t *testing.T) {
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(GenerateRules(1000)))); got != generatedRulesDigest {
		t.Fatalf("GenerateRules(1000) digest %s, want %s: update the copy in pdp/internal/policy/policygen_test.go and both digests", got, generatedRulesDigest)
	}
}
