package devstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaCluster proves that on a 3-node cluster, with one node stopped in the middle
// of producing, an idempotent acks=all producer gets every record acknowledged, a
// consumer group reads every record back exactly once in the log (none lost, none
// duplicated, partition order kept), and once the node is back every partition's ISR
// returns to all 3 replicas.
func TestKafkaCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Kafka cluster; skipped under -short")
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cluster, err := StartKafkaCluster(ctx, KafkaImage(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cluster.Stop(context.Background()); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	t.Logf("3 nodes up after %s: %v", since(t0), cluster.Brokers)

	const topic = "cluster-test"
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cluster.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	minISR := "2"
	res, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}

	// franz-go producers are idempotent unless told otherwise; acks=all is required
	// for that and spelled out here.
	prod, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.Brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(time.Minute),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cons, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.Brokers...),
		kgo.ConsumerGroup("cluster-test"),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()

	var (
		produced []string
		next     int
	)
	produce := func(n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			v := strconv.Itoa(next)
			next++
			produced = append(produced, v)
			recs[i] = &kgo.Record{Key: []byte(v), Value: []byte(v)}
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	// Records by where they sit in the log: a record read twice (redelivery after a
	// rebalance) lands on the same key, one written twice would not.
	type pos struct {
		partition int32
		offset    int64
	}
	logged := map[pos]string{}
	consume := func(want int) {
		t.Helper()
		for len(logged) < want {
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d records: %v", len(logged), want, ctx.Err())
			}
			fs := cons.PollFetches(ctx)
			for _, e := range fs.Errors() {
				if !errors.Is(e.Err, context.DeadlineExceeded) {
					t.Logf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
				}
			}
			fs.EachRecord(func(r *kgo.Record) { logged[pos{r.Partition, r.Offset}] = string(r.Value) })
		}
		if err := cons.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}

	// All 3 up.
	produce(300)
	consume(300)

	// Stop partition 0's leader while a producer is writing.
	victim := leaderOf(ctx, t, adm, topic, 0)
	var (
		wg         sync.WaitGroup
		stopWrites = make(chan struct{})
		asyncMu    sync.Mutex
		asyncErrs  []error
	)
	wg.Go(func() {
		for {
			select {
			case <-stopWrites:
				return
			case <-time.After(5 * time.Millisecond):
			}
			asyncMu.Lock()
			v := strconv.Itoa(next)
			next++
			produced = append(produced, v)
			asyncMu.Unlock()
			prod.Produce(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(_ *kgo.Record, err error) {
				if err != nil {
					asyncMu.Lock()
					asyncErrs = append(asyncErrs, err)
					asyncMu.Unlock()
				}
			})
		}
	})
	time.Sleep(time.Second)
	t1 := time.Now()
	if err := cluster.StopNode(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d stopped in %s", victim, since(t1))
	waitISR(ctx, t, adm, topic, func(isr []int32) bool { return len(isr) == 2 && !slices.Contains(isr, int32(victim)) })
	time.Sleep(time.Second)
	close(stopWrites)
	wg.Wait()
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	asyncMu.Lock()
	if len(asyncErrs) > 0 {
		t.Fatalf("%d records not acknowledged, first: %v", len(asyncErrs), asyncErrs[0])
	}
	asyncMu.Unlock()
	// And more on the 2 that are left, read back too.
	produce(300)
	consume(len(produced))
	t.Logf("%d records acknowledged and read back with node %d down", len(produced), victim)

	t2 := time.Now()
	if err := cluster.StartNode(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d back in %s at %s", victim, since(t2), cluster.Brokers[victim])
	waitISR(ctx, t, adm, topic, func(isr []int32) bool { return len(isr) == 3 })
	t.Logf("ISR 3 on every partition %s after the restart", since(t2))
	// Clients reach it at the port Docker mapped this time, which it advertises.
	newCl, err := kgo.NewClient(kgo.SeedBrokers(cluster.Brokers[victim]))
	if err != nil {
		t.Fatal(err)
	}
	defer newCl.Close()
	brokers, err := kadm.NewClient(newCl).ListBrokers(ctx)
	if err != nil {
		t.Fatalf("metadata through node %d's new address: %v", victim, err)
	}
	advertised := ""
	for _, b := range brokers {
		if b.NodeID == int32(victim) {
			advertised = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		}
	}
	if advertised != cluster.Brokers[victim] {
		t.Fatalf("node %d advertises %q, want %q", victim, advertised, cluster.Brokers[victim])
	}
	produce(100)
	consume(len(produced))

	// Every record acknowledged is in the log exactly once, in the order produced
	// within its partition.
	seen := map[string]pos{}
	for p, v := range logged {
		if q, dup := seen[v]; dup {
			t.Errorf("record %s written twice: %v and %v", v, q, p)
		}
		seen[v] = p
	}
	for _, v := range produced {
		if _, ok := seen[v]; !ok {
			t.Errorf("record %s lost", v)
		}
	}
	if len(seen) != len(produced) {
		t.Errorf("read %d distinct records, produced %d", len(seen), len(produced))
	}
	last := map[int32]int{}
	for _, p := range slices.SortedFunc(maps.Keys(logged), func(a, b pos) int {
		return cmp.Or(cmp.Compare(a.partition, b.partition), cmp.Compare(a.offset, b.offset))
	}) {
		n, _ := strconv.Atoi(logged[p])
		if prev, ok := last[p.partition]; ok && n < prev {
			t.Errorf("partition %d: record %d after %d", p.partition, n, prev)
		}
		last[p.partition] = n
	}
	t.Logf("%d records, done in %s", len(produced), since(t0))
}

// leaderOf is the node leading a partition.
func leaderOf(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, partition int32) int {
	t.Helper()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := md.Topics[topic].Partitions[partition]
	if !ok {
		t.Fatalf("no partition %s/%d", topic, partition)
	}
	return int(p.Leader)
}

// waitISR waits until every partition's ISR passes ok.
func waitISR(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, ok func(isr []int32) bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			good := true
			last = ""
			for _, p := range md.Topics[topic].Partitions.Sorted() {
				last += fmt.Sprintf(" p%d leader %d isr %v;", p.Partition, p.Leader, p.ISR)
				if p.Err != nil || !ok(p.ISR) {
					good = false
				}
			}
			if good && len(md.Topics[topic].Partitions) > 0 {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("ISR not as wanted after 90s:%s", last)
}
