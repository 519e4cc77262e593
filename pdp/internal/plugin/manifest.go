package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// FailureMode says what a decision does when a plugin fails.
type FailureMode string

// Failure modes.
const (
	// FailOpen ignores the failed plugin: the policy decides without its
	// score.
	FailOpen FailureMode = "open"
	// FailClosed makes the decision fall back to step_up.
	FailClosed FailureMode = "closed"
)

// Capability is something outside its sandbox a plugin may use when its
// manifest requires it and Config.Grants grants it. Without it the guest
// sees fixed clocks, a deterministic random source, no files and discarded
// output. There is no network capability: WASI preview 1 as wazero offers
// it cannot open sockets.
type Capability string

// Capabilities.
const (
	CapClock  Capability = "clock"  // real wall and monotonic clocks
	CapRandom Capability = "random" // crypto/rand as the random source
	CapStderr Capability = "stderr" // guest stderr goes to the host log
)

var capabilities = []Capability{CapClock, CapRandom, CapStderr}

// Manifest declares a plugin. It lives next to the module as NAME.yaml.
type Manifest struct {
	// Name is the key of the plugin's score under input.scores: lower
	// case letters, digits and underscores, starting with a letter.
	Name string `yaml:"name"`
	// Version is the plugin's own version, for logs and stats.
	Version string `yaml:"version"`
	// ABI is the ABI version the module implements (abi.Version).
	ABI int `yaml:"abi"`
	// Module is the file name of the module, relative to the manifest.
	// Default NAME.wasm where NAME is the manifest's base name.
	Module string `yaml:"module"`
	// Description is free text for people.
	Description string `yaml:"description"`
	// Features are the feature names the plugin reads; the host writes
	// only these into its buffer.
	Features []string `yaml:"features"`
	// Reasons are the reason codes the plugin may return; bit i of the
	// mask it returns means Reasons[i].
	Reasons []string `yaml:"reasons"`
	// FailureMode is open or closed (required).
	FailureMode FailureMode `yaml:"failure_mode"`
	// Limits lowers the host's defaults for this plugin.
	Limits Limits `yaml:"limits"`
	// Requires lists the capabilities the plugin needs.
	Requires []Capability `yaml:"requires"`
	// Smoke are sample calls run before a set is accepted.
	Smoke []SmokeCase `yaml:"smoke"`

	features []abi.Feature // parsed Features
}

// Limits are a manifest's per-plugin limits; zero means the host default.
type Limits struct {
	// Time is the time budget per call, e.g. "500us".
	Time string `yaml:"time"`
	// Fuel is the fuel per call (function entries plus loop iterations).
	Fuel uint32 `yaml:"fuel"`
	// Memory is the memory cap per instance, e.g. "16MiB".
	Memory string `yaml:"memory"`
}

// SmokeCase is a sample call: features by name and, optionally, the
// expected score range and reasons.
type SmokeCase struct {
	Features map[string]any `yaml:"features"`
	// Score is [min, max]; empty means any valid score.
	Score []float64 `yaml:"score"`
	// Reasons, when not nil, must equal the reasons returned.
	Reasons []string `yaml:"reasons"`
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func validName(s string) bool { return nameRE.MatchString(s) }

// maxManifestBytes bounds what DecodeManifest reads.
const maxManifestBytes = 1 << 20

// DecodeManifest parses and checks a manifest. Unknown fields are errors.
func DecodeManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("manifest is %d bytes, over the %d byte limit", len(b), maxManifestBytes)
	}
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("manifest is empty")
		}
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !validName(m.Name) {
		bad("name %q: want lower case letters, digits and _, starting with a letter, at most 63", m.Name)
	}
	if m.ABI != abi.Version {
		bad("abi %d: this host implements ABI version %d", m.ABI, abi.Version)
	}
	if m.Module != "" && (strings.ContainsAny(m.Module, `/\`) || !strings.HasSuffix(m.Module, ".wasm")) {
		bad("module %q: want a .wasm file name in the manifest's directory", m.Module)
	}
	m.features = m.features[:0]
	seen := map[string]bool{}
	if len(m.Features) == 0 {
		bad("features: a plugin must read at least one feature")
	}
	for _, name := range m.Features {
		f, ok := abi.LookupFeature(name)
		switch {
		case !ok:
			bad("features: unknown feature %q", name)
		case seen[name]:
			bad("features: %q listed twice", name)
		default:
			m.features = append(m.features, f)
		}
		seen[name] = true
	}
	if len(m.Reasons) > abi.MaxReasons {
		bad("reasons: %d declared, at most %d", len(m.Reasons), abi.MaxReasons)
	}
	clear(seen)
	for _, r := range m.Reasons {
		if !validName(r) {
			bad("reasons: %q is not a valid reason code", r)
		} else if seen[r] {
			bad("reasons: %q listed twice", r)
		}
		seen[r] = true
	}
	if m.FailureMode != FailOpen && m.FailureMode != FailClosed {
		bad("failure_mode %q: want open or closed", m.FailureMode)
	}
	if _, err := m.Limits.time(); err != nil {
		bad("limits.time: %v", err)
	}
	if _, err := m.Limits.memory(); err != nil {
		bad("limits.memory: %v", err)
	}
	for _, c := range m.Requires {
		if c == "network" {
			bad("requires: network: the plugin host offers no network access")
		} else if !slices.Contains(capabilities, c) {
			bad("requires: unknown capability %q (want one of %v)", c, capabilities)
		}
	}
	for i, sc := range m.Smoke {
		if _, err := featuresFromMap(sc.Features); err != nil {
			bad("smoke[%d]: %v", i, err)
		}
		if len(sc.Score) != 0 && (len(sc.Score) != 2 || !(0 <= sc.Score[0] && sc.Score[0] <= sc.Score[1] && sc.Score[1] <= 1)) {
			bad("smoke[%d]: score: want [min, max] within [0, 1]", i)
		}
		for _, r := range sc.Reasons {
			if !seen[r] {
				bad("smoke[%d]: reason %q is not declared", i, r)
			}
		}
	}
	return errors.Join(errs...)
}

// time parses the time budget; 0 means the default.
func (l Limits) time() (time.Duration, error) {
	if l.Time == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(l.Time)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: must be positive", l.Time)
	}
	return d, nil
}

// memory parses the memory cap in bytes; 0 means the default. Accepts a
// plain byte count or a number with KiB, MiB or GiB.
func (l Limits) memory() (int64, error) {
	s := strings.TrimSpace(l.Memory)
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult || n*mult > 1<<32 {
		return 0, fmt.Errorf("%q: want a positive size up to 4GiB such as 16MiB", l.Memory)
	}
	return n * mult, nil
}
