package velocity

import (
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero is default", Config{}, true},
		{"explicit", Config{MaxKeys: 1024, Shards: 64, SweepInterval: time.Minute}, true},
		{"sweeper off", Config{SweepInterval: -1}, true},
		{"one shard", Config{MaxKeys: 1, Shards: 1}, true},
		{"negative keys", Config{MaxKeys: -1}, false},
		{"too many keys", Config{MaxKeys: 1<<31 + 1}, false},
		{"shards not power of two", Config{Shards: 12}, false},
		{"negative shards", Config{Shards: -4}, false},
		{"too many shards", Config{Shards: 1 << 17, MaxKeys: 1 << 20}, false},
		{"fewer keys than shards", Config{MaxKeys: 8, Shards: 16}, false},
		{"sweep too often", Config{SweepInterval: time.Millisecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			tr, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New() error %v, want ok=%v", err, tt.ok)
			}
			if tr != nil {
				tr.Close()
			}
		})
	}
}

func TestDefaultShards(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Shards < 16 || c.Shards&(c.Shards-1) != 0 || c.MaxKeys != DefaultMaxKeys || c.SweepInterval != time.Minute {
		t.Fatalf("defaults %+v", c)
	}
}
