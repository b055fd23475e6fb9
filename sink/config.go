package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Defaults of the Config fields left zero.
const (
	DefaultGroup           = "ticket-sink"
	DefaultBatchRecordsMax = 5000
	DefaultBatchWait       = 20 * time.Millisecond
	DefaultApplyRetriesMax = 8
	DefaultApplyBackoffMax = 5 * time.Second
	DefaultDeadLetterWait  = 30 * time.Second
	DefaultWriters         = 2
)

// Bounds that are not worth a config field.
const (
	// batchRecordsLimit is the largest BatchRecordsMax accepted: one Postgres
	// transaction and one set of column arrays holds this many events at most.
	batchRecordsLimit = 100_000
	// sessionTimeout is the group session timeout of the sink's consumer.
	sessionTimeout = 10 * time.Second
	// writersLimit bounds Writers: each holds a Postgres connection during a batch.
	writersLimit = 16
	// applyBackoffMin is the first wait after a failed batch; each retry doubles
	// it, up to ApplyBackoffMax.
	applyBackoffMin = 100 * time.Millisecond
	// kafkaCommitTimeout bounds committing a batch's offsets to the Kafka group
	// after its Postgres commit.
	kafkaCommitTimeout = 5 * time.Second
	// offsetsReadRetriesMax bounds reading the stored offsets on assignment, each
	// retry after offsetsReadRetryWait.
	offsetsReadRetriesMax = 5
	offsetsReadRetryWait  = 500 * time.Millisecond
)

// Config configures a Sink. Zero fields take the default in their comment.
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
	// ApplyBackoffMax caps the wait between retries (100ms, doubling). Default 5s.
	ApplyBackoffMax time.Duration
	// DeadLetterWait bounds producing a batch's dead letters. Default 30s.
	DeadLetterWait time.Duration
	// AsyncCommit commits batches with synchronous_commit off: a Postgres crash
	// may then lose the last batches committed (at most about three times
	// wal_writer_delay), offsets included, so the sink applies them again from
	// Kafka; exactly once still holds, but a reader may briefly see a result
	// vanish and come back. Default false.
	AsyncCommit bool
	// InstanceID, when set, makes this sink a static member of its group
	// (KIP-345): restarted after a crash with the same id, it gets its partitions
	// back at once instead of after the session timeout. Two running sinks must
	// never share it. Default "" (a dynamic member).
	InstanceID string
	// Writers is how many Postgres transactions write one batch side by side, each
	// for its own share of the partitions (partition mod Writers) with their
	// offsets: Postgres spends a core per connection. Default 2, at most 16.
	Writers int
	// Logger receives operational messages. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with the zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.BatchRecordsMax == 0 {
		c.BatchRecordsMax = DefaultBatchRecordsMax
	}
	if c.BatchWait == 0 {
		c.BatchWait = DefaultBatchWait
	}
	if c.ApplyRetriesMax == 0 {
		c.ApplyRetriesMax = DefaultApplyRetriesMax
	}
	if c.ApplyBackoffMax == 0 {
		c.ApplyBackoffMax = DefaultApplyBackoffMax
	}
	if c.DeadLetterWait == 0 {
		c.DeadLetterWait = DefaultDeadLetterWait
	}
	if c.Writers == 0 {
		c.Writers = DefaultWriters
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate rejects a config that cannot work, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers are required (KAFKA_BROKERS)"))
	}
	if c.Topics.Events == "" || c.Topics.DeadLetters == "" {
		errs = append(errs, errors.New("Topics.Events and Topics.DeadLetters are required"))
	}
	if c.Topics.Events != "" && c.Topics.Events == c.Topics.DeadLetters {
		errs = append(errs, fmt.Errorf("Topics.DeadLetters %q must differ from Topics.Events", c.Topics.DeadLetters))
	}
	if c.BatchRecordsMax < 1 || c.BatchRecordsMax > batchRecordsLimit {
		errs = append(errs, fmt.Errorf("BatchRecordsMax %d out of range 1..%d", c.BatchRecordsMax, batchRecordsLimit))
	}
	if c.Writers < 1 || c.Writers > writersLimit {
		errs = append(errs, fmt.Errorf("writers %d is not in [1, %d]", c.Writers, writersLimit))
	}
	if c.BatchWait < 0 {
		errs = append(errs, fmt.Errorf("BatchWait %v must be >= 0", c.BatchWait))
	}
	if c.ApplyRetriesMax < 0 {
		errs = append(errs, fmt.Errorf("ApplyRetriesMax %d must be >= 0", c.ApplyRetriesMax))
	}
	if c.ApplyBackoffMax < applyBackoffMin {
		errs = append(errs, fmt.Errorf("ApplyBackoffMax %v must be >= %v", c.ApplyBackoffMax, applyBackoffMin))
	}
	if c.DeadLetterWait < 0 {
		errs = append(errs, fmt.Errorf("DeadLetterWait %v must be >= 0", c.DeadLetterWait))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sink config: %w", err)
	}
	return nil
}
