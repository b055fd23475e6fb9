package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestMain runs the tests, or, when started as a child by a crash test, one processor
// instance that runs until it is killed.
func TestMain(m *testing.M) {
	if os.Getenv("PROCESSOR_CHILD") == "1" {
		runChild()
		return
	}
	testenv.Main(m)
}

// runChild is a processor instance in its own process, configured by the parent.
func runChild() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	p, err := New(childConfig(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	err = p.Run(ctx)
	p.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
}

func childConfig() LoopConfig {
	skew, _ := time.ParseDuration(os.Getenv("CHILD_CLOCK_SKEW"))
	return LoopConfig{
		Now:                func() time.Time { return time.Now().Add(skew) },
		Brokers:            strings.Split(os.Getenv("CHILD_BROKERS"), ","),
		Topics:             topics.NamesWithPrefix(os.Getenv("CHILD_PREFIX")),
		Partitions:         3,
		Group:              os.Getenv("CHILD_PREFIX") + "processor",
		TransactionalID:    os.Getenv("CHILD_INSTANCE"),
		PollRecordsMax:     200,
		TransactionTimeout: 5 * time.Second,
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// child is a processor instance in a separate process.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

func startChild(t *testing.T, brokers []string, prefix, instance string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROCESSOR_CHILD=1", "CHILD_BROKERS="+strings.Join(brokers, ","),
		"CHILD_PREFIX="+prefix, "CHILD_INSTANCE="+instance)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { c.kill() })
	return c
}

// kill ends the process at once: no transaction is ended, no group is left.
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
	c.done <- nil
}

func (c *child) terminate(t *testing.T) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- nil
		if err != nil {
			t.Errorf("processor exited: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("processor did not stop within 30 s")
	}
}

// workload produces commands for a few zones: configure them, then a random stream
// of holds, confirms and releases. It remembers every request id it sent.
type workload struct {
	cl       *kgo.Client
	names    topics.Names
	event    uuid.UUID
	zones    []uuid.UUID
	rng      *rand.Rand
	mu       sync.Mutex
	requests map[uuid.UUID]topics.CommandType
	holds    []uuid.UUID
}

func newWorkload(t *testing.T, brokers []string, names topics.Names, zones int, seed uint64) *workload {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(names.Commands))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	w := &workload{cl: cl, names: names, event: uuid.New(), rng: rand.New(rand.NewPCG(seed, seed)), requests: map[uuid.UUID]topics.CommandType{}}
	for range zones {
		w.zones = append(w.zones, uuid.New())
	}
	return w
}

func (w *workload) send(t *testing.T, cmd *topics.Command) {
	t.Helper()
	cmd.RequestID = uuid.Must(uuid.NewV7())
	cmd.EventID = w.event
	cmd.SubmittedAt = time.Now()
	m, err := topics.EncodeCommand(cmd)
	if err != nil {
		t.Fatal(err)
	}
	rec := kafkarec.Record(w.names.Commands, m)
	if err := w.cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.requests[cmd.RequestID] = cmd.Type
	if cmd.Type == topics.CmdPlaceHold {
		w.holds = append(w.holds, cmd.RequestID)
	}
	w.mu.Unlock()
}

func (w *workload) configure(t *testing.T, capacity int64) {
	for i, z := range w.zones {
		w.send(t, &topics.Command{Type: topics.CmdConfigureZone, ZoneID: z, Configure: &topics.ConfigureZone{
			EventName: "Load", ZoneName: fmt.Sprintf("z%d", i), Capacity: &capacity,
		}})
	}
}

// random sends n random commands. Holds name a zone; confirms and releases a hold
// placed earlier, sometimes of another zone (rejected as not found).
func (w *workload) random(t *testing.T, n int) {
	for i := range n {
		z := w.zones[w.rng.IntN(len(w.zones))]
		w.mu.Lock()
		var target uuid.UUID
		if len(w.holds) > 0 {
			target = w.holds[w.rng.IntN(len(w.holds))]
		}
		w.mu.Unlock()
		switch r := w.rng.IntN(10); {
		case r < 6 || target == uuid.Nil:
			w.send(t, &topics.Command{Type: topics.CmdPlaceHold, ZoneID: z, IdempotencyKey: fmt.Sprintf("h%d", i%50),
				Place: &topics.PlaceHold{Quantity: 1 + w.rng.Int64N(4)}})
		case r < 8:
			w.send(t, &topics.Command{Type: topics.CmdConfirmHold, ZoneID: z, IdempotencyKey: fmt.Sprintf("c%d", i),
				Confirm: &topics.ConfirmHold{HoldID: target}})
		default:
			w.send(t, &topics.Command{Type: topics.CmdReleaseHold, ZoneID: z, IdempotencyKey: fmt.Sprintf("r%d", i),
				Release: &topics.ReleaseHold{HoldID: target}})
		}
	}
}

