// Package tracing exports OpenTelemetry traces of the decision API over
// OTLP: a server span per request, children for the steps of a decision
// (decode, state, plugins, evaluate, log, apply), the caller's W3C
// traceparent and tracestate honoured. It is off unless an OTLP endpoint
// is configured, by the standard OTEL_* variables or the config file's
// tracing section; off, New returns a nil *Tracer and every Span is the
// zero Span, whose methods return at once: no allocation, a few
// nanoseconds a decision.
//
// The OpenTelemetry SDK stays inside this package (its types do not leak
// out): the decision path sees Span and sets typed attributes on it.
//
// # Configuration
//
// The standard variables, which win over the config file:
//
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off;
//     OTEL_TRACES_EXPORTER may otherwise only be otlp.
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT: the
//     collector (either one turns tracing on); their _HEADERS, _TIMEOUT,
//     _COMPRESSION, _INSECURE and _CERTIFICATE companions are read by the
//     exporter.
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL:
//     http/protobuf (default) or grpc.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: the sampler (default
//     parentbased_always_on: a sampled caller's trace is always recorded,
//     an unsampled one never).
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: the resource (the
//     service name defaults to riskpdp).
//   - OTEL_BSP_*: the batch span processor's queue, batch and delays.
//
// Invalid values stop the start: a sidecar that was asked to trace and
// silently does not is worse than one that says why.
//
// # RATIONALE
//
// Spans are exported by the SDK's batch span processor, never on the
// caller's path: a span ended is queued (dropped when the queue is full,
// counted by the SDK), and an unreachable collector costs the export
// goroutine its timeouts, not a decision its latency. Shutdown flushes
// what is queued, bounded by the shutdown timeout.
//
// No global: the tracer provider is not installed as OpenTelemetry's
// global one, so libraries inside the sidecar (OPA) do not start tracing
// on their own because the decision API does.
//
// What a span holds is less than the decision log does: the stage, the
// outcome, the number of reasons, the evaluator, the fallback and its
// cause, the decision id (which joins a trace to the log's record), HTTP
// method, route and status, the error code. Never the uid, device, IP,
// card BIN, amounts, transaction or request ids, nor any part of a body:
// a trace backend is read by more people, and kept by other rules, than
// the decision log.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Protocols of the OTLP exporter.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// DefaultServiceName is the resource's service.name without
// OTEL_SERVICE_NAME (or a service.name in OTEL_RESOURCE_ATTRIBUTES).
const DefaultServiceName = "riskpdp"

// Options are the config file's tracing section; the OTEL_* variables
// win over each (see the package doc).
type Options struct {
	// Endpoint is the collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT:
	// http://host:4318 for http/protobuf (spans go to /v1/traces),
	// http://host:4317 for grpc (http: without TLS). "" leaves tracing
	// off unless a variable sets one.
	Endpoint string
	// Protocol is http/protobuf ("" too) or grpc.
	Protocol string
	// SampleRatio is the share of traces begun here that are recorded
	// (parent-based: a caller's sampled flag is followed); 0 means 1.
	// OTEL_TRACES_SAMPLER wins over it.
	SampleRatio float64
	// Version is the resource's service.version ("" none).
	Version string
	// Logger receives the SDK's errors (failed exports); default
	// slog.Default().
	Logger *slog.Logger
}

// Tracer starts the spans of the decision API. A nil *Tracer is off.
type Tracer struct {
	tp       *sdktrace.TracerProvider
	tr       trace.Tracer
	protocol string
}

// settings is what the variables and options resolve to.
type settings struct {
	on       bool
	endpoint string // from Options, when no variable names one; "" otherwise
	protocol string
	sampler  sdktrace.Sampler // nil: the SDK's (OTEL_TRACES_SAMPLER or its default)
}

// resolve reads the variables over o. Off is on == false with a nil error.
func resolve(o Options, getenv func(string) string) (settings, error) {
	var st settings
	var errs []error
	if v := strings.TrimSpace(getenv("OTEL_SDK_DISABLED")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("OTEL_SDK_DISABLED: want true or false, got %q", v))
		} else if b {
			return st, errors.Join(errs...)
		}
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); v {
	case "", "otlp":
	case "none":
		return st, errors.Join(errs...)
	default:
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER: only otlp or none are supported, got %q", v))
	}
	envEndpoint := firstEnv(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	switch {
	case envEndpoint != "":
		if err := checkURL(envEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT: %w", err))
		}
	case o.Endpoint != "":
		if err := checkURL(o.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("tracing.endpoint: %w", err))
		}
		st.endpoint = o.Endpoint
	default:
		return st, errors.Join(errs...)
	}
	st.protocol = firstEnv(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	field := "OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL"
	if st.protocol == "" {
		st.protocol, field = o.Protocol, "tracing.protocol"
	}
	switch st.protocol {
	case "":
		st.protocol = ProtocolHTTP
	case ProtocolHTTP, ProtocolGRPC:
	default:
		errs = append(errs, fmt.Errorf("%s: want http/protobuf or grpc, got %q", field, st.protocol))
	}
	if v := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")); v != "" {
		if err := checkSampler(strings.ToLower(v), strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))); err != nil {
			errs = append(errs, err)
		}
	} else if r := o.SampleRatio; r != 0 {
		if !(r > 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("tracing.sample_ratio: want a share in (0, 1], got %v", r))
		} else if r < 1 {
			st.sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r))
		}
	}
	st.on = true
	return st, errors.Join(errs...)
}

