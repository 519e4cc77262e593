package bundle

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/open-policy-agent/opa/v1/keys"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// Config configures a Loader. Zero durations and sizes mean their
// defaults (WithDefaults); Validate checks the result.
type Config struct {
	// URL is the bundle's address on the bundle service, e.g.
	// https://bundles.example/riskpdp/bundle.tar.gz. Required.
	URL string

	// MinDelay and MaxDelay bound the wait between two polls: each wait
	// is drawn uniformly between them, so a fleet does not poll in step.
	// After a failed poll the wait backs off exponentially from 160ms
	// (×1.6 per failure, ±20%) up to MaxDelay. Defaults 10s and 30s.
	MinDelay, MaxDelay time.Duration

	// Timeout bounds one poll: the request, the download and the
	// activation's wait for it. Default 30s.
	Timeout time.Duration

	// SizeLimit is the largest file the bundle may hold, in bytes (OPA's
	// per-file limit; a plugin module counts as one file). Default
	// 67108864 (64 MiB).
	SizeLimit int64

	// TokenFile holds a bearer token sent with every request (read again
	// on each request, so it may be rotated). Default "": no token.
	TokenFile string

	// CACertFile is a PEM file of CA certificates the bundle service's
	// TLS certificate must chain to, instead of the system's. Default "".
	CACertFile string

	// KeyFile holds the key that verifies the bundle's signature: a PEM
	// public key (or certificate) for RS*, PS* and ES* algorithms, the
	// shared secret itself for HS* (the file's bytes as they are). With a
	// key set, unsigned bundles are refused. Default "".
	KeyFile string
	// KeyID names the key, as OPA's keys section does; the verifier uses
	// this key whatever the signature's kid says. Default "default".
	KeyID string
	// Algorithm is the signature algorithm: RS256 (default), RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, HS256, HS384 or
	// HS512.
	Algorithm string
	// Scope, when set, must equal the scope claim of the signature.
	Scope string
	// AllowUnsigned accepts bundles without a signature when no KeyFile is
	// set. Default false: a Loader without a key refuses to start.
	AllowUnsigned bool

	// Dir keeps the last activated bundle (restored at start, before the
	// first poll, so a restart during a bundle service outage still serves
	// it) and the files of the serving generation. Required.
	Dir string

	// Engine receives the bundle's policies and data. Required.
	Engine *policy.Engine
	// Plugins, when not nil, receives the bundle's plugins (files under
	// plugins/): the bundle owns the plugin set, and a bundle without
	// plugins activates an empty set. When nil, a bundle that carries
	// plugins is refused (the plugins come from a local directory).
	Plugins *plugin.Host
	// Logger receives downloads, activations and refusals. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultMinDelay  = 10 * time.Second
	DefaultMaxDelay  = 30 * time.Second
	DefaultTimeout   = 30 * time.Second
	DefaultSizeLimit = 64 << 20
	DefaultKeyID     = "default"
	DefaultAlgorithm = "RS256"
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MinDelay == 0 {
		c.MinDelay = DefaultMinDelay
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = max(DefaultMaxDelay, c.MinDelay)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SizeLimit == 0 {
		c.SizeLimit = DefaultSizeLimit
	}
	if c.KeyID == "" {
		c.KeyID = DefaultKeyID
	}
	if c.Algorithm == "" {
		c.Algorithm = DefaultAlgorithm
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate checks c (after WithDefaults) and returns every problem.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url: want an http or https URL, got %q", c.URL)
	} else if u.User != nil {
		bad("url: credentials in the URL are not allowed (use a token file)")
	}
	if c.MinDelay <= 0 || c.MaxDelay < c.MinDelay {
		bad("min_delay and max_delay: want 0 < min_delay <= max_delay, got %s and %s", c.MinDelay, c.MaxDelay)
	}
	if c.Timeout <= 0 {
		bad("timeout: must be positive")
	}
	if c.SizeLimit <= 0 {
		bad("size_limit: must be positive")
	}
	if !keys.IsSupportedAlgorithm(c.Algorithm) {
		bad("verification.algorithm: %q is not supported", c.Algorithm)
	}
	if c.KeyFile == "" && !c.AllowUnsigned {
		bad("verification.key_file: required to verify bundle signatures (or allow_unsigned: true)")
	}
	for name, f := range map[string]string{"verification.key_file": c.KeyFile, "token_file": c.TokenFile, "ca_cert_file": c.CACertFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			bad("%s: %v", name, err)
		}
	}
	if c.Dir == "" {
		bad("dir: required")
	}
	if c.Engine == nil {
		bad("engine: required")
	}
	return errors.Join(errs...)
}
