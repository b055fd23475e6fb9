package processor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// BenchmarkLoopHotZone measures the processor on real Kafka with a single hot zone:
// b.N commands (holds, each released by the next command) pre-produced to one
// partition, applied in batches, each batch's events, changelog and offsets in one
// transaction. It reports commands per second from the first committed batch to the
// last, so joining the group is not counted. Run with -benchtime=200000x.
func BenchmarkLoopHotZone(b *testing.B) {
	brokers := testenv.Kafka(b)
	names := testenv.Topics(b, 1)
	zoneID, event := uuid.New(), uuid.New()
	capacity := int64(1_000_000_000)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1_000_000))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	cmds := make([]*topics.Command, 0, b.N+1)
	cmds = append(cmds, &topics.Command{Type: topics.CmdConfigureZone, Configure: &topics.ConfigureZone{
		EventName: "Bench", ZoneName: "Hot", Capacity: &capacity}})
	var last uuid.UUID
	for i := range b.N {
		if i%2 == 1 {
			cmds = append(cmds, &topics.Command{Type: topics.CmdReleaseHold, Release: &topics.ReleaseHold{HoldID: last}})
			continue
		}
		c := &topics.Command{Type: topics.CmdPlaceHold, RequestID: uuid.New(), IdempotencyKey: fmt.Sprintf("k%d", i),
			Place: &topics.PlaceHold{Quantity: 2}}
		cmds = append(cmds, c)
		last = c.RequestID
	}
	for _, c := range cmds {
		if c.RequestID == uuid.Nil {
			c.RequestID = uuid.New()
		}
		c.EventID, c.ZoneID, c.SubmittedAt = event, zoneID, time.Now()
		m, err := topics.EncodeCommand(c)
		if err != nil {
			b.Fatal(err)
		}
		rec := kafkarec.Record(names.Commands, m)
		prod.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := prod.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	end := int64(len(cmds))

	group := names.Commands + "-bench"
	p, err := New(LoopConfig{
		Brokers: brokers, Topics: names, Partitions: 1, Group: group, TransactionalID: group,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done; p.Close() }()

	adm := kadm.NewClient(prod)
	committed := func() int64 {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return 0
		}
		o, _ := offs.Lookup(names.Commands, 0)
		return o.At
	}
	b.ResetTimer()
	var start int64
	var t0 time.Time
	for {
		at := committed()
		if start == 0 && at > 0 {
			start, t0 = at, time.Now()
		}
		if at >= end {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	if n := end - start; n > 0 && elapsed > 0 {
		b.ReportMetric(float64(n)/elapsed.Seconds(), "cmds/s")
	}
}

// BenchmarkRestore1M measures restoring a partition with 1,000,000 active holds from
// the changelog topic on real Kafka: read, decode, rebuild the expiry order.
func BenchmarkRestore1M(b *testing.B) {
	const holds = 1_000_000
	brokers := testenv.Kafka(b)
	names := testenv.Topics(b, 1)
	st := zone.NewState(zone.DefaultConfig())
	zoneID, event := uuid.New(), uuid.New()
	capacity := int64(holds * 2)
	now := time.Now()
	var ev []topics.Outcome
	ev = st.Apply(ev[:0], &topics.Command{Type: topics.CmdConfigureZone, RequestID: uuid.New(), EventID: event, ZoneID: zoneID,
		Configure: &topics.ConfigureZone{EventName: "Bench", ZoneName: "Restore", Capacity: &capacity}}, now)
	for i := range holds {
		ev = st.Apply(ev[:0], &topics.Command{Type: topics.CmdPlaceHold, RequestID: uuid.New(), EventID: event, ZoneID: zoneID,
			Place: &topics.PlaceHold{Quantity: 1, CustomerID: fmt.Sprintf("c%d", i%1000)}}, now)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(2_000_000), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	records := 0
	st.DrainChanges(func(k, v []byte) {
		records++
		prod.Produce(context.Background(), &kgo.Record{Topic: names.State, Partition: 0, Key: clone(k), Value: clone(v)},
			func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			})
	})
	if err := prod.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	p, err := New(LoopConfig{Brokers: brokers, Topics: names, Partitions: 1, Group: names.State + "-bench", TransactionalID: names.State}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	for range b.N {
		restored, n, err := p.restore(context.Background(), 0)
		if err != nil {
			b.Fatal(err)
		}
		if got := restored.Stats().ActiveHolds; got != holds || n != records {
			b.Fatalf("restored %d active holds from %d records, want %d from %d", got, n, holds, records)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/restore")
}
