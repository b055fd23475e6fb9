// Package kafkaprobe measures the raw ceiling of Kafka on a machine for a record
// size: how many records per second one franz-go producer can append, with the
// pipeline's producer settings (keyed records, acks from all in-sync replicas,
// idempotent, lz4; see package ingest) in its best case (asynchronous, up to
// BufferedRecordsMax records in flight), and how many per second one consumer reads
// back (read committed). It is what the pipeline's throughput is compared against:
// the pipeline cannot carry more commands than Kafka can append.
package kafkaprobe

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
)

// Defaults and bounds of Config.
const (
	RecordsDefault            = 1_000_000
	RecordBytesDefault        = 300
	RecordBytesMax            = 1 << 20
	PartitionsDefault         = 1
	PartitionsMax             = 10_000
	BufferedRecordsMaxDefault = 100_000
	// ConsumeIdleMax is how long the consumer waits for a record before it gives up
	// on the ones still missing.
	ConsumeIdleMax = 30 * time.Second
	// deleteTimeout bounds deleting the probe's topic at the end.
	deleteTimeout = 30 * time.Second
	// distinctValues is how many different values the records cycle through: enough
	// that compression sees varied batches, few enough to build up front.
	distinctValues = 1024
	// keysPerPartition is how many keys the records of each partition cycle through.
	keysPerPartition = 4
)

// Config configures a probe. A zero field takes the default in its comment.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// Topic is the topic written and read. It is created with Partitions partitions
	// when missing, and then deleted at the end; an existing topic is kept, and only
	// the records this probe appends are read back. Default "kafkaprobe-<unix ns>".
	Topic string
	// Partitions is the partition count of a topic the probe creates; 1 is a hot
	// zone. Default 1.
	Partitions int32
	// RecordBytes is the size of each record's value. Default 300.
	RecordBytes int
	// Records is how many records to produce and consume. Default 1,000,000.
	Records int
	// BufferedRecordsMax bounds the records produced but not yet acknowledged.
	// Default 100,000 (package ingest's).
	BufferedRecordsMax int
	// Progress receives a line a second while the probe runs. Default: none.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	return setting.Fill(c, Config{Topic: fmt.Sprintf("kafkaprobe-%d", time.Now().UnixNano()),
		Partitions: PartitionsDefault, RecordBytes: RecordBytesDefault, Records: RecordsDefault,
		BufferedRecordsMax: BufferedRecordsMaxDefault, Progress: io.Discard})
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	p := setting.For("kafkaprobe")
	if len(c.Brokers) == 0 {
		p.Add("Brokers", "is required")
	}
	setting.Range(p, "Partitions", c.Partitions, 0, PartitionsMax)
	setting.Range(p, "RecordBytes", c.RecordBytes, 0, RecordBytesMax)
	setting.AtLeast(p, "Records", c.Records, 0)
	setting.AtLeast(p, "BufferedRecordsMax", c.BufferedRecordsMax, 0)
	return p.Err()
}

// Result is what a probe measured.
type Result struct {
	// Records is how many records were produced, and consumed back.
	Records int `json:"records"`
	// ProduceSeconds runs from the first record produced until every record is
	// acknowledged; ConsumeSeconds from the consumer's start until it read them all.
	ProduceSeconds float64 `json:"produce_seconds"`
	ConsumeSeconds float64 `json:"consume_seconds"`
	ProducePerSec  float64 `json:"produce_per_sec"`
	ConsumePerSec  float64 `json:"consume_per_sec"`
	// MBPerSec is the produce rate in megabytes (10^6 bytes) of record values.
	MBPerSec float64 `json:"mb_per_sec"`
}

// Run produces cfg.Records records as fast as Kafka takes them, then consumes them
// all back from where the probe started.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	admin, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return Result{}, fmt.Errorf("kafkaprobe: %w", err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	created, err := ensureTopic(ctx, adm, cfg)
	if err != nil {
		return Result{}, err
	}
	if created {
		defer deleteTopic(adm, cfg.Topic)
	}
	starts, err := startOffsets(ctx, adm, cfg, created)
	if err != nil {
		return Result{}, err
	}
	res := Result{Records: cfg.Records}
	if res.ProduceSeconds, err = produce(ctx, cfg); err != nil {
		return res, err
	}
	if res.ConsumeSeconds, err = consume(ctx, cfg, starts); err != nil {
		return res, err
	}
	res.ProducePerSec = float64(cfg.Records) / res.ProduceSeconds
	res.ConsumePerSec = float64(cfg.Records) / res.ConsumeSeconds
	res.MBPerSec = res.ProducePerSec * float64(cfg.RecordBytes) / 1e6
	return res, nil
}

// ensureTopic creates the topic unless it exists; created says whether it did.
func ensureTopic(ctx context.Context, adm *kadm.Client, cfg Config) (bool, error) {
	details, err := adm.ListTopics(ctx, cfg.Topic)
	if err != nil {
		return false, fmt.Errorf("kafkaprobe: list topics: %w", err)
	}
	if d, ok := details[cfg.Topic]; ok && d.Err == nil {
		return false, nil
	}
	// -1: the brokers' default replication factor.
	resp, err := adm.CreateTopic(ctx, cfg.Partitions, -1, nil, cfg.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return false, fmt.Errorf("kafkaprobe: create topic %s with %d partitions: %w", cfg.Topic, cfg.Partitions, err)
	}
	return true, nil
}

// startOffsets are the offsets the probe's records will start at in each partition:
// 0 in a topic it created (whose metadata may not have reached every broker yet),
// the end offsets of an existing one.
func startOffsets(ctx context.Context, adm *kadm.Client, cfg Config, created bool) (map[int32]kgo.Offset, error) {
	starts := map[int32]kgo.Offset{}
	if created {
		for p := range cfg.Partitions {
			starts[p] = kgo.NewOffset().At(0)
		}
		return starts, nil
	}
	ends, err := adm.ListEndOffsets(ctx, cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafkaprobe: end offsets of %s: %w", cfg.Topic, err)
	}
	ends.Each(func(o kadm.ListedOffset) { starts[o.Partition] = kgo.NewOffset().At(o.Offset) })
	return starts, nil
}

func deleteTopic(adm *kadm.Client, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	_, _ = adm.DeleteTopic(ctx, topic)
}

// records builds the keys and values the records cycle through: values of hex
// text, which compresses about as the pipeline's JSON with its UUIDs does.
func records(cfg Config) (keys, values [][]byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys = make([][]byte, int(cfg.Partitions)*keysPerPartition)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "zone-%08x-%d", rng.Uint32(), i)
	}
	const hex = "0123456789abcdef"
	values = make([][]byte, distinctValues)
	for i := range values {
		v := make([]byte, cfg.RecordBytes)
		for j := range v {
			v[j] = hex[rng.IntN(len(hex))]
		}
		values[i] = v
	}
	return keys, values
}
