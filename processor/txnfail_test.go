package processor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ultimate-ticket/ultimate-ticket/internal/topology"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// rejectDelay is how long the fake broker holds its answer to the produce request
// it rejects: long enough that the processor has handed every record of the
// transaction to the client and is ending it, as when a slow leader answers late.
const rejectDelay = 200 * time.Millisecond

// TestFailedRecordAbortsTheTransaction proves that a transaction in which a record
// failed does not commit. The broker rejects one produce request of the processor
// with TRANSACTION_ABORTABLE (what a partition leader answers when it cannot verify
// the transaction with its coordinator, as after a broker failure); every command
// must still be answered exactly once, with inventories that follow each other.
// Before, the processor looked at the records' errors before the brokers had
// answered and committed: the client renewed its producer id and committed the
// consumed offsets without the rejected outcomes, and the processor kept the state
// they described (holds placed in memory whose placement no reader ever saw).
func TestFailedRecordAbortsTheTransaction(t *testing.T) {
	c, brokers := fakeKafka(t)
	names := topics.NamesWithPrefix("fail-")
	eventsID := createTopics(t, brokers, names)
	w := newWorkload(t, brokers, names, 6, 41)
	w.configure(t, 400)
	p := newTestProcessor(t, brokers, names, "failing", nil)
	r := run(t, p)
	w.random(t, 100)
	checkEvents(t, brokers, names, w.requests)

	var rejected atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		if req.TransactionID == nil || !producesTo(req, names.Events, eventsID) || rejected.Swap(true) {
			return nil, nil, false
		}
		c.SleepControl(func() { time.Sleep(rejectDelay) })
		return rejectAll(req, kerr.TransactionAbortable.Code), nil, true
	})
	w.random(t, 100)
	checkEvents(t, brokers, names, w.requests)
	if !rejected.Load() {
		t.Fatal("no produce request of the processor was rejected")
	}
	if err, early := r.returnedEarly(); early {
		t.Fatalf("Run returned before it was stopped: %v", err)
	}
}

// fakeKafka starts an in-process single-broker cluster.
func fakeKafka(t *testing.T) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// createTopics creates the declared topics with 3 partitions and returns the
// events topic's id (produce requests name topics by id from v13 on).
func createTopics(t *testing.T, brokers []string, names topics.Names) [16]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := topology.Ensure(ctx, adm, topics.Topology{Partitions: 3, ReplicationFactor: 1}, names); err != nil {
		t.Fatal(err)
	}
	details, err := adm.ListTopics(ctx, names.Events)
	if err != nil {
		t.Fatal(err)
	}
	return details[names.Events].ID
}

func producesTo(req *kmsg.ProduceRequest, topic string, id [16]byte) bool {
	for _, rt := range req.Topics {
		if rt.Topic == topic || rt.TopicID == id {
			return true
		}
	}
	return false
}

// rejectAll answers every partition of a produce request with one error code.
func rejectAll(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// TestCommandsBetweenEndsAtAnAbortedTick proves that the check of a restored
// state against the group's offset ends when the range it reads ends with a tick
// of an aborted transaction (the processor aborts a transaction whose record
// failed). Before, it read committed records only, waited for that offset until
// the restore timed out, and the partition was never restored.
func TestCommandsBetweenEndsAtAnAbortedTick(t *testing.T) {
	_, brokers := fakeKafka(t)
	names := topics.NamesWithPrefix("tick-")
	createTopics(t, brokers, names)
	produceCommands(t, brokers, names.Commands, 0, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("tick-aborter"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, tickRecord(names.Commands, 0)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	p := newTestProcessor(t, brokers, names, "between", nil)
	stale, err := p.commandsBetween(ctx, 0, 0, 2) // the command, then the aborted tick
	if err != nil {
		t.Fatalf("commandsBetween: %v", err)
	}
	if !stale {
		t.Fatal("the command at offset 0 was not seen")
	}
}
