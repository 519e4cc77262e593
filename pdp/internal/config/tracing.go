package config

import (
	"net/url"
)

// Tracing exports OpenTelemetry traces of the decision API over OTLP
// (pdp/internal/tracing). Off by default. The standard OTEL_* variables
// turn it on too (OTEL_EXPORTER_OTLP_ENDPOINT) and win over each field
// here (OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_TRACES_SAMPLER); OTEL_SDK_DISABLED
// turns it off whatever is set.
type Tracing struct {
	// Endpoint is the OTLP collector's base URL: http://HOST:4318 for
	// http/protobuf (spans are sent to /v1/traces), http://HOST:4317 for
	// grpc; https:// with TLS. Default "": off, unless
	// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set.
	Endpoint string `yaml:"endpoint"`
	// Protocol is http/protobuf or grpc. Default http/protobuf.
	Protocol string `yaml:"protocol"`
	// SampleRatio is the share of traces begun here (no traceparent from
	// the caller) that are recorded; a caller's sampled flag is always
	// followed. Default 1.
	SampleRatio float64 `yaml:"sample_ratio"`
}

func (c Config) validateTracing(bad func(field, format string, args ...any)) {
	t := c.Tracing
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("tracing.endpoint", "want an http:// or https:// URL, got %q", t.Endpoint)
		}
	}
	switch t.Protocol {
	case "", "http/protobuf", "grpc":
	default:
		bad("tracing.protocol", "must be http/protobuf or grpc, got %q", t.Protocol)
	}
	if !(t.SampleRatio > 0 && t.SampleRatio <= 1) {
		bad("tracing.sample_ratio", "must be a share in (0, 1], got %v", t.SampleRatio)
	}
}
