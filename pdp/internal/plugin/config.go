package plugin

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// Config configures the plugin host. The zero value of every field means
// its default; WithDefaults fills them in and Validate checks the result.
type Config struct {
	// Dir is the plugin directory: manifests NAME.yaml next to their
	// modules NAME.wasm. Default "" (no plugins).
	Dir string

	// CacheDir keeps the machine code wazero compiles, so a restart (or a
	// reload of an unchanged module) does not recompile: cold start of a
	// Go plugin is about a second, warm about 50 ms. Default
	// <os.UserCacheDir()>/riskpdp/wazero; "off" keeps compiled code in
	// memory only. The directory is created when missing.
	CacheDir string

	// PoolSize is the number of pre-instantiated instances per plugin.
	// Decisions never share an instance, so a call waits when all are busy
	// (at most the holders' time budget). Each instance of a Go plugin
	// costs ~3 MiB of memory. Default runtime.GOMAXPROCS(0) + 1.
	PoolSize int

	// TimeBudget is the default and the ceiling of a plugin's time per
	// call; a manifest may ask for less, never more. A call that runs
	// longer is stopped by the watchdog within one WatchdogInterval and
	// counted as a timeout. Default 2ms.
	TimeBudget time.Duration

	// Fuel is the default and the ceiling of a plugin's fuel per call: the
	// number of function entries plus loop iterations it may execute (a
	// few instructions each), rounded up to a multiple of 16384 minus 1.
	// Fuel bounds a call even when the watchdog cannot run (every P busy,
	// see RATIONALE in doc.go). Default 4194304 (milliseconds of tight
	// looping: README.md, "Measured costs of the components"; the example
	// plugins use 5 to 120 per call).
	Fuel uint32

	// MemoryLimit is the default and the ceiling of a plugin's linear
	// memory per instance, in bytes (rounded down to 64 KiB pages). Growth
	// beyond it fails inside the guest. Default 32 MiB.
	MemoryLimit int64

	// InitTimeout bounds the instantiation of one instance, including the
	// guest's _initialize. Default 2s.
	InitTimeout time.Duration

	// WatchdogInterval is how often the shared watchdog samples running
	// calls. Default 1ms: a timed-out call is stopped after TimeBudget +
	// 1ms at most, for ~1000 wake-ups per second per plugin set.
	WatchdogInterval time.Duration

	// Grants lists the capabilities (see Capability) each plugin may use,
	// by plugin name; the name "*" applies to every plugin. A manifest
	// that requires a capability not granted here is refused at load.
	// Default: nothing granted.
	Grants map[string][]Capability

	// FailureModes overrides the failure mode of a manifest, by plugin
	// name. Default: the manifest decides.
	FailureModes map[string]FailureMode

	// QuarantineAfter is the number of distinct accounts, and of distinct
	// devices, whose requests must have faulted since the plugin's last
	// success for it to be quarantined: it is not called, and its results
	// carry FaultQuarantined, until the back-off has passed (see
	// quarantine.go). Default 5.
	QuarantineAfter int

	// QuarantineBase is the first back-off; each further quarantine
	// without a successful call in between doubles it, up to
	// QuarantineMax. Defaults 1s and 5m.
	QuarantineBase time.Duration
	QuarantineMax  time.Duration

	// Logger receives load, reload and quarantine events (never per-call
	// events: those are counted, see Stats). Default slog.Default().
	Logger *slog.Logger
}

// Default values.
const (
	DefaultTimeBudget       = 2 * time.Millisecond
	DefaultFuel             = 1 << 22
	DefaultMemoryLimit      = 32 << 20
	DefaultInitTimeout      = 2 * time.Second
	DefaultWatchdogInterval = time.Millisecond
	DefaultQuarantineAfter  = 5
	DefaultQuarantineBase   = time.Second
	DefaultQuarantineMax    = 5 * time.Minute

	// CacheOff as CacheDir disables the file compilation cache.
	CacheOff = "off"

	pageSize = 64 << 10
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.CacheDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			c.CacheDir = filepath.Join(d, "riskpdp", "wazero")
		} else {
			c.CacheDir = CacheOff
		}
	}
	if c.PoolSize == 0 {
		c.PoolSize = runtime.GOMAXPROCS(0) + 1
	}
	if c.TimeBudget == 0 {
		c.TimeBudget = DefaultTimeBudget
	}
	if c.Fuel == 0 {
		c.Fuel = DefaultFuel
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.InitTimeout == 0 {
		c.InitTimeout = DefaultInitTimeout
	}
	if c.WatchdogInterval == 0 {
		c.WatchdogInterval = DefaultWatchdogInterval
	}
	if c.QuarantineAfter == 0 {
		c.QuarantineAfter = DefaultQuarantineAfter
	}
	if c.QuarantineBase == 0 {
		c.QuarantineBase = DefaultQuarantineBase
	}
	if c.QuarantineMax == 0 {
		c.QuarantineMax = DefaultQuarantineMax
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate checks a configuration after WithDefaults and returns every
// problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("plugins.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.PoolSize < 1 || c.PoolSize > 1024 {
		bad("pool_size", "must be between 1 and 1024, got %d", c.PoolSize)
	}
	if c.TimeBudget < 10*time.Microsecond || c.TimeBudget > time.Second {
		bad("time_budget", "must be between 10µs and 1s, got %s", c.TimeBudget)
	}
	if c.Fuel < 1000 || c.Fuel > 1<<30 {
		bad("fuel", "must be between 1000 and %d, got %d", 1<<30, c.Fuel)
	}
	if c.MemoryLimit < pageSize || c.MemoryLimit > 1<<32 {
		bad("memory_limit", "must be between 64 KiB and 4 GiB, got %d", c.MemoryLimit)
	}
	if c.InitTimeout <= 0 {
		bad("init_timeout", "must be positive")
	}
	if c.WatchdogInterval < 100*time.Microsecond || c.WatchdogInterval > time.Second {
		bad("watchdog_interval", "must be between 100µs and 1s, got %s", c.WatchdogInterval)
	}
	if c.QuarantineAfter < 1 {
		bad("quarantine_after", "must be at least 1")
	}
	if c.QuarantineBase <= 0 || c.QuarantineMax < c.QuarantineBase {
		bad("quarantine_base", "must be positive and not above quarantine_max")
	}
	for name, caps := range c.Grants {
		if name != "*" && !validName(name) {
			bad("grants", "%q is not a plugin name", name)
		}
		for _, cp := range caps {
			if !slices.Contains(capabilities, cp) {
				bad("grants", "%s: unknown capability %q (want one of %v)", name, cp, capabilities)
			}
		}
	}
	for name, m := range c.FailureModes {
		if m != FailOpen && m != FailClosed {
			bad("failure_modes", "%s: want open or closed, got %q", name, m)
		}
	}
	return errors.Join(errs...)
}

// granted reports whether plugin name may use capability cp.
func (c *Config) granted(name string, cp Capability) bool {
	return slices.Contains(c.Grants[name], cp) || slices.Contains(c.Grants["*"], cp)
}
