package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// testPartitions is the partition count of the fake commands topic.
const testPartitions = 4

// TestConfigValidate proves that defaults fill the zero fields and that each
// setting that cannot work is refused with an error naming it.
func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"b:9092"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if c := ok.withDefaults(); c.Topics != topics.DefaultNames || c.BufferedRecordsMax != BufferedRecordsMaxDefault || c.Linger != 0 {
		t.Errorf("defaults = %+v", c)
	}
	for name, mutate := range map[string]func(*Config){
		"Brokers":            func(c *Config) { c.Brokers = nil },
		"BufferedRecordsMax": func(c *Config) { c.BufferedRecordsMax = -1 },
		"Linger":             func(c *Config) { c.Linger = -1 },
	} {
		c := ok
		mutate(&c)
		if named := setting.Names(c.Validate()); len(named) != 1 || named[0] != name {
			t.Errorf("%s: Validate named %v", name, named)
		}
	}
}

// TestPublishKeysByZone proves that Publish writes each command to the commands
// topic, keyed by its zone, in the partition the contract's PartitionOf names (the
// processor that owns the zone reads only that one), in the encoding DecodeCommand
// reads, and that it counts each publish in its latency histogram.
func TestPublishKeysByZone(t *testing.T) {
	names := topics.NamesWithPrefix("test-")
	brokers := fakeCluster(t, kfake.SeedTopics(testPartitions, names.Commands))
	reg := prometheus.NewRegistry()
	p, err := New(Config{Brokers: brokers, Topics: names}, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sent := map[uuid.UUID]*topics.Command{}
	for range 20 {
		cmd := placeHold(uuid.Must(uuid.NewV7()))
		if err := p.Publish(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		sent[cmd.RequestID] = cmd
	}
	for _, r := range consumeAll(t, brokers, names.Commands, len(sent)) {
		got, err := topics.DecodeCommand(r.Key, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := sent[got.RequestID]
		switch {
		case !ok:
			t.Errorf("unknown command %v", got.RequestID)
		case string(r.Key) != want.ZoneID.String():
			t.Errorf("key %q, want zone %v", r.Key, want.ZoneID)
		case r.Partition != topics.PartitionOf(want.ZoneID, testPartitions):
			t.Errorf("zone %v in partition %d, PartitionOf says %d", want.ZoneID, r.Partition,
				topics.PartitionOf(want.ZoneID, testPartitions))
		case got.Place == nil || got.Place.Quantity != want.Place.Quantity:
			t.Errorf("decoded %+v, sent %+v", got, want)
		}
	}
	if n := publishCount(t, reg); n != uint64(len(sent)) {
		t.Errorf("publish_seconds counts %d publishes, want %d", n, len(sent))
	}
}

// TestPublishFailsWhenContextDone proves that a command Kafka cannot take (here its
// topic does not exist) makes Publish return an error naming the command once its
// context is done, instead of waiting for ever: the API then answers 503 rather
// than 202.
func TestPublishFailsWhenContextDone(t *testing.T) {
	p, err := New(Config{Brokers: fakeCluster(t), Topics: topics.NamesWithPrefix("missing-")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const publishWait = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), publishWait)
	defer cancel()
	err = p.Publish(ctx, placeHold(uuid.Must(uuid.NewV7())))
	if err == nil || !strings.Contains(err.Error(), string(topics.CmdPlaceHold)) {
		t.Fatalf("Publish to a missing topic = %v, want an error naming %s", err, topics.CmdPlaceHold)
	}
}

func placeHold(zone uuid.UUID) *topics.Command {
	return &topics.Command{Version: topics.SchemaVersion, Type: topics.CmdPlaceHold,
		RequestID: uuid.Must(uuid.NewV7()), EventID: uuid.Must(uuid.NewV7()), ZoneID: zone,
		IdempotencyKey: uuid.NewString(), SubmittedAt: time.Now().UTC(),
		Place: &topics.PlaceHold{Quantity: 2}}
}

// fakeCluster starts an in-memory Kafka for the test and returns its brokers.
func fakeCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// consumeAll reads n records of topic from the start. It gives up after
// consumeWaitMax, so that records that never come fail the test instead of
// hanging it.
func consumeAll(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	const consumeWaitMax = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), consumeWaitMax)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("%d of %d records read: %v", len(out), n, err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// publishCount is the sample count of the publish latency histogram.
func publishCount(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "ticket_ingest_publish_seconds" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("ticket_ingest_publish_seconds not registered")
	return 0
}
