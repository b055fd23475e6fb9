package kafkaprobe

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produce appends cfg.Records records and waits until all are acknowledged; it
// returns the seconds that took.
func produce(ctx context.Context, cfg Config) (float64, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.BufferedRecordsMax),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
	)
	if err != nil {
		return 0, fmt.Errorf("kafkaprobe: producer: %w", err)
	}
	defer cl.Close()
	keys, values := records(cfg)
	var acked atomic.Int64
	var errOnce sync.Once
	var firstErr error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			errOnce.Do(func() { firstErr = err })
			return
		}
		acked.Add(1)
	}
	stop := progress(cfg.Progress, "produce", cfg.Records, acked.Load)
	defer stop()
	start := time.Now()
	for i := range cfg.Records {
		r := &kgo.Record{Key: keys[i%len(keys)], Value: values[i%len(values)]}
		// Produce blocks while BufferedRecordsMax records are unacknowledged.
		cl.Produce(ctx, r, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, fmt.Errorf("kafkaprobe: flush: %w", err)
	}
	elapsed := time.Since(start).Seconds()
	if firstErr != nil {
		return 0, fmt.Errorf("kafkaprobe: produce to %s: %w (%d of %d acknowledged)", cfg.Topic, firstErr, acked.Load(), cfg.Records)
	}
	return elapsed, nil
}
