package config

import (
	"strings"
	"testing"
	"time"
)

func TestBundleSection(t *testing.T) {
	c := Default()
	if err := Decode([]byte(`
bundle:
  url: https://bundles.example/riskpdp.tar.gz
  key_file: /etc/pdp/bundle.pub
  min_delay: 5s
  max_delay: 1m
  token_file: /var/run/secrets/bundle-token
`), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Bundle.On() || c.Bundle.MinDelay.D() != 5*time.Second || c.Bundle.MaxDelay.D() != time.Minute {
		t.Fatalf("bundle = %+v", c.Bundle)
	}
	if (Bundle{}).On() {
		t.Fatal("an empty bundle section is on")
	}

	for _, tt := range []struct {
		b    Bundle
		want string
	}{
		{Bundle{URL: "file:///tmp/b.tar.gz", KeyFile: "k"}, "bundle.url"},
		{Bundle{URL: "https://x/b"}, "bundle.key_file"},
		{Bundle{URL: "https://x/b", KeyFile: "k", MinDelay: Duration(time.Minute), MaxDelay: Duration(time.Second)}, "bundle.max_delay"},
		{Bundle{URL: "https://x/b", KeyFile: "k", MinDelay: Duration(time.Millisecond)}, "bundle.min_delay"},
		{Bundle{URL: "https://x/b", KeyFile: "k", Timeout: -1}, "must not be negative"},
	} {
		c := Default()
		c.Bundle = tt.b
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error naming %s", tt.b, err, tt.want)
		}
	}
	c = Default()
	c.Bundle = Bundle{URL: "https://x/b", AllowUnsigned: true}
	if err := c.Validate(); err != nil {
		t.Errorf("allow_unsigned without a key: %v", err)
	}
}
