package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// Configuration precedence: defaults < file < PDP_* environment < flags;
// PDP_CONFIG names the file when --config does not.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pdp.yaml")
	writeFile(t, file, "addr: 127.0.0.1:1001\nlog:\n  level: warn\n  format: text\nstate:\n  path: /from/file.db\n")
	load := func(args ...string) (addr, level, format, state string) {
		t.Helper()
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		fs.String("config", "", "")
		registerSettings(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(fs)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Addr, cfg.Log.Level, cfg.Log.Format, cfg.State.Path
	}
	if addr, level, _, _ := load(); addr != "127.0.0.1:9191" || level != "info" {
		t.Fatalf("defaults: %s %s", addr, level)
	}
	t.Setenv("PDP_CONFIG", file)
	if addr, level, format, state := load(); addr != "127.0.0.1:1001" || level != "warn" || format != "text" || state != "/from/file.db" {
		t.Fatalf("file via PDP_CONFIG: %s %s %s %s", addr, level, format, state)
	}
	t.Setenv("PDP_ADDR", "127.0.0.1:1002")
	t.Setenv("PDP_LOG_LEVEL", "debug")
	if addr, level, format, _ := load(); addr != "127.0.0.1:1002" || level != "debug" || format != "text" {
		t.Fatalf("environment over file: %s %s %s", addr, level, format)
	}
	if addr, level, _, state := load("--addr", "127.0.0.1:1003", "--state", "/from/flag.db"); addr != "127.0.0.1:1003" || level != "debug" || state != "/from/flag.db" {
		t.Fatalf("flags over environment: %s %s %s", addr, level, state)
	}
	t.Setenv("PDP_LOG_LEVEL", "loud")
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("config", "", "")
	registerSettings(fs)
	if _, err := loadConfig(fs); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("bad environment value: %v", err)
	}
}
