// Package ingest turns a validated API request into a command record and produces it
// to the commands topic: keyed by zone id, idempotent producer, acks from all in-sync
// replicas. Publish returns once Kafka has the command, so an accepted request (202)
// is never lost.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
	"github.com/ultimate-ticket/ultimate-ticket/internal/tracing"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// BufferedRecordsMaxDefault is the default of Config.BufferedRecordsMax.
const BufferedRecordsMaxDefault = 100_000

// closeFlushTimeout bounds sending what is buffered when the producer closes.
const closeFlushTimeout = 10 * time.Second

// Config configures a Producer. A zero field takes the default in its comment.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// Topics are the topic names; commands go to Topics.Commands. Default
	// topics.DefaultNames.
	Topics topics.Names
	// BufferedRecordsMax bounds the records waiting to be sent; beyond it Publish
	// waits, until its context is done. Default 100,000.
	BufferedRecordsMax int
	// Linger is how long a batch may wait for more records. Default 0: send as
	// soon as the previous request to the broker is answered.
	Linger time.Duration
	// Tracing traces each command's produce as a child of its request's span
	// (the publish context's) and carries the trace in the record's headers.
	// Default nil: off.
	Tracing *tracing.Tracing
	// Logger gets a debug line per published command, with its request id.
	// Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with the zero fields set to their defaults.
func (c Config) withDefaults() Config {
	return setting.Fill(c, Config{Topics: topics.DefaultNames, BufferedRecordsMax: BufferedRecordsMaxDefault,
		Logger: slog.Default()})
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	p := setting.For("ingest")
	if len(c.Brokers) == 0 {
		p.Add("Brokers", "is required")
	}
	setting.AtLeast(p, "BufferedRecordsMax", c.BufferedRecordsMax, 0)
	setting.AtLeast(p, "Linger", c.Linger, 0)
	return p.Err()
}

// Producer publishes commands.
type Producer struct {
	cl      *kgo.Client
	cfg     Config
	latency prometheus.Histogram
}

// New connects a producer. Metrics (kprom's client metrics and publish latency) are
// registered on reg when it is not nil; registering them twice is a programmer
// error and panics.
func New(cfg Config, reg prometheus.Registerer) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topics.Commands),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.BufferedRecordsMax),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
	}
	p := &Producer{cfg: cfg, latency: promauto.With(reg).NewHistogram(prometheus.HistogramOpts{
		Namespace: "ticket", Subsystem: "ingest", Name: "publish_seconds",
		Help:    "Time to publish one command to Kafka (acks=all).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})}
	if reg != nil {
		opts = append(opts, kgo.WithHooks(kprom.NewMetrics("ticket_ingest_kafka", kprom.Registerer(reg))))
	}
	if hooks := cfg.Tracing.KafkaHooks(""); len(hooks) > 0 {
		opts = append(opts, kgo.WithHooks(hooks...))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	p.cl = cl
	return p, nil
}

// Publish produces one command and waits for Kafka's acknowledgement, or until ctx
// is done: the caller bounds it (the API with its Config.PublishTimeout, on which
// its answers about unknown request ids rely).
func (p *Producer) Publish(ctx context.Context, cmd *topics.Command) error {
	m, err := topics.EncodeCommand(cmd)
	if err != nil {
		return err
	}
	rec := kafkarec.Record(p.cfg.Topics.Commands, m)
	start := time.Now()
	if err := p.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("ingest: publish %s: %w", cmd.Type, err)
	}
	p.latency.Observe(time.Since(start).Seconds())
	p.logPublished(cmd, rec)
	return nil
}

// PublishAll produces cmds together, as one batch where they share a partition,
// and waits until Kafka has acknowledged or failed each, or until ctx is done:
// errs[i] is cmds[i]'s error, nil once Kafka has it.
func (p *Producer) PublishAll(ctx context.Context, cmds []*topics.Command) []error {
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	start := time.Now()
	for i, cmd := range cmds {
		m, err := topics.EncodeCommand(cmd)
		if err != nil {
			errs[i] = err
			continue
		}
		wg.Add(1)
		p.cl.Produce(ctx, kafkarec.Record(p.cfg.Topics.Commands, m), func(r *kgo.Record, err error) {
			if err != nil {
				errs[i] = fmt.Errorf("ingest: publish %s: %w", cmd.Type, err)
			} else {
				p.latency.Observe(time.Since(start).Seconds())
				p.logPublished(cmd, r)
			}
			wg.Done()
		})
	}
	wg.Wait()
	return errs
}

// logPublished writes the debug line of a published command: its request id
// (and trace id) tie it to the processor's and the sink's lines.
func (p *Producer) logPublished(cmd *topics.Command, r *kgo.Record) {
	if !p.cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	p.cfg.Logger.Debug("command published", "component", "api", "request_id", cmd.RequestID, "type", cmd.Type,
		"partition", r.Partition, "offset", r.Offset, "trace_id", tracing.TraceID(r.Context))
}

// Ping checks that a broker answers.
func (p *Producer) Ping(ctx context.Context) error { return p.cl.Ping(ctx) }

// Flush waits until every command handed to the producer is acknowledged or
// failed, or ctx is done: a draining API calls it once its last request is
// answered.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("ingest: flush: %w", err)
	}
	return nil
}

// Close flushes what is buffered and disconnects.
func (p *Producer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
	defer cancel()
	_ = p.cl.Flush(ctx)
	p.cl.Close()
}
