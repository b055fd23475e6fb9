package sink

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// catchUpWait bounds how long a test waits for a sink to apply what was produced.
const catchUpWait = 30 * time.Second

// env is one test's Kafka topics and database.
type env struct {
	brokers []string
	names   topics.Names
	pool    *pgxpool.Pool
	want    map[int32]int64 // per partition, the offset after the last produced record
}

func newEnv(t *testing.T, partitions int32) *env {
	t.Helper()
	return &env{brokers: testenv.Kafka(t), names: testenv.Topics(t, partitions), pool: testenv.Pool(t),
		want: make(map[int32]int64)}
}

// produce writes events the way the processor does: in Kafka transactions, keyed by
// zone, with CloudEvents headers. extra records (poison) go in the first
// transaction.
func (e *env) produce(t *testing.T, outcomes []*topics.Outcome, extra ...*kgo.Record) {
	t.Helper()
	const perTxn = 500
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.TransactionalID(e.names.Events+"-producer"),
		kgo.DefaultProduceTopic(e.names.Events))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := extra
	for _, ev := range outcomes {
		m, err := topics.EncodeOutcome(ev, topics.OutcomeRecordID(ev))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, kafkarec.Record(e.names.Events, m))
	}
	for len(recs) > 0 {
		n := min(perTxn, len(recs))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[:n] {
			r.Topic = e.names.Events
		}
		res := cl.ProduceSync(ctx, recs[:n]...)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			e.want[r.Record.Partition] = max(e.want[r.Record.Partition], r.Record.Offset+1)
		}
		recs = recs[n:]
	}
}

// sink builds a Sink on the env with a fresh registry.
func (e *env) sink(t *testing.T, batchMax int) (*Sink, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(Config{Brokers: e.brokers, Topics: e.names, Group: e.names.Events + "-sink",
		BatchRecordsMax: batchMax}, e.pool, reg)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

// run starts s.Run and returns a stop function that cancels it and returns its
// error.
func run(ctx context.Context, s *Sink) (stop func() error, done <-chan error) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan error, 1)
	go func() { ch <- s.Run(ctx) }()
	return func() error { cancel(); return <-ch }, ch
}

