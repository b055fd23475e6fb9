package sink

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// benchPartitions spreads the benchmark's zones over this many partitions.
const benchPartitions = 6

// BenchmarkSinkApply measures events per second into Postgres the way Run writes a
// batch (one transaction per writer, each for its share of the partitions): full
// batches of a place/confirm/expire mix over a few zones, Kafka left out.
//
//	go test -run '^$' -bench BenchmarkSinkApply -benchtime 40x ./sink/
func BenchmarkSinkApply(b *testing.B) {
	for _, size := range []int{1000, BatchRecordsMaxDefault} {
		for _, writers := range []int{1, 2} {
			b.Run(fmt.Sprintf("batch=%d/writers=%d", size, writers), func(b *testing.B) { benchApply(b, size, writers) })
		}
	}
}

func benchApply(b *testing.B, size, writers int) {
	pool := testenv.Pool(b)
	s, err := New(Config{Brokers: []string{"unused:9092"}, Topics: topics.NamesWithPrefix("bench-"),
		BatchRecordsMax: size, Writers: writers}, pool, nil)
	if err != nil {
		b.Fatal(err)
	}
	g := newGen(42, 8, 1_000_000_000)
	offsets := make(map[int32]int64)
	records := func(outcomes []*topics.Outcome) []Record {
		out := make([]Record, len(outcomes))
		for i, e := range outcomes {
			p := int32(binary.BigEndian.Uint32(e.ZoneID[:4]) % benchPartitions)
			out[i] = Record{Partition: p, Offset: offsets[p], Event: e}
			offsets[p]++
		}
		return out
	}
	ctx := context.Background()
	if err := s.ApplyBatch(ctx, records(g.configure())); err != nil {
		b.Fatal(err)
	}
	batches := make([][]Record, b.N)
	for i := range batches {
		outcomes := make([]*topics.Outcome, size)
		for j := range outcomes {
			outcomes[j] = g.next()
		}
		batches[i] = records(outcomes)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := s.applyShares(ctx, batches[i], refuseDeadLetters); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// refuseDeadLetters is the dead-letter function of tests whose events are all
// storable: a dead letter there is a failure.
func refuseDeadLetters(_ context.Context, r Record, reason string) error {
	return fmt.Errorf("unexpected dead letter of %d/%d: %s", r.Partition, r.Offset, reason)
}
