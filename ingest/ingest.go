// Package ingest turns a validated API request into a command record and produces it
// to the commands topic: keyed by zone id, idempotent producer, acks from all in-sync
// replicas. Publish returns once Kafka has the command, so an accepted request (202)
// is never lost.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Config of the producer.
type Config struct {
	Brokers []string
	Topics  topics.Names
	// ProduceTimeout bounds one Publish (default 10 s).
	ProduceTimeout time.Duration
	// BufferedRecordsMax bounds the records waiting to be sent (default 100,000);
	// beyond it Publish waits, up to ProduceTimeout.
	BufferedRecordsMax int
	// Linger is how long a batch may wait for more records (default 0: send as
	// soon as the previous request to the broker is answered).
	Linger time.Duration
}

// Validate rejects a configuration that cannot work.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("ingest: KAFKA_BROKERS is empty")
	}
	if c.Topics.Commands == "" {
		c.Topics = topics.DefaultNames
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = 10 * time.Second
	}
	if c.BufferedRecordsMax == 0 {
		c.BufferedRecordsMax = 100_000
	}
	if c.ProduceTimeout < 0 || c.BufferedRecordsMax < 0 || c.Linger < 0 {
		return errors.New("ingest: negative timeout, buffer or linger")
	}
	return nil
}

// Producer publishes commands.
type Producer struct {
	cl      *kgo.Client
	cfg     Config
	latency prometheus.Histogram
}

// New connects a producer. Metrics (kprom's client metrics and publish latency) are
// registered on reg when it is not nil.
func New(cfg Config, reg prometheus.Registerer) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topics.Commands),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.BufferedRecordsMax),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
	}
	p := &Producer{cfg: cfg, latency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "ticket", Subsystem: "ingest", Name: "publish_seconds",
		Help:    "Time to publish one command to Kafka (acks=all).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})}
	if reg != nil {
		m := kprom.NewMetrics("ticket_ingest_kafka", kprom.Registerer(reg))
		opts = append(opts, kgo.WithHooks(m))
		if err := reg.Register(p.latency); err != nil {
			return nil, err
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	p.cl = cl
	return p, nil
}

// Publish produces one command and waits for Kafka's acknowledgement.
func (p *Producer) Publish(ctx context.Context, cmd *topics.Command) error {
	m, err := topics.EncodeCommand(cmd)
	if err != nil {
		return err
	}
	rec := kafkarec.Record(p.cfg.Topics.Commands, m)
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ProduceTimeout)
	defer cancel()
	start := time.Now()
	if err := p.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("ingest: publish %s: %w", cmd.Type, err)
	}
	p.latency.Observe(time.Since(start).Seconds())
	return nil
}

// Ping checks that a broker answers.
func (p *Producer) Ping(ctx context.Context) error { return p.cl.Ping(ctx) }

// Close flushes what is buffered and disconnects.
func (p *Producer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ProduceTimeout)
	defer cancel()
	_ = p.cl.Flush(ctx)
	p.cl.Close()
}