// caughtUp waits until sink_offsets holds every produced offset.
func (e *env) caughtUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(catchUpWait)
	for {
		got := e.storedOffsets(t)
		ok := len(got) == len(e.want)
		for p, n := range e.want {
			ok = ok && got[p] == n
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink did not catch up in %v: stored offsets %v, produced %v", catchUpWait, got, e.want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) storedOffsets(t *testing.T) map[int32]int64 {
	t.Helper()
	rows, err := e.pool.Query(context.Background(),
		`SELECT partition, next_offset FROM sink_offsets WHERE topic = $1`, e.names.Events)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[int32]int64)
	for rows.Next() {
		var p int32
		var n int64
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		got[p] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *env) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// checkReadModel compares every table with what the generator says.
func (e *env) checkReadModel(t *testing.T, g *gen) {
	t.Helper()
	if got := e.count(t, `SELECT count(*) FROM requests`); got != g.requests {
		t.Errorf("requests rows = %d, want %d (one per request id)", got, g.requests)
	}
	if got := e.count(t, `SELECT count(*) FROM events WHERE id = $1 AND name = 'Concert'`, g.eventID); got != 1 {
		t.Errorf("events rows for %s = %d, want 1", g.eventID, got)
	}
	for _, z := range g.zones {
		var inv topics.Inventory
		var name string
		err := e.pool.QueryRow(context.Background(),
			`SELECT name, capacity, available, held, sold FROM zones WHERE id = $1`, z.id).
			Scan(&name, &inv.Capacity, &inv.Available, &inv.Held, &inv.Sold)
		if err != nil {
			t.Fatalf("zone %s: %v", z.id, err)
		}
		if inv != z.inv || name != z.cfg.ZoneName {
			t.Errorf("zone %s = %q %+v, want %q %+v", z.id, name, inv, z.cfg.ZoneName, z.inv)
		}
	}
	want := make(map[topics.HoldStatus]int)
	for _, s := range g.statuses {
		want[s]++
	}
	for _, s := range []topics.HoldStatus{topics.HoldActive, topics.HoldConfirmed, topics.HoldReleased, topics.HoldExpired} {
		if got := e.count(t, `SELECT count(*) FROM holds WHERE status = $1`, string(s)); got != want[s] {
			t.Errorf("holds %s = %d, want %d", s, got, want[s])
		}
	}
	if got := e.count(t, `SELECT count(*) FROM holds WHERE status <> 'active' AND resolved_at IS NULL`); got != 0 {
		t.Errorf("%d resolved holds without resolved_at", got)
	}
	if got := e.count(t, `SELECT count(*) FROM orders o JOIN holds h ON h.id = o.hold_id AND h.order_id = o.id
		WHERE h.status = 'confirmed'`); got != g.orders {
		t.Errorf("orders joined to their confirmed hold = %d, want %d", got, g.orders)
	}
}

// appliedTotal sums ticket_sink_events_applied_total over types.
func appliedTotal(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "ticket_sink_events_applied_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int(n)
}

// TestEndToEnd proves that a realistic stream produced in Kafka transactions ends up
// in every read-model table, with the offsets of every partition stored.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t, 3)
	g := newGen(1, 5, 100)
	outcomes := g.stream(3000)
	e.produce(t, outcomes)

	e.runUntilCaughtUp(t, g, len(outcomes))
	// A replay repeats the first answer, with the command type and the hold.
	var replayed, withType int
	err := e.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE type <> '' AND
		(status = 'rejected' OR hold_id IS NOT NULL OR type = 'zone.configure')) FROM requests WHERE replayed`).Scan(&replayed, &withType)
	if err != nil {
		t.Fatal(err)
	}
	if replayed == 0 || withType != replayed {
		t.Errorf("replayed requests = %d, with type and answer = %d", replayed, withType)
	}
	if n := e.count(t, `SELECT count(*) FROM requests WHERE reason = 'insufficient_capacity' AND available IS NOT NULL`); n == 0 {
		t.Errorf("no insufficient_capacity rejection with available (capacity 100 should run out)")
	}
}

// errCrash stands for the process dying.
var errCrash = errors.New("crash")

// TestCrashBeforeAndAfterCommit proves exactly once across crashes: a sink that dies
// with a batch written but not committed, then one that dies after a commit but
// before telling Kafka, then a fresh one, together apply every event exactly once.
func TestCrashBeforeAndAfterCommit(t *testing.T) {
	e := newEnv(t, 3)
	g := newGen(2, 6, 1_000_000)
	outcomes := g.stream(4000)
	e.produce(t, outcomes)
	const batchMax = 300

	// Crash 1: the third batch is written, then the process dies before commit.
	s1, reg1 := e.sink(t, batchMax)
	var calls atomic.Int32
	ctx1, cancel1 := context.WithCancel(context.Background())
	s1.beforeCommit = func(context.Context) error {
		if calls.Add(1) == 3 {
			cancel1()
			return errCrash
		}
		return nil
	}
	if err := s1.Run(ctx1); err != nil {
		t.Fatalf("Run 1: %v", err)
	}
	cancel1()

	// Crash 2: the third batch commits, then the process dies.
	s2, reg2 := e.sink(t, batchMax)
	var commits atomic.Int32
	s2.afterCommit = func() error {
		if commits.Add(1) == 3 {
			return errCrash
		}
		return nil
	}
	if err := s2.Run(context.Background()); !errors.Is(err, errCrash) {
		t.Fatalf("Run 2 = %v, want the crash", err)
	}

	s3, reg3 := e.sink(t, batchMax)
	stop, _ := run(context.Background(), s3)
	e.caughtUp(t)
	if err := stop(); err != nil {
		t.Fatalf("Run 3: %v", err)
	}
	e.checkReadModel(t, g)
	a1, a2, a3 := appliedTotal(t, reg1), appliedTotal(t, reg2), appliedTotal(t, reg3)
	if a1 == 0 || a2 == 0 || a1+a2+a3 != len(outcomes) {
		t.Errorf("events applied by the three sinks = %d + %d + %d, want %d in all, each > 0",
			a1, a2, a3, len(outcomes))
	}
}

// TestRestartsMidStream proves that stopping and starting sinks while events keep
// arriving (sometimes two sinks at once, sharing the partitions) loses nothing and
// applies nothing twice.
func TestRestartsMidStream(t *testing.T) {
	e := newEnv(t, 4)
	g := newGen(3, 8, 1_000_000)
	first := g.configure()
	const chunks, perChunk = 6, 600
	var total int
	regs := []*prometheus.Registry{}
	var prev func() error
	e.produce(t, first)
	total += len(first)
	for i := range chunks {
		s, reg := e.sink(t, 200)
		regs = append(regs, reg)
		stop, _ := run(context.Background(), s)
		chunk := make([]*topics.Outcome, perChunk)
		for j := range chunk {
			chunk[j] = g.next()
		}
		e.produce(t, chunk)
		total += perChunk
		time.Sleep(time.Duration(50+100*i) * time.Millisecond)
		if prev != nil {
			if err := prev(); err != nil {
				t.Fatalf("Run %d: %v", i-1, err)
			}
		}
		prev = stop
	}
	e.caughtUp(t)
	if err := prev(); err != nil {
		t.Fatalf("Run last: %v", err)
	}
	e.checkReadModel(t, g)
	var applied int
	for _, reg := range regs {
		applied += appliedTotal(t, reg)
	}
	if applied != total {
		t.Errorf("events applied by %d sinks = %d, want %d", len(regs), applied, total)
	}
}

// TestPoisonRecords proves that an undecodable record and an invalid event go to
// the dead-letter topic with their reason, and the events around them are applied.
func TestPoisonRecords(t *testing.T) {
	e := newEnv(t, 2)
	g := newGen(4, 2, 100)
	outcomes := g.stream(200)
	zone := g.zones[0].id.String()
	garbage := &kgo.Record{Key: []byte(zone), Value: []byte("not json")}
	bad := &topics.Outcome{Version: topics.SchemaVersion, Type: topics.OutHoldPlaced, ZoneID: g.zones[0].id,
		RequestID: g.uuid(), Time: g.now}
	badMsg, err := topics.EncodeOutcome(bad, topics.OutcomeRecordID(bad))
	if err != nil {
		t.Fatal(err)
	}
	badRec := kafkarec.Record(topics.Events, badMsg)
	e.produce(t, outcomes[:10], garbage, badRec)
	e.produce(t, outcomes[10:])

	e.runUntilCaughtUp(t, g, len(outcomes))

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.names.DeadLetters),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var reasons []string
	for len(reasons) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == topics.HeaderDeadReason {
					reasons = append(reasons, string(h.Value))
				}
			}
		})
	}
	if len(reasons) != 2 {
		t.Fatalf("dead letters = %q, want 2", reasons)
	}
	if !strings.Contains(reasons[0], "undecodable") || !strings.Contains(reasons[1], "needs a hold") {
		t.Errorf("dead-letter reasons = %q", reasons)
	}
}

// runUntilCaughtUp runs one sink until it has applied everything produced, then
// checks the read model against g and that it applied exactly want events.
func (e *env) runUntilCaughtUp(t *testing.T, g *gen, want int) {
	t.Helper()
	s, reg := e.sink(t, 0)
	stop, _ := run(context.Background(), s)
	e.caughtUp(t)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	e.checkReadModel(t, g)
	if got := appliedTotal(t, reg); got != want {
		t.Errorf("events applied = %d, want %d", got, want)
	}
}
