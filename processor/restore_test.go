package processor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// newTestProcessor is an in-process processor of the test's topics, configured like
// the child processes.
func newTestProcessor(t *testing.T, brokers []string, names topics.Names, instance string, mod func(*LoopConfig)) *Processor {
	t.Helper()
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	cfg := LoopConfig{
		Brokers: brokers, Topics: names, Partitions: 3, Group: prefix + "processor",
		TransactionalID: prefix + instance, PollRecordsMax: 200, TransactionTimeout: 5 * time.Second,
		RestoreTimeout: 30 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// running is a processor's Run in a goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func run(t *testing.T, p *Processor) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// returnedEarly tells whether Run returned before it was asked to stop.
func (r *running) returnedEarly() (error, bool) {
	select {
	case err := <-r.done:
		r.done <- err
		return err, true
	default:
		return nil, false
	}
}

func (r *running) stop(t *testing.T) {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not return within 30 s of cancel")
	}
}

// restoreAll restores every partition and returns the records read and the
// states' stats.
func restoreAll(t *testing.T, p *Processor) (int, []zone.Stats) {
	t.Helper()
	total, stats := 0, []zone.Stats(nil)
	for part := range int32(3) {
		st, n, err := p.restore(context.Background(), part)
		if err != nil {
			t.Fatalf("restore partition %d: %v", part, err)
		}
		total += n
		stats = append(stats, st.Stats())
	}
	return total, stats
}

// TestRestoreOutlastsAStall proves that a restore reads to the end it measured: a
// broker that answers nothing for a while (here, polls that come back empty) is
// not the end of the changelog. Before, the first empty poll ended the restore
// with a prefix of the state (here, an empty one).
func TestRestoreOutlastsAStall(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	w := newWorkload(t, brokers, names, 3, 21)
	w.configure(t, 100)
	w.random(t, 200)
	a := startChild(t, brokers, prefix, prefix+"a")
	checkEvents(t, brokers, names, w.requests)
	a.terminate(t)

	p := newTestProcessor(t, brokers, names, "restorer", nil)
	want, wantStats := restoreAll(t, p)
	if want == 0 {
		t.Fatal("the changelog is empty")
	}
	var mu sync.Mutex
	stalls := 0
	p.restorePoll = func(ctx context.Context, cl *kgo.Client) kgo.Fetches {
		mu.Lock()
		defer mu.Unlock()
		if stalls%4 != 3 { // three empty answers before each real poll
			stalls++
			return kgo.Fetches{}
		}
		stalls++
		return cl.PollRecords(ctx, 10) // small reads, so the stalls fall in the middle
	}
	got, gotStats := restoreAll(t, p)
	if got != want {
		t.Errorf("restored %d records through stalls, %d without", got, want)
	}
	for i := range wantStats {
		if gotStats[i] != wantStats[i] {
			t.Errorf("partition %d: stats %+v through stalls, %+v without", i, gotStats[i], wantStats[i])
		}
	}

	// A stall longer than RestoreTimeout fails the restore, naming where it stopped.
	p.cfg.RestoreTimeout = time.Second
	p.restorePoll = func(context.Context, *kgo.Client) kgo.Fetches { return kgo.Fetches{} }
	var inc *ErrRestoreIncomplete
	for part := range int32(3) {
		if _, _, err := p.restore(context.Background(), part); err != nil && !errors.As(err, &inc) {
			t.Errorf("partition %d: %v, want ErrRestoreIncomplete", part, err)
		}
	}
	if inc == nil {
		t.Error("no restore failed although every poll stalled")
	}
}

// TestRestoredStateCheckedAgainstCommittedOffset proves that a state whose recorded
// command offset differs from the group's committed offset is refused.
func TestRestoredStateCheckedAgainstCommittedOffset(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	p := newTestProcessor(t, brokers, names, "checker", nil)
	// A group no member has joined (the session joins p's own group), so that an
	// admin commit is accepted.
	p.cfg.Group = names.Commands + "-checked"
	ctx := context.Background()
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: names.Commands, Partition: 1, At: 7, LeaderEpoch: -1})
	commitGroup(t, p.adm, p.cfg.Group, offs)
	st := zone.NewState(p.cfg.State)
	st.SetConsumed(5)
	var mm *ErrStateMismatch
	if err := p.checkConsumed(ctx, st, 1, 1); !errors.As(err, &mm) || mm.Consumed != 5 || mm.Committed != 7 {
		t.Fatalf("checkConsumed = %v, want a mismatch of 5 and 7", err)
	}
	st.SetConsumed(7)
	if err := p.checkConsumed(ctx, st, 1, 1); err != nil {
		t.Fatalf("checkConsumed with equal offsets = %v", err)
	}
	if err := p.checkConsumed(ctx, zone.NewState(p.cfg.State), 1, 0); !errors.As(err, &mm) {
		t.Fatalf("an empty changelog while the group consumed commands: %v, want a mismatch", err)
	}
}

