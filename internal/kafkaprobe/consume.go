package kafkaprobe

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consume reads the topic's partitions from starts (read committed) until it has
// cfg.Records records; it returns the seconds that took. A record of another size
// than cfg.RecordBytes means someone else writes to the topic: an error.
func consume(ctx context.Context, cfg Config, starts map[int32]kgo.Offset) (float64, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return 0, fmt.Errorf("kafkaprobe: consumer: %w", err)
	}
	defer cl.Close()
	var read atomic.Int64
	stop := progress(cfg.Progress, "consume", cfg.Records, read.Load)
	defer stop()
	start := time.Now()
	for read.Load() < int64(cfg.Records) {
		pollCtx, cancel := context.WithTimeout(ctx, ConsumeIdleMax)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := fetchError(fetches); err != nil {
			return 0, fmt.Errorf("kafkaprobe: consume %s: %w (%d of %d read)", cfg.Topic, err, read.Load(), cfg.Records)
		}
		var wrong int
		fetches.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != cfg.RecordBytes {
				wrong++
			}
			read.Add(1)
		})
		if wrong > 0 {
			return 0, fmt.Errorf("kafkaprobe: %d records of %s are not %d bytes: another producer writes to it", wrong, cfg.Topic, cfg.RecordBytes)
		}
	}
	elapsed := time.Since(start).Seconds()
	if n := read.Load(); n != int64(cfg.Records) {
		return 0, fmt.Errorf("kafkaprobe: read %d records from %s, produced %d", n, cfg.Topic, cfg.Records)
	}
	return elapsed, nil
}

// fetchError is the first error of a poll; a poll that waited ConsumeIdleMax for
// nothing means records are missing.
func fetchError(fetches kgo.Fetches) error {
	errs := fetches.Errors()
	switch {
	case len(errs) == 0:
		return nil
	case errors.Is(errs[0].Err, context.DeadlineExceeded):
		return fmt.Errorf("no record for %v", ConsumeIdleMax)
	default:
		return fmt.Errorf("partition %d: %w", errs[0].Partition, errs[0].Err)
	}
}