// checkEvents reads the events topic (read_committed) until every request has its
// answer, and checks that no answer is duplicated, and that per zone each event's
// inventory follows from the previous one by exactly that event's change.
func checkEvents(t *testing.T, brokers []string, names topics.Names, requests map[uuid.UUID]topics.CommandType) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(names.Events),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	answered := map[uuid.UUID]int{}
	last := map[uuid.UUID]topics.Inventory{}
	holds := map[uuid.UUID]topics.HoldStatus{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for len(answered) < len(requests) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d requests answered", len(answered), len(requests))
		}
		fetches.EachRecord(func(r *kgo.Record) {
			e, err := topics.DecodeOutcome(r.Value)
			if err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
			if e.RequestID != uuid.Nil {
				answered[e.RequestID]++
				if answered[e.RequestID] > 1 {
					t.Errorf("request %s answered twice (%s)", e.RequestID, e.Type)
				}
			}
			checkTransition(t, &e, last, holds)
			last[e.ZoneID] = e.Zone
		})
	}
	for id := range requests {
		if answered[id] != 1 {
			t.Errorf("request %s answered %d times", id, answered[id])
		}
	}
}

func checkTransition(t *testing.T, e *topics.Outcome, last map[uuid.UUID]topics.Inventory, holds map[uuid.UUID]topics.HoldStatus) {
	t.Helper()
	prev, seen := last[e.ZoneID]
	inv := e.Zone
	if inv.Available+inv.Held+inv.Sold != inv.Capacity || inv.Available < 0 || inv.Held < 0 || inv.Sold < 0 {
		t.Fatalf("%s: inventory %+v does not add up", e.Type, inv)
	}
	if !seen {
		if e.Type != topics.OutZoneConfigured {
			t.Fatalf("first event of zone %s is %s", e.ZoneID, e.Type)
		}
		return
	}
	dHeld, dSold := inv.Held-prev.Held, inv.Sold-prev.Sold
	switch e.Type {
	case topics.OutHoldPlaced:
		ok(t, dHeld == e.Hold.Quantity && dSold == 0, e, prev)
		ok(t, holds[e.Hold.ID] == "", e, prev)
		holds[e.Hold.ID] = topics.HoldActive
	case topics.OutHoldConfirmed:
		ok(t, dHeld == -e.Order.Quantity && dSold == e.Order.Quantity, e, prev)
		ok(t, holds[e.Order.HoldID] == topics.HoldActive, e, prev)
		holds[e.Order.HoldID] = topics.HoldConfirmed
	case topics.OutHoldReleased, topics.OutHoldExpired:
		ok(t, dHeld == -e.Hold.Quantity && dSold == 0, e, prev)
		ok(t, holds[e.Hold.ID] == topics.HoldActive, e, prev)
		holds[e.Hold.ID] = e.Hold.Status
	default:
		ok(t, dHeld == 0 && dSold == 0, e, prev)
	}
}

func ok(t *testing.T, cond bool, e *topics.Outcome, prev topics.Inventory) {
	t.Helper()
	if !cond {
		raw, _ := json.Marshal(e)
		t.Fatalf("event does not follow from inventory %+v: %s", prev, raw)
	}
}

// TestCrashTakeoverAndRebalance proves exactly-once on real Kafka: a processor is
// killed mid-stream without ending its transaction, a second instance takes its
// partitions over, a third joins and leaves under load; every command is answered
// exactly once and every zone's inventory follows event by event.
func TestCrashTakeoverAndRebalance(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	w := newWorkload(t, brokers, names, 6, uint64(time.Now().UnixNano()))
	w.configure(t, 400)

	a := startChild(t, brokers, prefix, prefix+"a")
	w.random(t, 600)
	a.kill() // mid-stream: whatever transaction is open stays open until it times out
	b := startChild(t, brokers, prefix, prefix+"b")
	w.random(t, 600)
	c := startChild(t, brokers, prefix, prefix+"c") // a rebalance under load
	w.random(t, 600)
	c.terminate(t) // and another
	w.random(t, 300)
	checkEvents(t, brokers, names, w.requests)
	b.terminate(t)
}

