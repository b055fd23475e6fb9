// Package tracing is OpenTelemetry tracing for ticketd: one trace per request,
// from the HTTP submit through the command's produce, the processor's consume
// and outcome produce, to the sink's write. The trace context travels in Kafka
// record headers (W3C traceparent, by franz-go's kotel plugin) beside the
// request_id header. Off by default; the exporter is chosen by OTEL_EXPORTER
// (none, stdout, otlp). docs/adr/0011 says why.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Exporters OTEL_EXPORTER names.
const (
	ExporterNone   = "none"
	ExporterStdout = "stdout"
	ExporterOTLP   = "otlp"
)

// ServiceName is the service.name of every span of ticketd.
const ServiceName = "ticketd"

// instrumentation names the tracer of ticketd's own spans (HTTP, sink write).
const instrumentation = "github.com/ultimate-ticket/ultimate-ticket"

// propagator is the one format of trace context in headers, HTTP and Kafka.
var propagator = propagation.TraceContext{}

// CheckExporter rejects an OTEL_EXPORTER value that is not one of the three.
func CheckExporter(name string) error {
	switch name {
	case ExporterNone, ExporterStdout, ExporterOTLP:
		return nil
	}
	return fmt.Errorf("%q is not none, stdout or otlp", name)
}

// Tracing is the tracer provider of a process and what the components need of
// it. The zero value is off: every method is a no-op.
type Tracing struct {
	tp       trace.TracerProvider
	shutdown func(context.Context) error
}

// New returns the tracing of a process exporting to exporter: none (off),
// stdout (spans as JSON to w), or otlp (OTLP over HTTP, configured by the
// standard OTEL_EXPORTER_OTLP_* variables; spans are sent in the background, so
// no collector is needed to start).
func New(exporter string, w io.Writer) (*Tracing, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch exporter {
	case ExporterNone, "":
		return &Tracing{}, nil
	case ExporterStdout:
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	case ExporterOTLP:
		exp, err = otlptracehttp.New(context.Background())
	default:
		err = CheckExporter(exporter)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return WithExporter(exp, sdktrace.WithBatcher(exp)), nil
}

// WithExporter returns tracing with a provider built from opts (tests pass a
// synchronous in-memory exporter). exp is shut down with it.
func WithExporter(exp sdktrace.SpanExporter, opts ...sdktrace.TracerProviderOption) *Tracing {
	res := resource.NewSchemaless(attribute.String("service.name", ServiceName))
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res)}, opts...)...)
	return &Tracing{tp: tp, shutdown: func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), exp.Shutdown(ctx))
	}}
}

// On reports whether spans are recorded.
func (t *Tracing) On() bool { return t != nil && t.tp != nil }

// Provider is the tracer provider (a no-op one when off).
func (t *Tracing) Provider() trace.TracerProvider {
	if !t.On() {
		return noop.NewTracerProvider()
	}
	return t.tp
}

// Shutdown exports what is buffered and stops the provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	return t.shutdown(ctx)
}

// KafkaHooks are the kgo hooks that trace a client's records (kotel): a publish
// span per produced record, its context injected in the record's headers, and a
// receive span per fetched record, child of the context in its headers, kept in
// the record's Context for what the consumer does with it. None when off.
func (t *Tracing) KafkaHooks(group string) []kgo.Hook {
	if !t.On() {
		return nil
	}
	opts := []kotel.TracerOpt{kotel.TracerProvider(t.tp), kotel.TracerPropagator(propagator)}
	if group != "" {
		opts = append(opts, kotel.ConsumerGroup(group))
	}
	return kotel.NewKotel(kotel.WithTracer(kotel.NewTracer(opts...))).Hooks()
}

// Handler wraps h with a server span per HTTP request, child of the request's
// traceparent header when it has one; h is returned as is when off. Span names
// are the method only: paths hold ids.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if !t.On() {
		return h
	}
	tracer := t.tp.Tracer(instrumentation)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Start starts a span of ticketd's own under ctx (a no-op span when off).
func (t *Tracing) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return t.Provider().Tracer(instrumentation).Start(ctx, name, opts...)
}

// TraceID is the trace id in ctx, "" when there is none: for log lines.
func TraceID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
