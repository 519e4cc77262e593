package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span is a span of the decision API, or nothing: the zero Span (tracing
// off) takes every call and does nothing, without allocating, so the
// decision path calls it unconditionally. A Span that is not recorded (not
// sampled) has children that are not either, and keeps its ids for the
// decision log. A Span is used by one goroutine; IDs may be read from any.
type Span struct {
	tr  trace.Tracer
	ctx context.Context // holds s: the parent of the children
	s   trace.Span
}

// Recording reports whether the span is recorded: attributes set on one
// that is not are dropped anyway, so callers may skip computing them.
func (s Span) Recording() bool { return s.s != nil && s.s.IsRecording() }

// Child begins a child span named name (internal kind). The child of the
// zero Span, or of one not recorded, is the zero Span.
//
// This and the setters below test for the zero Span inline and call out
// only when tracing is on: off, a call is a nil check in the caller.
func (s Span) Child(name string) Span {
	if s.s == nil {
		return Span{}
	}
	return s.child(name)
}

func (s Span) child(name string) Span {
	if !s.s.IsRecording() {
		return Span{}
	}
	ctx, c := s.tr.Start(s.ctx, name)
	return Span{tr: s.tr, ctx: ctx, s: c}
}

// End ends the span: it is queued for export.
func (s Span) End() {
	if s.s != nil {
		s.s.End()
	}
}

// String sets a string attribute.
func (s Span) String(key, value string) {
	if s.s != nil {
		s.setString(key, value)
	}
}

// Int sets an integer attribute.
func (s Span) Int(key string, value int) {
	if s.s != nil {
		s.setInt(key, value)
	}
}

// Bool sets a boolean attribute.
func (s Span) Bool(key string, value bool) {
	if s.s != nil {
		s.setBool(key, value)
	}
}

func (s Span) setString(key, value string)    { s.set(attribute.String(key, value)) }
func (s Span) setInt(key string, value int)   { s.set(attribute.Int(key, value)) }
func (s Span) setBool(key string, value bool) { s.set(attribute.Bool(key, value)) }

func (s Span) set(kv attribute.KeyValue) {
	if s.s.IsRecording() {
		s.s.SetAttributes(kv)
	}
}

// Fail marks the span failed: its status is Error with description (a
// machine-readable code, never a message that may quote the input).
func (s Span) Fail(description string) {
	if s.s != nil {
		s.fail(description)
	}
}

func (s Span) fail(description string) {
	if s.s.IsRecording() {
		s.s.SetStatus(codes.Error, description)
	}
}

// IDs returns the span's trace and span ids, ok false for the zero Span.
// A span that is not recorded has them too (its trace is the caller's, or
// a new one).
func (s Span) IDs() (traceID [16]byte, spanID [8]byte, ok bool) {
	if s.s != nil {
		return s.ids()
	}
	return
}

func (s Span) ids() (traceID [16]byte, spanID [8]byte, ok bool) {
	sc := s.s.SpanContext()
	return sc.TraceID(), sc.SpanID(), sc.IsValid()
}
