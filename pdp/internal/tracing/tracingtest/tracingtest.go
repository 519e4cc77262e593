// Package tracingtest runs in-process OTLP trace receivers for tests: an
// OTLP/HTTP one (an httptest server decoding ExportTraceServiceRequest
// protobufs at /v1/traces) and an OTLP/gRPC one (the collector's
// TraceService on a loopback listener). Both keep every span received,
// with its resource, and the raw bytes of every export, so a test can
// search them for what must never leave the sidecar.
package tracingtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is a span received, flattened for assertions.
type Span struct {
	Name                       string
	Kind                       tracepb.Span_SpanKind
	TraceID, SpanID, ParentID  string // lower-case hex; ParentID "" for a root
	TraceState                 string
	Attrs                      map[string]any // string, int64, bool or float64 values
	StatusCode                 tracepb.Status_StatusCode
	StatusMessage              string
	Resource                   map[string]any
	StartUnixNano, EndUnixNano uint64
}

// Receiver keeps what the exporter sent.
type Receiver struct {
	// URL is the base endpoint to give the exporter
	// (OTEL_EXPORTER_OTLP_ENDPOINT): http://127.0.0.1:PORT.
	URL string

	mu      sync.Mutex
	spans   []Span
	raw     [][]byte
	exports int
	changed chan struct{} // closed and replaced on each export
}

func newReceiver() *Receiver { return &Receiver{changed: make(chan struct{})} }

// NewHTTP starts an OTLP/HTTP receiver (http/protobuf), stopped at the end
// of the test.
func NewHTTP(tb testing.TB) *Receiver {
	tb.Helper()
	r := newReceiver()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(b, &msg)
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	tb.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// NewGRPC starts an OTLP/gRPC receiver, stopped at the end of the test.
func NewGRPC(tb testing.TB) *Receiver {
	tb.Helper()
	r := newReceiver()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, grpcService{r: r})
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(srv.Stop)
	r.URL = "http://" + ln.Addr().String()
	return r
}

type grpcService struct {
	collectortrace.UnimplementedTraceServiceServer
	r *Receiver
}

func (g grpcService) Export(_ context.Context, msg *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	g.r.add(b, msg)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) add(raw []byte, msg *collectortrace.ExportTraceServiceRequest) {
	var got []Span
	for _, rs := range msg.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, Span{
					Name: s.GetName(), Kind: s.GetKind(),
					TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()), TraceState: s.GetTraceState(),
					Attrs: attrs(s.GetAttributes()), StatusCode: s.GetStatus().GetCode(), StatusMessage: s.GetStatus().GetMessage(),
					Resource: res, StartUnixNano: s.GetStartTimeUnixNano(), EndUnixNano: s.GetEndTimeUnixNano(),
				})
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, got...)
	r.raw = append(r.raw, bytes.Clone(raw))
	r.exports++
	close(r.changed)
	r.changed = make(chan struct{})
}

func attrs(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = v.IntValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = v.BoolValue
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = v.DoubleValue
		default:
			m[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return m
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Raw returns the bytes of every export received (decompressed).
func (r *Receiver) Raw() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.raw...)
}

// WaitSpans waits until at least n spans have been received, or fails the
// test after a minute (a deadline against a hang, not a measure).
func (r *Receiver) WaitSpans(tb testing.TB, n int) []Span {
	tb.Helper()
	deadline := time.After(time.Minute)
	for {
		r.mu.Lock()
		got, changed := len(r.spans), r.changed
		r.mu.Unlock()
		if got >= n {
			return r.Spans()
		}
		select {
		case <-changed:
		case <-deadline:
			tb.Fatalf("tracingtest: %d spans received, want %d", got, n)
		}
	}
}
