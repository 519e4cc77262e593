package state

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Store. The zero value of every field but Path means
// its default; Validate reports what cannot work.
type Config struct {
	// Path of the bbolt state file; created (with its directory's
	// permissions permitting) when it does not exist. Required unless
	// Backend is set.
	Path string
	// Backend replaces the bbolt file (Path is then ignored); the Store
	// closes it on Close. For a shared backend and for tests.
	Backend Backend

	// CacheMaxCost bounds the cache in bytes (approximate: the cost of an
	// entry is an estimate of its size plus ristretto's per-item overhead).
	// Default 64 MiB. The cache also keeps about 3 bytes of admission
	// counters per 64 bytes of CacheMaxCost (3 MiB at the default).
	CacheMaxCost int64
	// CacheTTL bounds how long an entry is served from the cache. Writes
	// through this Store invalidate at once, so the TTL only bounds how
	// stale a read can be after a change made outside this process (a
	// shared backend written by another replica). Default 1 minute.
	CacheTTL time.Duration
	// NegativeTTL is CacheTTL for "nothing known" (no list entry, no
	// account, no verification). Default 10 seconds.
	NegativeTTL time.Duration

	// FlushInterval is how often the background committer writes pending
	// async changes in one transaction. It is the crash window: async
	// writes younger than FlushInterval plus one commit may be lost on
	// SIGKILL or power loss. Default 10 ms.
	FlushInterval time.Duration
	// FlushMaxPending starts a flush before FlushInterval elapses once this
	// many UIDs have unflushed async changes. Default 1024.
	FlushMaxPending int
	// SweepInterval is how often expired list entries and verifications
	// past their retention are deleted from the file (reads ignore them
	// before that). Default 1 minute; negative disables the sweeper (Sweep
	// still works).
	SweepInterval time.Duration

	// DecisionTrailMax bounds the decision records of the audit journal
	// (those the decision path adds for case trails, action "decision"):
	// they are kept only among the journal's newest DecisionTrailMax
	// records, older ones are pruned by the sweeper. Operator actions and
	// verifications are never pruned. Default 250 000; negative keeps
	// them all.
	DecisionTrailMax int
	// DecisionTrailRetention prunes decision records older than this.
	// Default 30 days; negative keeps them regardless of age.
	DecisionTrailRetention time.Duration

	// AuditRetention is how long the journal's kept records (every record
	// but the decision records: operator actions, freezes, releases,
	// limits, lists, appeals, approvals) are kept: the sweeper prunes none
	// younger, and prunes older ones oldest first in chain order, leaving
	// a checkpoint the chain is verified from (chain.go). Default 43800h
	// (five years); at least MinAuditRetention; negative keeps them for
	// good.
	AuditRetention time.Duration

	// LockTimeout bounds the wait for the file lock another process holds
	// on Path. Default 1 second; negative waits forever.
	LockTimeout time.Duration

	// Clock is the time for audit records, account pruning, the sweeper and
	// Verification's cache expiry. Reads that take a time use that time.
	// Default time.Now.
	Clock func() time.Time

	// Logger receives the Store's warnings (a failed sweep, IP ranges that
	// could not be read again). Default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultCacheMaxCost    = 64 << 20
	DefaultCacheTTL        = time.Minute
	DefaultNegativeTTL     = 10 * time.Second
	DefaultFlushInterval   = 10 * time.Millisecond
	DefaultFlushMaxPending = 1024
	DefaultSweepInterval   = time.Minute
	DefaultLockTimeout     = time.Second

	DefaultDecisionTrailMax       = 250_000
	DefaultDecisionTrailRetention = 30 * 24 * time.Hour

	DefaultAuditRetention = 43800 * time.Hour // five years
	MinAuditRetention     = 8760 * time.Hour  // one year
)

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" && c.Backend == nil {
		errs = append(errs, errors.New("path: required"))
	}
	if c.CacheMaxCost < 0 {
		errs = append(errs, fmt.Errorf("cache max cost: %d is negative", c.CacheMaxCost))
	}
	if c.CacheTTL < 0 {
		errs = append(errs, fmt.Errorf("cache ttl: %v is negative", c.CacheTTL))
	}
	if c.NegativeTTL < 0 {
		errs = append(errs, fmt.Errorf("negative ttl: %v is negative", c.NegativeTTL))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("flush interval: %v is negative", c.FlushInterval))
	}
	if c.FlushMaxPending < 0 {
		errs = append(errs, fmt.Errorf("flush max pending: %d is negative", c.FlushMaxPending))
	}
	if c.AuditRetention > 0 && c.AuditRetention < MinAuditRetention {
		errs = append(errs, fmt.Errorf("audit retention: %v is shorter than %v", c.AuditRetention, MinAuditRetention))
	}
	if len(errs) > 0 {
		return fmt.Errorf("state config: %w", errors.Join(errs...))
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.CacheMaxCost == 0 {
		c.CacheMaxCost = DefaultCacheMaxCost
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = DefaultNegativeTTL
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.FlushMaxPending == 0 {
		c.FlushMaxPending = DefaultFlushMaxPending
	}
	if c.DecisionTrailMax == 0 {
		c.DecisionTrailMax = DefaultDecisionTrailMax
	}
	if c.DecisionTrailRetention == 0 {
		c.DecisionTrailRetention = DefaultDecisionTrailRetention
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = DefaultAuditRetention
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.LockTimeout == 0:
		c.LockTimeout = DefaultLockTimeout
	case c.LockTimeout < 0:
		c.LockTimeout = 0 // bbolt: wait forever
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}