// TestRestartRestoresState proves that a restarted processor continues from the
// changelog: holds placed before the restart can be confirmed after it, and
// capacity taken before it stays taken.
func TestRestartRestoresState(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	w := newWorkload(t, brokers, names, 1, 1)
	w.configure(t, 10)
	for i := range 5 {
		w.send(t, &topics.Command{Type: topics.CmdPlaceHold, ZoneID: w.zones[0], IdempotencyKey: fmt.Sprintf("k%d", i),
			Place: &topics.PlaceHold{Quantity: 2}})
	}
	a := startChild(t, brokers, prefix, prefix+"a")
	checkEvents(t, brokers, names, w.requests)
	a.terminate(t)

	// The zone is full; confirm two holds placed before the restart, and ask for one more ticket.
	for _, h := range w.holds[:2] {
		w.send(t, &topics.Command{Type: topics.CmdConfirmHold, ZoneID: w.zones[0], IdempotencyKey: "c-" + h.String(),
			Confirm: &topics.ConfirmHold{HoldID: h}})
	}
	w.send(t, &topics.Command{Type: topics.CmdPlaceHold, ZoneID: w.zones[0], IdempotencyKey: "late",
		Place: &topics.PlaceHold{Quantity: 1}})
	b := startChild(t, brokers, prefix, prefix+"b")
	defer b.terminate(t)
	checkEvents(t, brokers, names, w.requests)
	final := lastOutcome(t, brokers, names)
	if final.Type != topics.OutRequestRejected || final.Rejection.Reason != topics.ReasonInsufficientCapacity {
		t.Fatalf("last event %s %+v, want insufficient_capacity", final.Type, final.Rejection)
	}
	if final.Zone.Sold != 4 || final.Zone.Held != 6 {
		t.Fatalf("inventory %+v, want 4 sold and 6 held", final.Zone)
	}
}

func lastOutcome(t *testing.T, brokers []string, names topics.Names) topics.Outcome {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(names.Events),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var last topics.Outcome
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return last
		}
		f.EachRecord(func(r *kgo.Record) {
			if e, err := topics.DecodeOutcome(r.Value); err == nil {
				last = e
			}
		})
	}
}

// TestPoisonCommandsGoToDeadLetters proves that undecodable, invalid and misrouted
// command records go to the dead-letter topic with their reason, and the commands
// around them are still applied.
func TestPoisonCommandsGoToDeadLetters(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	w := newWorkload(t, brokers, names, 1, 7)
	w.configure(t, 10)
	zone := w.zones[0].String()
	poison := []*kgo.Record{
		{Topic: names.Commands, Key: []byte(zone), Value: []byte("not json")},
		{Topic: names.Commands, Key: []byte(zone), Value: []byte(`{"v":1,"type":"hold.place"}`)},
	}
	// A valid command for the zone, on a partition that is not the zone's.
	good := &topics.Command{Version: topics.SchemaVersion, Type: topics.CmdPlaceHold, RequestID: uuid.New(), EventID: w.event,
		ZoneID: w.zones[0], Place: &topics.PlaceHold{Quantity: 1}}
	m, err := topics.EncodeCommand(good)
	if err != nil {
		t.Fatal(err)
	}
	misrouted := kafkarec.Record(names.Commands, m)
	misrouted.Partition = (topics.PartitionOf(good.ZoneID, 3) + 1) % 3
	poison = append(poison, misrouted)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := kgo.StickyKeyPartitioner(nil).ForTopic(names.Commands).Partition(misrouted, 3)
	for _, r := range poison[:2] {
		r.Partition = int32(want)
	}
	if err := cl.ProduceSync(context.Background(), poison...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	w.send(t, &topics.Command{Type: topics.CmdPlaceHold, ZoneID: w.zones[0], Place: &topics.PlaceHold{Quantity: 1}})
	a := startChild(t, brokers, prefix, prefix+"a")
	defer a.terminate(t)
	checkEvents(t, brokers, names, w.requests)

	dl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(names.DeadLetters),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	var reasons []string
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(reasons) < 3 && ctx.Err() == nil {
		dl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == topics.HeaderDeadReason {
					reasons = append(reasons, string(h.Value))
				}
			}
		})
	}
	joined := strings.Join(reasons, "\n")
	for _, want := range []string{"undecodable command", "invalid command", "wrong partition"} {
		if !strings.Contains(joined, want) {
			t.Errorf("dead-letter reasons %q lack %q", joined, want)
		}
	}
}
