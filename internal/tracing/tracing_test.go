package tracing

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestExporters proves that each OTEL_EXPORTER value starts (otlp without a
// collector: spans are sent in the background), that none records nothing and
// costs no hooks, and that anything else is refused.
func TestExporters(t *testing.T) {
	for _, name := range []string{ExporterNone, ExporterStdout, ExporterOTLP} {
		if err := CheckExporter(name); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
		var out bytes.Buffer
		tr, err := New(name, &out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if on := name != ExporterNone; tr.On() != on || (len(tr.KafkaHooks("")) > 0) != on {
			t.Errorf("%s: On %v, %d Kafka hooks", name, tr.On(), len(tr.KafkaHooks("")))
		}
		_, span := tr.Start(context.Background(), "probe")
		span.End()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = tr.Shutdown(ctx) // otlp: no collector to take the span, which is fine here
		cancel()
		if name == ExporterStdout && !bytes.Contains(out.Bytes(), []byte(`"probe"`)) {
			t.Errorf("stdout exporter wrote %q, want the span", out.String())
		}
	}
	if err := CheckExporter("jaeger"); err == nil {
		t.Error("jaeger accepted")
	}
	if _, err := New("jaeger", nil); err == nil {
		t.Error("New(jaeger) accepted")
	}
}

// TestTraceCrossesKafka proves, on kfake, that a record produced under a request's
// span carries its trace in a header, and that the consumer's receive span is in
// the same trace: the hand-over the API, the processor and the sink rely on. The
// HTTP span continues a caller's traceparent.
func TestTraceCrossesKafka(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := WithExporter(exp, sdktrace.WithSyncer(exp))
	defer func() { _ = tr.Shutdown(context.Background()) }()

	var reqCtx context.Context
	h := tr.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { reqCtx = r.Context() }))
	req := httptest.NewRequest("POST", "/holds", nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got := TraceID(reqCtx); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("request trace %q, want the caller's", got)
	}

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.WithHooks(tr.KafkaHooks("")...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(reqCtx, &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("t"),
		kgo.WithHooks(tr.KafkaHooks("g")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got *kgo.Record
	for got == nil && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = r })
	}
	if got == nil {
		t.Fatal("nothing consumed")
	}
	if TraceID(got.Context) != TraceID(reqCtx) {
		t.Errorf("consumed record in trace %q, want %q", TraceID(got.Context), TraceID(reqCtx))
	}
	if sc := trace.SpanContextFromContext(got.Context); !sc.IsValid() {
		t.Error("consumed record has no receive span")
	}
}
