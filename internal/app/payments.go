package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ultimate-ticket/ultimate-ticket/api"
	"github.com/ultimate-ticket/ultimate-ticket/ingest"
	"github.com/ultimate-ticket/ultimate-ticket/payment"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// PaymentConfig are ticketd's payment settings (docs/adr/0008-payments.md). Without
// a Stripe key the payment routes answer 503 and no payments worker runs.
type PaymentConfig struct {
	StripeSecretKey   string
	StripeAPIURL      string
	WebhookSecret     string
	FailurePolicy     string
	PaymentExtension  time.Duration
	ReconcileInterval time.Duration
	// RestockGrace is how long an admin refund may stay unfinished before the
	// payments worker finishes it (payment.RestockConfig.Grace).
	RestockGrace time.Duration
	// ReconcileFrom, ReconcileTo and ReconcileFix are `ticketd reconcile`'s range
	// and whether it sends the confirms of payments without an order.
	ReconcileFrom, ReconcileTo string
	ReconcileFix               bool
}

// reconcileWindow is how far back the payments worker's periodic reconciliation
// looks.
const reconcileWindow = 24 * time.Hour

func (c *Config) paymentFlags(fs *flag.FlagSet) {
	p := &c.Payments
	fs.StringVar(&p.StripeSecretKey, "stripe-secret-key", envString("STRIPE_SECRET_KEY", ""), "STRIPE_SECRET_KEY: Stripe API key (sk_test_...); empty: payments off")
	fs.StringVar(&p.StripeAPIURL, "stripe-api-url", envString("STRIPE_API_URL", ""), "STRIPE_API_URL: Stripe API base URL, e.g. stripe-mock's http://localhost:12111 (default: Stripe's)")
	fs.StringVar(&p.WebhookSecret, "webhook-secret", envString("WEBHOOK_SECRET", ""), "WEBHOOK_SECRET: signing secret of the Stripe webhook endpoint (whsec_...)")
	fs.StringVar(&p.FailurePolicy, "payment-failure-policy", envString("PAYMENT_FAILURE_POLICY", string(payment.FailureExpire)), "PAYMENT_FAILURE_POLICY: what payment_intent.payment_failed does to the hold: expire (leave it to expire; the buyer may retry) or release")
	fs.DurationVar(&p.PaymentExtension, "payment-extension", envDuration("PAYMENT_EXTENSION", zone.PaymentExtensionDefault), "PAYMENT_EXTENSION: how long a hold lives at least after its payment started (once)")
	fs.DurationVar(&p.ReconcileInterval, "reconcile-interval", envDuration("RECONCILE_INTERVAL", 5*time.Minute), "RECONCILE_INTERVAL: how often the payments worker reconciles the last 24 h with the provider")
	fs.DurationVar(&p.RestockGrace, "refund-restock-grace", envDuration("REFUND_RESTOCK_GRACE", payment.RestockGraceDefault), "REFUND_RESTOCK_GRACE: how long an admin refund may stay unfinished (provider's answer unknown, or tickets not back on sale) before the payments worker finishes it")
	fs.StringVar(&p.ReconcileFrom, "from", "", "reconcile: start of the range (RFC 3339, or a duration before now such as 24h; default 24h)")
	fs.StringVar(&p.ReconcileTo, "to", "", "reconcile: end of the range (RFC 3339; default now)")
	fs.BoolVar(&p.ReconcileFix, "fix", false, "reconcile: send the confirm of every payment without an order, as its webhook would have")
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(envString(name, "")); err == nil {
		return d
	}
	return def
}

func (c Config) paymentsOn() bool { return c.Payments.StripeSecretKey != "" }

// checkPayments checks the payment settings of the commands that use them.
func (c Config) checkPayments(cmd string) error {
	p := c.Payments
	var errs []error
	st := zone.DefaultConfig()
	st.PaymentExtension = p.PaymentExtension
	if err := st.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("PAYMENT_EXTENSION: %w", err))
	}
	if cmd == "payments" || cmd == "reconcile" {
		if !c.paymentsOn() {
			errs = append(errs, errors.New("STRIPE_SECRET_KEY: required by "+cmd))
		}
	}
	if c.paymentsOn() && (cmd == "api" || cmd == "all") {
		wc := c.webhookConfig()
		if err := wc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("WEBHOOK_SECRET/PAYMENT_FAILURE_POLICY: %w", err))
		}
	}
	if p.ReconcileInterval < time.Second {
		errs = append(errs, fmt.Errorf("RECONCILE_INTERVAL: %v is under 1s", p.ReconcileInterval))
	}
	if err := c.restockConfig(nil).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("REFUND_RESTOCK_GRACE: %w", err))
	}
	return errors.Join(errs...)
}

func (c Config) webhookConfig() payment.WebhookConfig {
	return payment.WebhookConfig{Secret: c.Payments.WebhookSecret, OnFailure: payment.FailurePolicy(c.Payments.FailurePolicy)}
}

