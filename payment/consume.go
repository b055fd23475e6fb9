package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/backoff"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Defaults of ConsumerConfig.
const (
	// GroupDefault is the payments worker's consumer group on the events topic.
	GroupDefault = "ticket-payments"
	// retryFloor and retryCeiling bound the backoff between attempts at the
	// provider for one outcome; the worker retries until it succeeds or stops, so
	// no refund is skipped.
	retryFloor   = 200 * time.Millisecond
	retryCeiling = 30 * time.Second
)

// ConsumerConfig configures the payments worker's consumer.
type ConsumerConfig struct {
	Brokers []string
	// EventsTopic is the topic of the processor's outcomes. Required.
	EventsTopic string
	// Group is the consumer group. Default GroupDefault.
	Group  string
	Logger *slog.Logger
}

// Consumer runs a Worker over the events topic: it reads committed outcomes, acts
// on each (retrying while the provider fails), records what it did, and commits its
// offsets only after acting. A crash repeats at most the outcomes since the last
// commit, which the provider's idempotency keys make harmless.
type Consumer struct {
	cfg     ConsumerConfig
	worker  *Worker
	pool    *pgxpool.Pool // nil: nothing recorded
	actions *prometheus.CounterVec
	fails   prometheus.Counter
}

// NewConsumer returns a consumer; pool, when not nil, receives payment_actions.
func NewConsumer(cfg ConsumerConfig, w *Worker, pool *pgxpool.Pool, reg prometheus.Registerer) (*Consumer, error) {
	if len(cfg.Brokers) == 0 || cfg.EventsTopic == "" {
		return nil, errors.New("payment: consumer needs brokers and the events topic")
	}
	if cfg.Group == "" {
		cfg.Group = GroupDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := promauto.With(reg)
	c := &Consumer{cfg: cfg, worker: w, pool: pool,
		actions: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_payments_actions_total",
			Help: "What the payments worker did at the provider, by action: refunded, canceled, paid_meanwhile, refused (the provider refused a refund or cancel for good; reconciliation reports it)."}, []string{"action"}),
		fails: f.NewCounter(prometheus.CounterOpts{Name: "ticket_payments_provider_failures_total",
			Help: "Failed attempts at the provider by the payments worker (each is retried)."}),
	}
	for _, a := range []Action{ActionRefunded, ActionCanceled, ActionPaidMeanwhile, ActionRefused} {
		c.actions.WithLabelValues(string(a))
	}
	return c, nil
}

// Run consumes until ctx is done.
func (c *Consumer) Run(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.cfg.Brokers...), kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.EventsTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(time.Second))
	if err != nil {
		return fmt.Errorf("payment: consumer: %w", err)
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			c.cfg.Logger.Warn("payments: fetch error", "topic", t, "partition", p, "err", err)
		})
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		for _, r := range recs {
			c.handle(ctx, r)
		}
		if ctx.Err() == nil && len(recs) > 0 {
			if err := cl.CommitRecords(ctx, recs...); err != nil {
				c.cfg.Logger.Warn("payments: commit", "err", err)
			}
		}
	}
	return nil
}

// handle acts on one record until it succeeds or ctx is done. An undecodable
// record asks nothing of the worker (the sink dead-letters it).
func (c *Consumer) handle(ctx context.Context, r *kgo.Record) {
	e, err := topics.DecodeOutcome(r.Value)
	if err != nil {
		return
	}
	for fails := 0; ctx.Err() == nil; fails++ {
		a, err := c.worker.Handle(ctx, &e)
		if err == nil {
			if a != ActionNone {
				c.actions.WithLabelValues(string(a)).Inc()
				c.record(ctx, &e, a)
			}
			return
		}
		c.fails.Inc()
		if errors.Is(err, ErrRefused) {
			c.cfg.Logger.Error("payments: refused by the provider; left to reconciliation", "type", e.Type, "err", err)
			c.actions.WithLabelValues(string(ActionRefused)).Inc()
			c.record(ctx, &e, ActionRefused)
			return
		}
		c.cfg.Logger.Warn("payments: provider call failed; retrying", "type", e.Type, "err", err)
		backoff.Sleep(ctx, backoff.Exp(fails, retryFloor, retryCeiling))
	}
}

const recordActionSQL = `
INSERT INTO payment_actions (intent_id, action) VALUES ($1, $2)
ON CONFLICT (intent_id, action) DO NOTHING`

// record writes what was done; a failure is logged only: the provider holds the
// truth, and reconciliation reads it from there.
func (c *Consumer) record(ctx context.Context, e *topics.Outcome, a Action) {
	if c.pool == nil || e.Payment == nil {
		return
	}
	if _, err := c.pool.Exec(ctx, recordActionSQL, e.Payment.IntentID, string(a)); err != nil {
		c.cfg.Logger.Warn("payments: record action", "intent", e.Payment.IntentID, "err", err)
	}
}