// checkSampler accepts what the SDK reads from OTEL_TRACES_SAMPLER(_ARG),
// which otherwise only logs a mistake and samples everything.
func checkSampler(name, arg string) error {
	switch name {
	case "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		return nil
	case "traceidratio", "parentbased_traceidratio":
		if arg == "" {
			return nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: want a ratio between 0 and 1, got %q", arg)
		}
		return nil
	}
	return fmt.Errorf("OTEL_TRACES_SAMPLER: unsupported sampler %q (always_on, always_off, traceidratio, parentbased_*)", name)
}

// checkURL accepts an absolute http(s) URL.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http:// or https:// URL, got %q", s)
	}
	return nil
}

func firstEnv(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

// Check validates the variables and o without building anything (pdp serve
// --check-config).
func Check(o Options) error {
	_, err := resolve(o, os.Getenv)
	return err
}

// On reports whether the variables and o turn tracing on.
func On(o Options) bool {
	st, err := resolve(o, os.Getenv)
	return err == nil && st.on
}

// New builds the tracer the variables and o configure, or returns nil
// when tracing is off. Nothing is dialled here: the exporter connects on
// its first export, so an unreachable collector does not stop the start.
func New(ctx context.Context, o Options) (*Tracer, error) {
	st, err := resolve(o, os.Getenv)
	if err != nil || !st.on {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	exp, err := newExporter(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	if o.Version != "" {
		attrs = append(attrs, attribute.String("service.version", o.Version))
	}
	// Later detectors win: the variables over the defaults.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(attrs...), resource.WithFromEnv())
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	log := o.Logger
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "error", err) }))
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if st.sampler != nil {
		opts = append(opts, sdktrace.WithSampler(st.sampler))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracer{tp: tp, tr: tp.Tracer("github.com/riskpdp/riskpdp/pdp"), protocol: st.protocol}, nil
}

// newExporter is the OTLP exporter of st.protocol. The endpoint of the
// config file is passed only when no variable names one (an option would
// win over the variable).
func newExporter(ctx context.Context, st settings) (sdktrace.SpanExporter, error) {
	if st.protocol == ProtocolGRPC {
		var opts []otlptracegrpc.Option
		if st.endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(st.endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	var opts []otlptracehttp.Option
	if st.endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(st.endpoint, "/")+"/v1/traces"))
	}
	return otlptracehttp.New(ctx, opts...)
}

// Protocol is the exporter's protocol, http/protobuf or grpc.
func (t *Tracer) Protocol() string { return t.protocol }

// Shutdown flushes the spans queued and stops the exporter, bounded by
// ctx. A nil Tracer has nothing to do.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// ForceFlush exports the spans queued now, bounded by ctx (tests).
func (t *Tracer) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Start begins the server span of one request, named name ("POST
// /v1/decide"), the child of the caller's span when traceparent (and
// tracestate) carry a valid W3C trace context, a new trace's root
// otherwise; the sampler decides whether it is recorded. A nil Tracer
// returns the zero Span.
func (t *Tracer) Start(name, traceparent, tracestate string) Span {
	if t == nil {
		return Span{}
	}
	return t.start(name, traceparent, tracestate)
}

func (t *Tracer) start(name, traceparent, tracestate string) Span {
	ctx := context.Background()
	if traceparent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, carrier{traceparent, tracestate})
	}
	ctx, s := t.tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
	return Span{tr: t.tr, ctx: ctx, s: s}
}

// carrier hands the two headers to the W3C propagator.
type carrier struct{ traceparent, tracestate string }

func (c carrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.traceparent
	case "tracestate":
		return c.tracestate
	}
	return ""
}

func (carrier) Set(string, string) {}

func (carrier) Keys() []string { return []string{"traceparent", "tracestate"} }
