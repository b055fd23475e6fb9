package processor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestStopFinishesTheTransactionAndLeaves proves the processor's graceful stop
// (kfake): a stop that arrives while a transaction is under way lets it commit
// (no abort, one more committed transaction), Run returns nil, and Close takes
// the static member out of the group, so that the next member owns every
// partition at once; that member answers the rest, and every command is answered
// exactly once. Before, the stop cancelled the transaction's context: it aborted,
// and the static member kept its partitions until the session timed out.
func TestStopFinishesTheTransactionAndLeaves(t *testing.T) {
	_, brokers := fakeKafka(t)
	names := topics.NamesWithPrefix("drain-")
	createTopics(t, brokers, names)
	w := newWorkload(t, brokers, names, 6, 7)
	w.configure(t, 400)
	p := newTestProcessor(t, brokers, names, "first", func(c *LoopConfig) { c.InstanceID = "drain-first" })
	var (
		armed      atomic.Bool
		txnsAtStop atomic.Int64
		r          *running
	)
	p.beforeEnd = func() {
		if armed.CompareAndSwap(true, false) {
			txnsAtStop.Store(int64(counterValue(p.m.txns)))
			r.cancel()
		}
	}
	r = run(t, p)
	checkEvents(t, brokers, names, w.requests)
	abortsBefore := counterValue(p.m.aborts)
	armed.Store(true)
	w.random(t, 200)
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after the stop")
	}
	if got, want := counterValue(p.m.txns), float64(txnsAtStop.Load()+1); got != want {
		t.Errorf("%v transactions committed, want %v: the one under way at the stop did not commit", got, want)
	}
	if got := counterValue(p.m.aborts); got != abortsBefore {
		t.Errorf("%v aborted transactions, want %v", got, abortsBefore)
	}
	p.Close()
	if n := groupMembers(t, brokers, "drain-processor"); n != 0 {
		t.Fatalf("%d members left in the group after Close, want 0", n)
	}

	next := newTestProcessor(t, brokers, names, "second", func(c *LoopConfig) { c.InstanceID = "drain-second" })
	run(t, next)
	checkEvents(t, brokers, names, w.requests)
}

func groupMembers(t *testing.T, brokers []string, group string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	return len(groups[group].Members)
}