// TestCommittedOffsetPastATransactionMarker proves that a state is not taken for
// stale when the group's position has only moved past what the state never sees:
// the marker of a transaction that appended a tick (the group commits the offset
// after the marker). A command in between still makes it stale. Before, any
// difference was a mismatch, and a partition whose last record was a tick could
// never be restored again (found by make chaos).
func TestCommittedOffsetPastATransactionMarker(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	p := newTestProcessor(t, brokers, names, "marker", nil)
	p.cfg.Group = names.Commands + "-marker"
	ctx := context.Background()
	// Offsets 0-1: commands; 2: a tick, 3: its commit marker; 4: a command.
	produceCommands(t, brokers, names.Commands, 1, 2)
	produceTick(t, brokers, names.Commands, 1)
	produceCommands(t, brokers, names.Commands, 1, 1)
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: names.Commands, Partition: 1, At: 4, LeaderEpoch: -1})
	commitGroup(t, p.adm, p.cfg.Group, offs)
	st := zone.NewState(p.cfg.State)
	for _, c := range []struct {
		consumed int64
		stale    bool
	}{{2, false}, {3, false}, {4, false}, {1, true}, {5, true}} {
		st.SetConsumed(c.consumed)
		err := p.checkConsumed(ctx, st, 1, 1)
		var mm *ErrStateMismatch
		if got := errors.As(err, &mm); got != c.stale || (err != nil && !got) {
			t.Errorf("state at %d, group at 4: checkConsumed = %v, want stale %v", c.consumed, err, c.stale)
		}
	}
}

func produceCommands(t *testing.T, brokers []string, topic string, part int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range n {
		r := &kgo.Record{Topic: topic, Partition: part, Key: []byte("zone"), Value: []byte("{}")}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func produceTick(t *testing.T, brokers []string, topic string, part int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(topic+"-ticker"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, tickRecord(topic, part)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

// TestFencedProducerResetsAndGoesOn proves that a transaction error does not stop
// the processor: another producer with its transactional id fences it mid-stream;
// it replaces its session, restores its partitions and answers every command
// exactly once, and Run returns only when asked to. Before, Run returned the error.
func TestFencedProducerResetsAndGoesOn(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	w := newWorkload(t, brokers, names, 6, 31)
	w.configure(t, 400)
	p := newTestProcessor(t, brokers, names, "fenced", nil)
	r := run(t, p)
	w.random(t, 300)
	checkEvents(t, brokers, names, w.requests)

	fence(t, brokers, p.cfg.TransactionalID, names.Events)
	w.random(t, 300)
	checkEvents(t, brokers, names, w.requests)
	if err, early := r.returnedEarly(); early {
		t.Fatalf("Run returned before it was stopped: %v", err)
	}
	if n := counterValue(p.m.resets); n < 1 {
		t.Fatalf("%v session resets; the fence was not felt", n)
	}
}

// fence starts and aborts a transaction under txnID, which bumps the producer
// epoch and fences the processor's producer.
func fence(t *testing.T, brokers []string, txnID, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("fence")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// commitGroup commits offs for group, retrying while the new topic's metadata and
// the group's coordinator settle.
func commitGroup(t *testing.T, adm *kadm.Client, group string, offs kadm.Offsets) {
	t.Helper()
	var err error
	for range 40 {
		if err = adm.CommitAllOffsets(context.Background(), group, offs); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("commit offsets of %s: %v", group, err)
}
