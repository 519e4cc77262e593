package bundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/keys"
)

// FuzzBundle feeds archives to what runs before a bundle reaches the
// engine: OPA's reader (manifest, signature, size limits), once without
// and once with a verification key, then the sidecar's layout checks and
// extraction. Nothing may panic, nothing may be written outside the
// generation directory, and a signed loader must never accept an archive
// its key did not sign.
func FuzzBundle(f *testing.F) {
	// A small bundle and an ECDSA key keep each worker's start and each
	// execution cheap.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		f.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pol := fstest.MapFS{
		"riskpdp/decision.rego":    {Data: []byte("package riskpdp\n\ndecision := {\"outcome\": \"allow\"} if input.stage == \"login\"\n")},
		"riskpdp/config/data.json": {Data: []byte(`{"limit": 3}`)},
	}
	plugins := fstest.MapFS{"p.yaml": {Data: []byte("name: p\n")}, "p.wasm": {Data: []byte("\x00asm")}}
	var signed, unsignedB bytes.Buffer
	if _, err := Build(&signed, BuildOptions{Policies: pol, Plugins: plugins, Revision: "r", SigningKey: priv, Algorithm: "ES256"}); err != nil {
		f.Fatal(err)
	}
	if _, err := Build(&unsignedB, BuildOptions{Policies: pol, Revision: "r"}); err != nil {
		f.Fatal(err)
	}
	f.Add(signed.Bytes())
	f.Add(unsignedB.Bytes())
	f.Add(rewrite(f, signed.Bytes(), func(name string, b []byte) []byte {
		if name == "/riskpdp/config/data.json" {
			return []byte(`{"limit": 4}`)
		}
		return b
	}))
	f.Add(badDataBundle(f))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Add([]byte("not a bundle"))

	unsigned := &Loader{cfg: Config{SizeLimit: 1 << 20}, label: "fuzz"}
	verifying := &Loader{cfg: Config{SizeLimit: 1 << 20}, label: "fuzz",
		verify: opabundle.NewVerificationConfig(map[string]*keys.Config{"default": {Key: string(pub), Algorithm: "ES256"}}, "default", "", nil)}
	if _, err := verifying.read(signed.Bytes()); err != nil {
		f.Fatalf("the signed seed does not verify: %v", err)
	}

	f.Fuzz(func(t *testing.T, raw []byte) {
		if b, err := verifying.read(raw); err == nil {
			if len(b.Signatures.Signatures) == 0 {
				t.Fatal("verifying reader accepted an unsigned archive")
			}
		}
		b, err := unsigned.read(raw)
		if err != nil {
			return
		}
		if supported(b) != nil {
			return
		}
		gen := t.TempDir()
		if _, err := extract(raw, gen, 1<<20, b.Manifest); err != nil {
			return
		}
		if _, err := os.Stat(filepath.Join(gen, "policy", ".manifest")); err != nil {
			t.Fatalf("extracted bundle without policy/.manifest: %v", err)
		}
		_ = fs.WalkDir(os.DirFS(gen), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if p != "." && !strings.HasPrefix(p, "policy") && !strings.HasPrefix(p, "plugins") {
				t.Fatalf("extract wrote %s outside policy/ and plugins/", p)
			}
			return nil
		})
	})
}

// FuzzDestination checks the mapping of archive paths to files on disk.
func FuzzDestination(f *testing.F) {
	for _, s := range []string{"/riskpdp/rules.rego", "./a/data.json", "plugins/x.wasm", "plugins/a/b.yaml",
		"../etc/passwd", "a/../../b.rego", "/.manifest", "x/.signatures.json", "plugins/data.json", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, err := cleanName(p)
		if err != nil {
			return
		}
		if strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") || name == ".." {
			t.Fatalf("cleanName(%q) = %q leaves the bundle", p, name)
		}
		dst, err := destination(name)
		if err != nil || dst == "" {
			return
		}
		if !strings.HasPrefix(dst, "policy/") && !strings.HasPrefix(dst, PluginPrefix) {
			t.Fatalf("destination(%q) = %q", name, dst)
		}
		if strings.Contains("/"+dst+"/", "/../") {
			t.Fatalf("destination(%q) = %q has ..", name, dst)
		}
	})
}
