package config

import (
	"strings"
	"testing"
)

func TestValidateRedis(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string // "" when valid
	}{
		{"off", func(*Config) {}, ""},
		{"single", func(c *Config) { c.Redis.Addrs = []string{"10.0.0.5:6379"} }, ""},
		{"cluster", func(c *Config) { c.Redis.Addrs, c.Redis.Cluster = []string{"a:1", "b:2"}, true }, ""},
		{"no port", func(c *Config) { c.Redis.Addrs = []string{"redis"} }, "redis.addrs"},
		{"several without cluster", func(c *Config) { c.Redis.Addrs = []string{"a:1", "b:2"} }, "redis.addrs"},
		{"negative budget", func(c *Config) { c.Redis.Addrs, c.Redis.ReadBudget = []string{"a:1"}, -1 }, "redis"},
		{"missing password file", func(c *Config) { c.Redis.Addrs, c.Redis.PasswordFile = []string{"a:1"}, "/no/such/file" }, "redis.password_file"},
		{"without state", func(c *Config) { off := false; c.Redis.Addrs, c.State.Enabled = []string{"a:1"}, &off }, "redis"},
	} {
		c := Default()
		tc.edit(&c)
		err := c.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field+":")):
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
	if c := (Redis{Addrs: []string{"a:1"}}); !c.VelocityOn() {
		t.Error("fleet velocity is on by default with Redis")
	}
}
