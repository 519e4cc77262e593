package state

import (
	"bytes"
	"log/slog"
	"testing"
)

// The Store logs through the logger its Config gives, and through
// slog.Default() only when none is given.
func TestLoggerIsInjected(t *testing.T) {
	var buf bytes.Buffer
	own := slog.New(slog.NewTextHandler(&buf, nil))
	s, _, _ := openTest(t, func(c *Config) { c.Logger = own })
	if s.cfg.Logger != own {
		t.Fatal("the Store does not log through Config.Logger")
	}
	s.cfg.Logger.Warn("state sweep failed", "err", "x")
	if buf.Len() == 0 {
		t.Fatal("nothing reached the injected logger")
	}
	d, _, _ := openTest(t)
	if d.cfg.Logger != slog.Default() {
		t.Fatal("without Config.Logger the Store does not log through slog.Default()")
	}
}
