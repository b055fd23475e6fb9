package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Defaults and bounds of RestockConfig.
const (
	// RestockGraceDefault is how long a refund may stay unfinished after its last
	// attempt before the worker takes it over: longer than the API's own attempt
	// (the provider's call, 20 s, then the publish, 10 s), so that the worker does
	// not race an admin's request still under way.
	RestockGraceDefault = 2 * time.Minute
	// RestockGraceMin bounds Grace from below.
	RestockGraceMin = time.Second
	// RestockIntervalDefault is how often the worker looks for unfinished refunds.
	RestockIntervalDefault = 30 * time.Second
	// RestockBatchMax bounds the refunds one sweep takes over.
	RestockBatchMax = 100
	// RestockAgeMax bounds the age of a refund the worker still finishes. A retry
	// is one refund and one restock only while the provider remembers its
	// idempotency key (Stripe: 24 h) and the writer remembers the command's
	// (topics.IdempotencyRetention, 24 h); an older refund is left to a person,
	// and stays counted in ticket_payments_refunds_unrestocked.
	RestockAgeMax = 20 * time.Hour
	// restockCallTimeout bounds one call to the provider or one publish.
	restockCallTimeout = 20 * time.Second
)

// RestockConfig configures the Restocker.
type RestockConfig struct {
	// Grace is how long after its last attempt an unfinished refund is taken over.
	// Default RestockGraceDefault, at least RestockGraceMin.
	Grace time.Duration
	// Interval is the time between sweeps. Default RestockIntervalDefault, or half
	// of Grace when that is shorter; at least RestockGraceMin.
	Interval time.Duration
	Logger   *slog.Logger
}

// WithDefaults fills the zero fields.
func (c RestockConfig) WithDefaults() RestockConfig {
	if c.Grace == 0 {
		c.Grace = RestockGraceDefault
	}
	if c.Interval == 0 {
		c.Interval = max(min(RestockIntervalDefault, c.Grace/2), RestockGraceMin)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate rejects settings out of bounds.
func (c RestockConfig) Validate() error {
	var errs []error
	if c.Grace < RestockGraceMin || c.Grace >= RestockAgeMax {
		errs = append(errs, fmt.Errorf("payment: restock grace %v is not within [%v, %v)", c.Grace, RestockGraceMin, RestockAgeMax))
	}
	if c.Interval < RestockGraceMin {
		errs = append(errs, fmt.Errorf("payment: restock interval %v is under %v", c.Interval, RestockGraceMin))
	}
	return errors.Join(errs...)
}

// Restock steps, the label of ticket_payments_refunds_resumed_total.
const (
	// StepRefunded: a refund whose provider answer was unknown was refunded (or
	// found refunded: same key) at the provider.
	StepRefunded = "refunded"
	// StepPublished: the order.refund of a refunded refund was published again.
	StepPublished = "published"
	// StepProviderRefused: the provider refused the refund for good; nothing moved.
	StepProviderRefused = "provider_refused"
	// StepFailed: an attempt failed (provider or Kafka unreachable); the next
	// sweep after the grace period tries again.
	StepFailed = "failed"
)

// Restocker finishes admin refunds a crash or an outage left half-done (the refund
// outbox, outbox.go): a refund whose provider answer is unknown is asked again
// with the same idempotency key, and a refund refunded at the provider has its
// order.refund published again, the same command, so the writer restocks at most
// once. The sink marks a refund restocked or refused when it applies the writer's
// answer; until then it stays unfinished, and the worker publishes again after
// each grace period (replays cost nothing). It exports how many refunds are
// unrestocked.
type Restocker struct {
	cfg         RestockConfig
	provider    Provider
	refunds     Refunds
	pub         Publisher
	now         func() time.Time
	unrestocked *prometheus.GaugeVec
	steps       *prometheus.CounterVec
}

// NewRestocker returns a Restocker; cfg is completed with defaults and validated.
func NewRestocker(cfg RestockConfig, p Provider, refunds Refunds, pub Publisher, reg prometheus.Registerer) (*Restocker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if p == nil || refunds == nil || pub == nil {
		return nil, errors.New("payment: restocker needs a provider, the refund outbox and a publisher")
	}
	f := promauto.With(reg)
	r := &Restocker{cfg: cfg, provider: p, refunds: refunds, pub: pub, now: time.Now,
		unrestocked: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ticket_payments_refunds_unrestocked",
			Help: "Admin refunds whose money went (or may have gone) back while their tickets are not back on sale, by status: requested (provider's answer unknown) and refunded (not restocked) past the grace period, refused (the writer refused the restock; a person resolves it)."},
			[]string{"status"}),
		steps: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_payments_refunds_resumed_total",
			Help: "What the payments worker did to finish admin refunds left half-done, by step: refunded (at the provider, same key), published (order.refund again), provider_refused, failed (retried after the grace period)."},
			[]string{"step"}),
	}
	for _, s := range UnrestockedStatuses {
		r.unrestocked.WithLabelValues(string(s))
	}
	for _, s := range []string{StepRefunded, StepPublished, StepProviderRefused, StepFailed} {
		r.steps.WithLabelValues(s)
	}
	return r, nil
}

