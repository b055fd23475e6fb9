package sink

import (
	"log/slog"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
	"github.com/ultimate-ticket/ultimate-ticket/internal/tracing"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Defaults and bounds of the Config fields.
const (
	GroupDefault = "ticket-sink"

	BatchRecordsMaxDefault = 5000
	// BatchRecordsMaxMax is the largest BatchRecordsMax accepted: one Postgres
	// transaction and one set of column arrays holds this many records at most.
	BatchRecordsMaxMax = 100_000

	BatchWaitDefault       = 20 * time.Millisecond
	ApplyRetriesMaxDefault = 8
	ApplyBackoffMaxDefault = 5 * time.Second
	DeadLetterWaitDefault  = 30 * time.Second

	// SessionTimeoutDefault is how long a dead sink's partitions wait for a new
	// owner (unless it comes back with the same InstanceID): 10s rather than the
	// Kafka client's 45s.
	SessionTimeoutDefault = 10 * time.Second

	// StopTimeoutDefault bounds finishing the batch under way after a stop.
	StopTimeoutDefault = 10 * time.Second

	WritersDefault = 2
	// WritersMax bounds Writers: each holds a Postgres connection during a batch.
	WritersMax = 16
)

// Bounds that are not worth a config field.
const (
	// applyBackoffMin is the first wait after a failed batch; each retry doubles
	// it, up to ApplyBackoffMax, which is at least this.
	applyBackoffMin = 100 * time.Millisecond
	// kafkaCommitTimeout bounds committing a batch's offsets to the Kafka group
	// after its Postgres commit.
	kafkaCommitTimeout = 5 * time.Second
	// offsetsReadRetriesMax bounds reading the stored offsets on assignment, each
	// retry after offsetsReadRetryWait.
	offsetsReadRetriesMax = 5
	offsetsReadRetryWait  = 500 * time.Millisecond
)

// Config configures a Sink. A zero field takes the default in its comment.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// Topics are the topic names; the sink reads Topics.Events and writes
	// Topics.DeadLetters. Required.
	Topics topics.Names
	// Group is the consumer group. Default "ticket-sink".
	Group string
	// BatchRecordsMax bounds the records in one batch (one Postgres transaction).
	// Default 5000, at most 100,000.
	BatchRecordsMax int
	// BatchWait is how long a batch keeps gathering records after its first one,
	// unless BatchRecordsMax is reached first. Default 20ms.
	BatchWait time.Duration
	// ApplyRetriesMax bounds the retries of a batch that Postgres failed; after
	// the last one Run returns the error. Default 8.
	ApplyRetriesMax int
	// ApplyBackoffMax caps the wait between retries (100ms, doubling); at least
	// 100ms. Default 5s.
	ApplyBackoffMax time.Duration
	// DeadLetterWait bounds producing a batch's dead letters. Default 30s.
	DeadLetterWait time.Duration
	// SessionTimeout is the consumer group's session timeout: how long the
	// partitions of a sink that died wait before another sink takes them.
	// Default 10s.
	SessionTimeout time.Duration
	// AsyncCommit commits batches with synchronous_commit off: a Postgres crash
	// may then lose the last batches committed (at most about three times
	// wal_writer_delay), offsets included, so the sink applies them again from
	// Kafka; exactly once still holds, but a reader may briefly see a result
	// vanish and come back. Default false.
	AsyncCommit bool
	// InstanceID, when set, makes this sink a static member of its group
	// (KIP-345): restarted after a crash with the same id, it gets its partitions
	// back at once instead of after the session timeout. A stop (Run returning)
	// leaves the group all the same, so that the others take its partitions at
	// once. Two running sinks must never share it. Default "" (a dynamic member).
	InstanceID string
	// Writers is how many Postgres transactions write one batch side by side, each
	// for its own share of the partitions (partition mod Writers) with their
	// offsets: Postgres spends a core per connection. Default 2, at most 16.
	Writers int
	// StopTimeout bounds finishing the batch under way when Run's context ends:
	// applying it, committing its offsets to the group. Past it the batch is
	// left to the next owner, which resumes from Postgres. Default 10s.
	StopTimeout time.Duration
	// Tracing (default nil: off) continues each event's trace with a receive
	// span and a write span that ends when its batch is committed.
	Tracing *tracing.Tracing
	// Logger receives operational messages. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with the zero fields set to their defaults.
func (c Config) withDefaults() Config {
	return setting.Fill(c, Config{
		Group:           GroupDefault,
		BatchRecordsMax: BatchRecordsMaxDefault,
		BatchWait:       BatchWaitDefault,
		ApplyRetriesMax: ApplyRetriesMaxDefault,
		ApplyBackoffMax: ApplyBackoffMaxDefault,
		DeadLetterWait:  DeadLetterWaitDefault,
		SessionTimeout:  SessionTimeoutDefault,
		Writers:         WritersDefault,
		StopTimeout:     StopTimeoutDefault,
		Logger:          slog.Default(),
	})
}

// Validate reports every setting that cannot work, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	p := setting.For("sink")
	if len(c.Brokers) == 0 {
		p.Add("Brokers", "is required")
	}
	setting.Required(p, "Topics.Events", c.Topics.Events)
	setting.Required(p, "Topics.DeadLetters", c.Topics.DeadLetters)
	if c.Topics.Events != "" && c.Topics.Events == c.Topics.DeadLetters {
		p.Add("Topics.DeadLetters", "%q must differ from Topics.Events", c.Topics.DeadLetters)
	}
	setting.Range(p, "BatchRecordsMax", c.BatchRecordsMax, 1, BatchRecordsMaxMax)
	setting.Range(p, "Writers", c.Writers, 1, WritersMax)
	setting.AtLeast(p, "BatchWait", c.BatchWait, 0)
	setting.AtLeast(p, "ApplyRetriesMax", c.ApplyRetriesMax, 0)
	setting.AtLeast(p, "ApplyBackoffMax", c.ApplyBackoffMax, applyBackoffMin)
	setting.AtLeast(p, "DeadLetterWait", c.DeadLetterWait, 0)
	setting.AtLeast(p, "SessionTimeout", c.SessionTimeout, 0)
	setting.AtLeast(p, "StopTimeout", c.StopTimeout, 0)
	return p.Err()
}
