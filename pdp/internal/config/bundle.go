package config

import (
	"net/url"
	"time"
)

// Bundle configures loading policies, data and plugins from an
// OPA-compatible bundle service (`pdp serve --bundle-url URL --bundle-key
// FILE`, pdp/internal/bundle). It is off unless URL is set. The loader checks its
// settings again when it starts (pdp/internal/bundle Config).
type Bundle struct {
	// URL is the bundle's address, e.g.
	// https://bundles.example/riskpdp/bundle.tar.gz. Default "": off.
	URL string `yaml:"url"`
	// Name is the bundle's key in the decision log's "bundles" field
	// (OPA's {"NAME": {"revision": ...}}). Default: policies.package.
	Name string `yaml:"name"`
	// KeyFile verifies the bundle signature (.signatures.json): a PEM
	// public key or certificate for RS*/PS*/ES*, the shared secret for
	// HS*. Required unless AllowUnsigned.
	KeyFile string `yaml:"key_file"`
	// Algorithm of the signature. Default RS256.
	Algorithm string `yaml:"algorithm"`
	// KeyID names the key (OPA's keys section). Default "default".
	KeyID string `yaml:"key_id"`
	// Scope, when set, must equal the signature's scope claim.
	Scope string `yaml:"scope"`
	// AllowUnsigned accepts unsigned bundles when no key is set. Default
	// false.
	AllowUnsigned bool `yaml:"allow_unsigned"`
	// TokenFile holds a bearer token for the service, read on every
	// request. Default "": none.
	TokenFile string `yaml:"token_file"`
	// CACertFile is a PEM bundle of CAs for the service's TLS certificate.
	// Default "": the system's.
	CACertFile string `yaml:"ca_cert_file"`
	// MinDelay and MaxDelay bound the random wait between polls. Defaults
	// 10s and 30s.
	MinDelay Duration `yaml:"min_delay"`
	MaxDelay Duration `yaml:"max_delay"`
	// Timeout bounds one poll. Default 30s.
	Timeout Duration `yaml:"timeout"`
	// SizeLimit bounds one file of the bundle, in bytes. Default 64 MiB.
	SizeLimit int64 `yaml:"size_limit"`
	// Dir keeps the last activated bundle, restored at start when the
	// service cannot be reached. Default: "bundle" next to state.path.
	Dir string `yaml:"dir"`
}

// On reports whether a bundle service is configured.
func (b Bundle) On() bool { return b.URL != "" }

// validateBundle checks the bundle section.
func (c *Config) validateBundle(bad func(field, format string, args ...any)) {
	b := c.Bundle
	if !b.On() {
		return
	}
	if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("bundle.url", "must be an http or https URL, got %q", b.URL)
	}
	if b.KeyFile == "" && !b.AllowUnsigned {
		bad("bundle.key_file", "required to verify bundle signatures (or bundle.allow_unsigned: true)")
	}
	if b.MinDelay < 0 || b.MaxDelay < 0 || b.Timeout < 0 || b.SizeLimit < 0 {
		bad("bundle", "min_delay, max_delay, timeout and size_limit must not be negative")
	}
	if b.MinDelay > 0 && b.MaxDelay > 0 && b.MaxDelay < b.MinDelay {
		bad("bundle.max_delay", "must not be below min_delay")
	}
	if b.MinDelay > 0 && b.MinDelay < Duration(time.Second) {
		bad("bundle.min_delay", "must be at least 1s (a fleet polls the service)")
	}
}
