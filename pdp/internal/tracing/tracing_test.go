package tracing

import (
	"context"
	"strings"
	"testing"
)

// TestResolve: which variables and options turn tracing on, with which
// protocol, and which are refused with the setting named.
func TestResolve(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		opts     Options
		on       bool
		protocol string
		endpoint string // the option passed to the exporter ("" leaves the variables to it)
		err      string
	}{
		{name: "nothing set: off"},
		{name: "endpoint variable", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, on: true, protocol: ProtocolHTTP},
		{name: "traces endpoint variable", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c/v1/traces"}, on: true, protocol: ProtocolHTTP},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: true, protocol: ProtocolGRPC},
		{name: "traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, on: true, protocol: ProtocolGRPC},
		{name: "config endpoint", opts: Options{Endpoint: "http://c:4317", Protocol: "grpc"}, on: true, protocol: ProtocolGRPC, endpoint: "http://c:4317"},
		{name: "variables win over config", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://v:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			opts: Options{Endpoint: "http://c:4317", Protocol: "grpc"}, on: true, protocol: ProtocolHTTP},
		{name: "disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}},
		{name: "disabled over config", env: map[string]string{"OTEL_SDK_DISABLED": "TRUE"}, opts: Options{Endpoint: "http://c:4318"}},
		{name: "not disabled", env: map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, on: true, protocol: ProtocolHTTP},
		{name: "exporter none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}},
		{name: "exporter otlp", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, on: true, protocol: ProtocolHTTP},
		{name: "sampler", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
			"OTEL_TRACES_SAMPLER_ARG": "0.25"}, on: true, protocol: ProtocolHTTP},

		{name: "bad disabled", env: map[string]string{"OTEL_SDK_DISABLED": "yes please"}, err: "OTEL_SDK_DISABLED"},
		{name: "zipkin", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, err: "OTEL_TRACES_EXPORTER"},
		{name: "http/json", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: "PROTOCOL"},
		{name: "config protocol", opts: Options{Endpoint: "http://c:4318", Protocol: "thrift"}, err: "tracing.protocol"},
		{name: "endpoint not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"}, err: "ENDPOINT"},
		{name: "config endpoint not a URL", opts: Options{Endpoint: "collector"}, err: "tracing.endpoint"},
		{name: "sampler unknown", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "sometimes"}, err: "OTEL_TRACES_SAMPLER"},
		{name: "sampler arg", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "traceidratio",
			"OTEL_TRACES_SAMPLER_ARG": "1.5"}, err: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "config ratio", opts: Options{Endpoint: "http://c:4318", SampleRatio: -0.5}, err: "tracing.sample_ratio"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := resolve(c.opts, func(k string) string { return c.env[k] })
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one naming %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.on != c.on || st.on && (st.protocol != c.protocol || st.endpoint != c.endpoint) {
				t.Fatalf("on %v protocol %q endpoint %q, want %v %q %q", st.on, st.protocol, st.endpoint, c.on, c.protocol, c.endpoint)
			}
		})
	}
}

// TestOffCostsNothing: off, New returns nil, and the spans of a nil
// Tracer are zero: every call returns without allocating.
func TestOffCostsNothing(t *testing.T) {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
	tr, err := New(context.Background(), Options{})
	if err != nil || tr != nil {
		t.Fatalf("New = %v, %v; want nil, nil", tr, err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		root := tr.Start("POST /v1/decide", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
		c := root.Child("evaluate")
		c.String("k", "v")
		c.Int("n", 1)
		c.Bool("b", true)
		c.Fail("x")
		c.End()
		if _, _, ok := root.IDs(); ok || root.Recording() {
			t.Fatal("the zero span has ids")
		}
		root.End()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations a request with tracing off", allocs)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSamplerFollowsParent: with OTEL_TRACES_SAMPLER=parentbased_always_off
// a root is not recorded, nor its children, but keeps its ids; a sampled
// parent is still followed.
func TestSamplerFollowsParent(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // never dialled: nothing is exported
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_off")
	tr, err := New(context.Background(), Options{})
	if err != nil || tr == nil {
		t.Fatalf("New = %v, %v", tr, err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = tr.Shutdown(ctx)
	}()
	root := tr.Start("r", "", "")
	if root.Recording() || root.Child("c").Recording() {
		t.Fatal("a root recorded under parentbased_always_off")
	}
	if _, _, ok := root.IDs(); !ok {
		t.Fatal("an unsampled root has no ids")
	}
	root.End()
	sampled := tr.Start("r", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	if !sampled.Recording() || !sampled.Child("c").Recording() {
		t.Fatal("a sampled parent not followed")
	}
	if id, _, _ := sampled.IDs(); id != [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36} {
		t.Fatalf("trace id %x, want the caller's", id)
	}
}

// BenchmarkDecisionSpansOff is what tracing adds to a decision when off:
// the server's span and the decision path's six steps on a nil Tracer,
// the attribute and id checks included.
func BenchmarkDecisionSpansOff(b *testing.B) {
	var tr *Tracer
	b.ReportAllocs()
	for b.Loop() {
		root := tr.Start("POST /v1/decide", "", "")
		for _, step := range [...]string{"decode", "state", "plugins", "evaluate", "log", "apply"} {
			c := root.Child(step)
			c.String("riskpdp.evaluator", "fast")
			c.End()
		}
		if root.Recording() {
			b.Fatal("recording")
		}
		if _, _, ok := root.IDs(); ok {
			b.Fatal("ids")
		}
		root.Int("http.response.status_code", 200)
		root.End()
	}
}
