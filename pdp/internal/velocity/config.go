package velocity

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"time"
)

// Config tunes a Tracker. The zero value is the default everywhere.
type Config struct {
	// MaxKeys caps the keys tracked, UIDs, devices and IPs together.
	// Default 1,000,000. Each shard holds at most MaxKeys/Shards keys and
	// evicts one (CLOCK, an approximate LRU) to admit another, so the total
	// never exceeds MaxKeys. A key seen once costs about 140 bytes, a busy
	// one about 870 (see the package doc). Must be at least Shards and at
	// most 1<<31.
	MaxKeys int
	// Shards is the number of independently locked parts of the key space,
	// a power of two up to 65536. Default: the smallest power of two at
	// least 4×GOMAXPROCS and at least 16. More shards mean less contention
	// and a coarser per-shard key limit.
	Shards int
	// SweepInterval is how often a background goroutine removes keys idle
	// long enough that no window counts them (24 to 25 hours), scanning
	// 256 entries per lock hold. It sweeps at the latest time passed to the
	// tracker, not the wall clock. Default 1 minute; at least 1 second.
	// Negative disables the goroutine (call Sweep yourself; keys are
	// otherwise reclaimed only by eviction).
	SweepInterval time.Duration
}

// Defaults.
const (
	DefaultMaxKeys       = 1_000_000
	DefaultSweepInterval = time.Minute
	maxShards            = 1 << 16
	maxKeysLimit         = 1 << 31
)

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.Shards == 0 {
		c.Shards = max(16, 1<<bits.Len(uint(4*runtime.GOMAXPROCS(0)-1)))
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	return c
}

// Validate reports the first invalid field. Zero fields stand for their
// defaults and are valid.
func (c Config) Validate() error {
	d := c.withDefaults()
	switch {
	case c.MaxKeys < 0 || c.MaxKeys > maxKeysLimit:
		return fmt.Errorf("velocity: MaxKeys %d out of range [0, %d]", c.MaxKeys, maxKeysLimit)
	case c.Shards < 0 || c.Shards > maxShards || bits.OnesCount(uint(d.Shards)) != 1:
		return fmt.Errorf("velocity: Shards %d is not a power of two in [1, %d]", c.Shards, maxShards)
	case d.MaxKeys < d.Shards:
		return fmt.Errorf("velocity: MaxKeys %d is less than Shards %d", d.MaxKeys, d.Shards)
	case c.SweepInterval > 0 && c.SweepInterval < time.Second:
		return errors.New("velocity: SweepInterval below 1s")
	}
	return nil
}
