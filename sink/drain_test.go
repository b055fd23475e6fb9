package sink

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestStopCommitsTheBatchUnderWayAndLeaves proves the sink's graceful stop: a stop
// that arrives while a batch is being written lets the batch commit to Postgres
// and its offsets to the group, Run returns nil, and the static member has left
// the group (no member holds the partitions until a session timeout). Before, the
// stop rolled the batch back and the member stayed in the group.
func TestStopCommitsTheBatchUnderWayAndLeaves(t *testing.T) {
	e := newEnv(t, 3)
	g := newGen(11, 6, 1000)
	e.produce(t, g.stream(400))
	group := e.names.Events + "-sink"
	s, err := New(Config{Brokers: e.brokers, Topics: e.names, Group: group, BatchRecordsMax: 100,
		InstanceID: e.names.Events + "-sink-1", Writers: 1}, e.pool, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopped atomic.Bool
	s.beforeCommit = func(context.Context) error {
		if stopped.CompareAndSwap(false, true) {
			cancel()
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after the stop")
	}
	stored := e.storedOffsets(t)
	if len(stored) == 0 {
		t.Fatal("the batch under way at the stop was not committed to Postgres")
	}
	adm := kadm.NewClient(e.client(t))
	committed, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	for p, n := range stored {
		if o, ok := committed.Lookup(e.names.Events, p); !ok || o.At != n {
			t.Errorf("partition %d: group offset %v, Postgres %d", p, o.At, n)
		}
	}
	groups, err := adm.DescribeGroups(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(groups[group].Members); n != 0 {
		t.Errorf("%d members in the group after the stop, want 0", n)
	}
}
