package fleet

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the Redis backend. The zero value of every field but
// Addrs means its default.
type Config struct {
	// Addrs is one HOST:PORT for a single Redis, or the seed nodes of a
	// Redis Cluster (Cluster set).
	Addrs   []string
	Cluster bool
	// Username and Password authenticate (Redis ACL); never logged.
	Username, Password string
	// DB selects the database of a single Redis.
	DB int
	// Prefix starts every key and the invalidation channel, so that
	// several deployments can share a Redis. Default "riskpdp".
	Prefix string
	// ReadBudget bounds a cache miss of the decision path: past it the
	// read answers "unknown" (state.ErrUnavailable) and the decision takes
	// the fallback. Default 2 ms.
	ReadBudget time.Duration
	// WriteTimeout bounds commits, scans and operator reads. Default 1 s.
	WriteTimeout time.Duration
	// DialTimeout bounds connecting. Default 1 s.
	DialTimeout time.Duration
	// HealthInterval is how often Redis is pinged; a failed ping marks it
	// down (reads fail at once), a good one up again. Default 250 ms;
	// HealthTimeout (default 200 ms) bounds the ping; a
	// refused connection or two slow pings in a row are an outage.
	HealthInterval, HealthTimeout time.Duration
	// PoolSize is the connections per node. Default 32.
	PoolSize int
}

// Defaults.
const (
	DefaultPrefix         = "riskpdp"
	DefaultReadBudget     = 2 * time.Millisecond
	DefaultWriteTimeout   = time.Second
	DefaultHealthInterval = 250 * time.Millisecond
	DefaultHealthTimeout  = 200 * time.Millisecond
)

// Validate reports what cannot work.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("redis: no address"))
	}
	if len(c.Addrs) > 1 && !c.Cluster {
		errs = append(errs, fmt.Errorf("redis: %d addresses without cluster mode", len(c.Addrs)))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read budget", c.ReadBudget}, {"write timeout", c.WriteTimeout}, {"dial timeout", c.DialTimeout},
		{"health interval", c.HealthInterval}, {"health timeout", c.HealthTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("redis %s: %v is negative", d.name, d.v))
		}
	}
	if c.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("redis pool size: %d is negative", c.PoolSize))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.ReadBudget == 0 {
		c.ReadBudget = DefaultReadBudget
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = time.Second
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = DefaultHealthInterval
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = DefaultHealthTimeout
	}
	if c.PoolSize == 0 {
		c.PoolSize = 32
	}
	return c
}
