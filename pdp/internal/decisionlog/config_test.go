package decisionlog

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" for valid
	}{
		{"file", Config{Path: "/var/log/pdp/decisions.log"}, ""},
		{"upload", Config{UploadURL: "https://logs.example/v1/logs"}, ""},
		{"everything", Config{Path: "d.log", MaxSizeMiB: 10, MaxAge: 30 * 24 * time.Hour, MaxBackups: 7,
			UploadURL: "http://127.0.0.1:8181/logs", UploadHeaders: map[string]string{"X-Id": "1"},
			BufferSize: 100, Overflow: OverflowSpill, SpillDir: "/tmp/spill", BlockTimeout: time.Millisecond}, ""},
		{"sync", Config{Path: "d.log", Sync: true}, ""},
		{"no sink", Config{}, "no sink"},
		{"dir path", Config{Path: "/var/log/"}, "directory"},
		{"size", Config{Path: "d.log", MaxSizeMiB: -1}, "MaxSizeMiB"},
		{"age in hours", Config{Path: "d.log", MaxAge: 36 * time.Hour}, "whole number of days"},
		{"backups", Config{Path: "d.log", MaxBackups: -2}, "MaxBackups"},
		{"url", Config{UploadURL: "ftp://x/y"}, "UploadURL"},
		{"url no host", Config{UploadURL: "http:///logs"}, "UploadURL"},
		{"header", Config{UploadURL: "http://x", UploadHeaders: map[string]string{"Bad Name": "v"}}, "header name"},
		{"negative batch", Config{UploadURL: "http://x", UploadBatchBytes: -1}, "negative"},
		{"buffer < batch", Config{UploadURL: "http://x", UploadBatchBytes: 1 << 20, UploadBufferBytes: 1 << 10}, "smaller than"},
		{"buffer size", Config{Path: "d.log", BufferSize: -1}, "BufferSize"},
		{"overflow", Config{Path: "d.log", Overflow: "wait"}, "not drop, block or spill"},
		{"spill without dir", Config{Path: "d.log", Overflow: OverflowSpill}, "SpillDir"},
		{"block timeout", Config{Path: "d.log", BlockTimeout: 2 * time.Second}, "BlockTimeout"},
		{"sync without file", Config{UploadURL: "http://x", Sync: true}, "Sync needs Path"},
		{"two errors", Config{Path: "d.log", MaxSizeMiB: -1, BufferSize: -1}, "BufferSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("valid config rejected: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error about %q", err, tc.err)
			}
		})
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New accepted an invalid config")
	}
}

func TestConfigDefaults(t *testing.T) {
	d := Config{}.withDefaults()
	if d.MaxSizeMiB != 100 || d.BufferSize != 8192 || d.Overflow != OverflowDrop || d.BlockTimeout != 5*time.Millisecond ||
		d.UploadBatchBytes != 512<<10 || d.UploadInterval != time.Second || d.UploadTimeout != 10*time.Second ||
		d.UploadBufferBytes != 64<<20 || d.SpillMaxBytes != 1<<30 || d.MaxBackups != 0 || d.MaxAge != 0 || d.DisableCompression {
		t.Fatalf("defaults %+v", d)
	}
}
