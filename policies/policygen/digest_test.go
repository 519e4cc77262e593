package policygen

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// generatedRulesDigest is the SHA-256 of GenerateRules(1000). The engine's
// differential corpus (pdp/engine/policygen_test.go) holds a copy of the
// generator, made when the generator lived in the harness; both packages
// check this digest, so a change to either copy fails a test until both
// agree again.
const generatedRulesDigest = "cdd8e8830cacd8d59eee8a83f4c746890ec6a0cb9e3ee17069e22d37cc9f2df4"

func TestGenerateRulesDigest(t *testing.T) {
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(GenerateRules(1000)))); got != generatedRulesDigest {
		t.Fatalf("GenerateRules(1000) digest %s, want %s: update the copy in pdp/engine/policygen_test.go and both digests", got, generatedRulesDigest)
	}
}
