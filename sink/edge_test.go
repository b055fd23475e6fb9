package sink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// deadReasons reads the dead-letter topic until it has n records, and returns
// their reasons.
func (e *env) deadReasons(t *testing.T, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.names.DeadLetters),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var reasons []string
	for len(reasons) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == topics.HeaderDeadReason {
					reasons = append(reasons, string(h.Value))
				}
			}
		})
	}
	return reasons
}

// nulHold is a hold.placed event that is valid in every way but its customer id,
// which holds a NUL: Postgres refuses it in a text column.
func nulHold(g *gen) *topics.Outcome {
	z := g.zones[0]
	id := g.uuid()
	return &topics.Outcome{Version: topics.SchemaVersion, Type: topics.OutHoldPlaced, Time: g.now,
		EventID: g.eventID, ZoneID: z.id, RequestID: id, CommandType: topics.CmdPlaceHold,
		IdempotencyKey: "a\x00b", Zone: z.inv,
		Hold: &topics.Hold{ID: id, Status: topics.HoldActive, Quantity: 1, CustomerID: "c\x00d",
			CreatedAt: g.now, ExpiresAt: g.now.Add(time.Minute)}}
}

// TestUnstorableEventIsDeadLettered proves that an event Postgres cannot store (a
// NUL in its text) does not stop the sink: it goes to the dead-letter topic with
// its reason, and every later event of its partition still lands.
func TestUnstorableEventIsDeadLettered(t *testing.T) {
	e := newEnv(t, 2)
	g := newGen(5, 2, 100)
	events := g.stream(300)
	badMsg, err := topics.EncodeOutcome(nulHold(g), uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	bad := kafkarec.Record(topics.Events, badMsg)
	e.produce(t, events[:50], bad)
	e.produce(t, events[50:])

	s, _ := e.sink(t, 0)
	s.cfg.ApplyRetriesMax = 1 // a sink stuck on the record fails fast
	stop, _ := run(context.Background(), s)
	e.caughtUp(t)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	e.checkReadModel(t, g)
	reasons := e.deadReasons(t, 1)
	if len(reasons) != 1 || !strings.Contains(reasons[0], "not storable") {
		t.Errorf("dead-letter reasons = %q, want one naming the unstorable text", reasons)
	}
}

// TestPostgresRefusalIsIsolated proves the sink's last line of defence: when
// Postgres refuses a batch for its data (here a NUL the decoder's check did not
// catch, as if a new field were added and forgotten there), the batch is bisected,
// the refused record alone is dead-lettered with Postgres's reason, and the records
// before and after it are applied with the partition's offset past all of them.
func TestPostgresRefusalIsIsolated(t *testing.T) {
	e := newEnv(t, 1)
	g := newGen(6, 2, 100)
	events := g.stream(40)
	var batch []Record
	for i, ev := range events {
		batch = append(batch, Record{Partition: 0, Offset: int64(i), Event: ev})
	}
	poison := Record{Partition: 0, Offset: int64(len(batch)), Event: nulHold(g)}
	batch = append(batch[:20:20], append([]Record{poison}, batch[20:]...)...)
	for i := range batch {
		batch[i].Offset = int64(i)
	}
	s, _ := e.sink(t, 0)
	var dead []Record
	var reasons []string
	err := s.applyIsolating(context.Background(), batch, func(_ context.Context, r Record, reason string) error {
		dead, reasons = append(dead, r), append(reasons, reason)
		return nil
	})
	if err != nil {
		t.Fatalf("applyIsolating: %v", err)
	}
	if len(dead) != 1 || dead[0].Offset != 20 || !strings.Contains(reasons[0], "22021") {
		t.Fatalf("dead-lettered %d records (%q), want only offset 20 with SQLSTATE 22021", len(dead), reasons)
	}
	e.want[0] = int64(len(batch))
	e.caughtUp(t)
	e.checkReadModel(t, g)
}

// TestProgressIsRecorded proves what the API and the processor read of the sink's
// progress: per partition the newest event time written (decided_through) and the
// idempotency key of every request, in Postgres; and the consumed offsets in the
// sink's Kafka consumer group, equal to those in Postgres once it stops.
func TestProgressIsRecorded(t *testing.T) {
	const partitions = 3
	e := newEnv(t, partitions)
	g := newGen(7, 6, 1000)
	first := g.stream(500)
	e.produce(t, first)
	s, _ := e.sink(t, 100)
	stop, _ := run(context.Background(), s)
	e.caughtUp(t)
	second := make([]*topics.Outcome, 50)
	for i := range second {
		second[i] = g.next()
	}
	e.produce(t, second)
	e.caughtUp(t)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	newest := make(map[int32]time.Time)
	for _, ev := range append(first, second...) {
		p := topics.PartitionOf(ev.ZoneID, partitions)
		newest[p] = maxTime(newest[p], ev.Time)
	}
	for p, want := range newest {
		var got time.Time
		err := e.pool.QueryRow(context.Background(), `SELECT decided_through FROM sink_offsets
			WHERE topic = $1 AND partition = $2`, e.names.Events, p).Scan(&got)
		if err != nil || !got.Equal(want) {
			t.Errorf("partition %d: decided_through = %v (%v), want %v", p, got, err, want)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM requests WHERE idempotency_key IS NULL`); n != 0 {
		t.Errorf("%d requests without their idempotency key", n)
	}

	committed, err := kadm.NewClient(e.client(t)).FetchOffsets(context.Background(), e.names.Events+"-sink")
	if err != nil {
		t.Fatal(err)
	}
	for p, n := range e.storedOffsets(t) {
		if o, ok := committed.Lookup(e.names.Events, p); !ok || o.At != n {
			t.Errorf("partition %d: group offset %v, Postgres %d", p, o.At, n)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (e *env) client(t *testing.T) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
