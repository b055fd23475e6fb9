package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/internal/tracing"
)

// lockedBuffer is a log sink that the components write to from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestOneTraceFromPostToSink proves the tracing of `ticketd all` on real Kafka
// and Postgres: one hold's spans (the POST, the command's publish and the
// processor's receive, the outcome's publish and the sink's receive, the sink's
// write) share one trace id, each a child of the one before; and the request id
// is in the API's, the processor's and the sink's log line for that request.
func TestOneTraceFromPostToSink(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	prefix := fmt.Sprintf("trace%d-", time.Now().UnixNano())
	cfg := drainConfig(t, prefix, "one", testenv.Postgres(t))
	cfg.tracing = tracing.WithExporter(exp, sdktrace.WithSyncer(exp))
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	td := devstack.RunTicketd(cfg.HTTPAddr, func(ctx context.Context) error { return runCommand(ctx, "all", cfg, log) })
	defer func() { _ = td.Stop() }()
	if err := td.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventID, zoneID := createZone(t, td.URL, 10)

	r := submitHold(http.DefaultClient, td.URL, eventID, zoneID, "traced")
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("hold: %d %v", r.status, r.err)
	}
	names := cfg.names()
	chain := []string{"HTTP POST", names.Commands + " publish", names.Commands + " receive",
		names.Events + " publish", names.Events + " receive", "sink write"}
	var spans map[string]tracetest.SpanStub
	eventually(t, func() bool {
		spans = holdTrace(exp.GetSpans())
		return len(spans) == len(chain)
	})
	t.Logf("trace %s: %s", spans[chain[0]].SpanContext.TraceID(), strings.Join(chain, " -> "))
	for i := 1; i < len(chain); i++ {
		parent, child := spans[chain[i-1]], spans[chain[i]]
		if child.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("%q is not a child of %q", chain[i], chain[i-1])
		}
	}

	for _, line := range []string{"command published", "command applied", "event written"} {
		if !hasLine(logs.String(), line, r.requestID) {
			t.Errorf("no %q log line with request_id=%s", line, r.requestID)
		}
	}
}

// holdTrace returns, by name, the spans of the trace of the POST /holds (a name
// seen twice in it is kept twice, so the map grows past the chain).
func holdTrace(all tracetest.SpanStubs) map[string]tracetest.SpanStub {
	var traceID string
	for _, s := range all {
		for _, a := range s.Attributes {
			if string(a.Key) == "url.path" && a.Value.AsString() == "/holds" {
				traceID = s.SpanContext.TraceID().String()
			}
		}
	}
	out := map[string]tracetest.SpanStub{}
	for _, s := range all {
		if traceID == "" || s.SpanContext.TraceID().String() != traceID {
			continue
		}
		if _, dup := out[s.Name]; dup {
			out[s.Name+" (again)"] = s
			continue
		}
		out[s.Name] = s
	}
	return out
}

// hasLine tells whether logs has a line with msg and request_id.
func hasLine(logs, msg, requestID string) bool {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) && strings.Contains(l, "request_id="+requestID) {
			return true
		}
	}
	return false
}
