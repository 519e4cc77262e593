package config

import (
	"net"
	"os"
)

// Redis puts the durable risk state on Redis, shared by every sidecar of
// a fleet (`pdp serve --redis-addr HOST:PORT`; pdp/internal/fleet). Off unless
// Addrs is set. The bbolt file (state.path) is then not used; the cache
// settings of state apply to the local cache in front of Redis.
type Redis struct {
	// Addrs is HOST:PORT of a single Redis, or the seed nodes of a Redis
	// Cluster (Cluster: true).
	Addrs   []string `yaml:"addrs"`
	Cluster bool     `yaml:"cluster"`
	// Username and PasswordFile authenticate (the password is read from
	// the file, never from the config itself, and never logged).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	DB           int    `yaml:"db"`
	// Prefix starts every key. Default "riskpdp".
	Prefix string `yaml:"prefix"`
	// ReadBudget bounds a cache miss of the decision path; past it the
	// state is unknown and the decision falls back (reason
	// state_unavailable). Default 2ms.
	ReadBudget Duration `yaml:"read_budget"`
	// WriteTimeout bounds commits and operator reads. Default 1s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// HealthInterval is how often Redis is pinged. Default 250ms.
	HealthInterval Duration `yaml:"health_interval"`
	// FailReadiness makes /health/ready fail while Redis is unreachable
	// (the orchestrator then stops sending traffic); by default the
	// outage is reported as degraded and decisions keep flowing from the
	// cache and the fallback.
	FailReadiness bool `yaml:"fail_readiness"`
	// Velocity counts the fleet's decisions together (default true with
	// Redis). VelocityInterval is its sync period. Default 100ms.
	Velocity         *bool    `yaml:"velocity"`
	VelocityInterval Duration `yaml:"velocity_interval"`
}

// On reports whether the risk state is on Redis.
func (r Redis) On() bool { return len(r.Addrs) > 0 }

// VelocityOn reports whether fleet-wide velocity is on.
func (r Redis) VelocityOn() bool { return r.On() && (r.Velocity == nil || *r.Velocity) }

func (c Config) validateRedis(bad func(field, format string, args ...any)) {
	r := c.Redis
	if !r.On() {
		return
	}
	for _, a := range r.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("redis.addrs", "%q is not HOST:PORT", a)
		}
	}
	if len(r.Addrs) > 1 && !r.Cluster {
		bad("redis.addrs", "several addresses need cluster: true")
	}
	if !c.State.On() {
		bad("redis", "needs risk state (state.enabled)")
	}
	if r.PasswordFile != "" {
		if _, err := os.Stat(r.PasswordFile); err != nil {
			bad("redis.password_file", "%v", err)
		}
	}
	if r.ReadBudget < 0 || r.WriteTimeout < 0 || r.HealthInterval < 0 || r.VelocityInterval < 0 {
		bad("redis", "read_budget, write_timeout, health_interval and velocity_interval must not be negative")
	}
}