// Run sweeps every Interval until ctx is done.
func (r *Restocker) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("payments: refund sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep takes over the refunds unfinished for a grace period, works each once, and
// updates ticket_payments_refunds_unrestocked. An error is the outbox's (Postgres);
// a failure at the provider or at Kafka is counted and retried next time.
func (r *Restocker) Sweep(ctx context.Context) error {
	now := r.now()
	claimed, err := r.refunds.Claim(ctx, now.Add(-r.cfg.Grace), now.Add(-RestockAgeMax), RestockBatchMax, now)
	if err != nil {
		return err
	}
	for i := range claimed {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.finish(ctx, &claimed[i], now)
	}
	counts, err := r.refunds.Unrestocked(ctx, now.Add(-r.cfg.Grace))
	if err != nil {
		return err
	}
	for s, n := range counts {
		r.unrestocked.WithLabelValues(string(s)).Set(float64(n))
	}
	return nil
}

// finish takes one refund a step or two further: to the provider when its answer
// is unknown, then to the writer.
func (r *Restocker) finish(ctx context.Context, o *OrderRefund, now time.Time) {
	log := r.cfg.Logger.With("order", o.OrderID, "request_id", o.RequestID, "attempt", o.Attempts)
	if o.Status == RefundRequested {
		pctx, cancel := context.WithTimeout(ctx, restockCallTimeout)
		res, err := r.provider.Refund(pctx, o.ProviderRequest())
		cancel()
		// The command carries the refund id: should this write fail, the sink
		// records it with the restock.
		if werr := RecordProviderAnswer(ctx, r.refunds, o, res, err, now); werr != nil {
			log.Warn("payments: record the provider's answer", "err", werr)
		}
		switch {
		case errors.Is(err, ErrRefused):
			r.steps.WithLabelValues(StepProviderRefused).Inc()
			log.Error("payments: the provider refused an admin refund; nothing moved", "err", err)
			return
		case err != nil:
			r.steps.WithLabelValues(StepFailed).Inc()
			log.Warn("payments: refund at the provider failed; retrying after the grace period", "err", err)
			return
		}
		r.steps.WithLabelValues(StepRefunded).Inc()
	}
	pctx, cancel := context.WithTimeout(ctx, restockCallTimeout)
	err := r.pub.Publish(pctx, o.Command(now))
	cancel()
	if err != nil {
		r.steps.WithLabelValues(StepFailed).Inc()
		log.Warn("payments: publish order.refund failed; retrying after the grace period", "err", err)
		return
	}
	r.steps.WithLabelValues(StepPublished).Inc()
	log.Info("payments: order.refund published again", "refund_id", o.RefundID)
}