func (c Config) provider() (payment.Provider, error) {
	return payment.NewStripe(payment.StripeConfig{SecretKey: c.Payments.StripeSecretKey, URL: c.Payments.StripeAPIURL})
}

func (c Config) restockConfig(log *slog.Logger) payment.RestockConfig {
	return payment.RestockConfig{Grace: c.Payments.RestockGrace, Logger: log}.WithDefaults()
}

// apiPayments is the API's payment part, nil when payments are off.
func (c Config) apiPayments() (*api.Payments, error) {
	if !c.paymentsOn() {
		return nil, nil
	}
	p, err := c.provider()
	if err != nil {
		return nil, err
	}
	return &api.Payments{Provider: p, Webhook: c.webhookConfig()}, nil
}

// runPayments runs the payments worker: it acts on the processor's outcomes at the
// provider (refunds, cancellations), finishes admin refunds left half-done (the
// refund outbox), and reconciles the last day every RECONCILE_INTERVAL, exporting
// the differences by kind.
func runPayments(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) error {
	pool, err := openMigratedPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	p, err := cfg.provider()
	if err != nil {
		return err
	}
	cons, err := payment.NewConsumer(payment.ConsumerConfig{Brokers: cfg.brokers(), EventsTopic: cfg.names().Events,
		Logger: log}, payment.NewWorker(p), pool, reg)
	if err != nil {
		return err
	}
	// A producer of its own, its client metrics unexported: the API's, in the same
	// process under `ticketd all`, owns those names.
	prod, err := ingest.New(cfg.ingestConfig(), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer prod.Close()
	restock, err := payment.NewRestocker(cfg.restockConfig(log), p, payment.NewPgRefunds(pool), producerPublisher{prod}, reg)
	if err != nil {
		return err
	}
	restocked := make(chan struct{})
	go func() {
		defer close(restocked)
		restock.Run(ctx)
	}()
	defer func() { <-restocked }() // before the producer closes
	diffs := promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{Name: "ticket_payments_reconcile_differences",
		Help: "Differences found by the last reconciliation of the provider's succeeded payments with the orders, by kind."},
		[]string{"kind"})
	for _, k := range payment.DifferenceKinds {
		diffs.WithLabelValues(string(k))
	}
	go func() {
		t := time.NewTicker(cfg.Payments.ReconcileInterval)
		defer t.Stop()
		for {
			now := time.Now()
			found, err := payment.Reconcile(ctx, p, pool, now.Add(-reconcileWindow), now)
			if err != nil {
				log.Warn("payments: reconcile", "err", err)
			} else {
				for k, n := range payment.Counts(found) {
					diffs.WithLabelValues(string(k)).Set(float64(n))
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	log.Info("payments worker running")
	return cons.Run(ctx)
}

// runReconcile prints the differences of a range and, with -fix, sends the confirm
// of each payment without an order (the processor decides: an order, or a refund).
func runReconcile(ctx context.Context, cfg Config, log *slog.Logger) error {
	from, to, err := reconcileRange(cfg.Payments, time.Now())
	if err != nil {
		return err
	}
	pool, err := openMigratedPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	p, err := cfg.provider()
	if err != nil {
		return err
	}
	found, err := payment.Reconcile(ctx, p, pool, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "reconcile %s .. %s: %d differences\n", from.Format(time.RFC3339), to.Format(time.RFC3339), len(found))
	for _, d := range found {
		fmt.Fprintf(os.Stdout, "%-22s %-30s %s\n", d.Kind, d.IntentID, d.Detail)
	}
	if !cfg.Payments.ReconcileFix {
		return nil
	}
	return fixMissingOrders(ctx, cfg, log, found)
}

// producerPublisher publishes one command at a time through an ingest producer.
type producerPublisher struct{ p *ingest.Producer }

func (pp producerPublisher) Publish(ctx context.Context, cmd *topics.Command) error {
	return pp.p.PublishAll(ctx, []*topics.Command{cmd})[0]
}

func reconcileRange(p PaymentConfig, now time.Time) (from, to time.Time, err error) {
	to = now
	if p.ReconcileTo != "" {
		if to, err = time.Parse(time.RFC3339, p.ReconcileTo); err != nil {
			return from, to, fmt.Errorf("-to: %w", err)
		}
	}
	from = to.Add(-reconcileWindow)
	if p.ReconcileFrom != "" {
		if d, derr := time.ParseDuration(p.ReconcileFrom); derr == nil {
			from = to.Add(-d)
		} else if from, err = time.Parse(time.RFC3339, p.ReconcileFrom); err != nil {
			return from, to, fmt.Errorf("-from: %w", err)
		}
	}
	if !from.Before(to) {
		return from, to, fmt.Errorf("-from %v is not before -to %v", from, to)
	}
	return from, to, nil
}
