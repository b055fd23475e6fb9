package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ultimate-ticket/ultimate-ticket/payment"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Payments (docs/adr/0008-payments.md): POST /holds/{id}/payment creates the payment
// intent of a hold in a priced zone, POST /webhooks/stripe turns the provider's
// verified events into commands, and the admin's POST /orders/{id}/refund refunds at
// the provider and then gives the tickets back through the single writer.

// Payments are the API's payment collaborators. Without them (Deps.Payments nil)
// the payment routes answer 503 payments_disabled.
type Payments struct {
	// Provider creates intents and refunds. Required.
	Provider payment.Provider
	// Webhook configures POST /webhooks/stripe. Required.
	Webhook payment.WebhookConfig
	// Reads answers the payment reads. Default: Deps.Reads, when it implements
	// PaymentReads (a *Store does).
	Reads PaymentReads
	// Refunds is the refund outbox of admin refunds. Default: in the database of
	// Deps.Reads, when it is a *Store.
	Refunds payment.Refunds
}

// Limits of the payment routes.
const (
	// webhookBodyBytesMax bounds a provider event's body; Stripe's are a few kB.
	webhookBodyBytesMax = 256 << 10
	// paymentWait bounds how long POST /holds/{id}/payment waits for the processor
	// to record the payment (and extend the hold) before answering 202.
	paymentWait = 5 * time.Second
	// providerTimeout bounds one call to the provider.
	providerTimeout = 20 * time.Second
)

// paymentState is the server's payment part, built by newPaymentState.
type paymentState struct {
	provider payment.Provider
	reads    PaymentReads
	refunds  payment.Refunds
	webhook  *payment.Webhook
	webhooks *prometheus.CounterVec
}

func newPaymentState(s *server, p *Payments) (*paymentState, error) {
	if p == nil {
		return nil, nil
	}
	reads := p.Reads
	if reads == nil {
		r, ok := s.deps.Reads.(PaymentReads)
		if !ok {
			return nil, errors.New("api: Payments.Reads is required when Deps.Reads does not implement PaymentReads")
		}
		reads = r
	}
	if p.Provider == nil {
		return nil, errors.New("api: Payments.Provider is required")
	}
	refunds := p.Refunds
	if refunds == nil {
		st, ok := s.deps.Reads.(*Store)
		if !ok {
			return nil, errors.New("api: Payments.Refunds is required when Deps.Reads is not a *Store")
		}
		refunds = payment.NewPgRefunds(st.pool)
	}
	hook, err := payment.NewWebhook(p.Webhook, webhookPublisher{s})
	if err != nil {
		return nil, err
	}
	webhooks := promauto.With(s.deps.Registry).NewCounterVec(prometheus.CounterOpts{
		Name: "ticket_api_payment_webhooks_total",
		Help: "Provider webhook deliveries by outcome: published, replayed, ignored, publish_failed, or the refusal code."},
		[]string{"outcome"})
	for _, o := range []string{string(payment.Published), string(payment.Replayed), string(payment.Ignored), "publish_failed",
		payment.CodeSignatureMissing, payment.CodeSignatureInvalid, payment.CodeSignatureStale, payment.CodePayloadInvalid} {
		webhooks.WithLabelValues(o)
	}
	return &paymentState{provider: p.Provider, reads: reads, refunds: refunds, webhook: hook, webhooks: webhooks}, nil
}

// webhookPublisher publishes the webhook's commands through the API's publish path.
type webhookPublisher struct{ s *server }

func (w webhookPublisher) Publish(ctx context.Context, cmd *topics.Command) error {
	ctx, cancel := context.WithTimeout(ctx, w.s.cfg.PublishTimeout)
	defer cancel()
	err := w.s.deps.Publisher.PublishAll(ctx, []*topics.Command{cmd})[0]
	if err != nil {
		w.s.metrics.publishFailures.WithLabelValues(string(cmd.Type)).Inc()
		return err
	}
	w.s.metrics.published.WithLabelValues(string(cmd.Type)).Inc()
	return nil
}

// paymentRoutes adds the payment routes: the buyer's on api, the admin's on admin,
// and the provider's webhook on e (not rate limited per client: the provider is one
// client delivering for all buyers).
func (s *server) paymentRoutes(e *gin.Engine, api, admin *gin.RouterGroup) {
	api.POST("/holds/:id/payment", s.startPayment)
	api.GET("/holds/:id/payment", s.getHoldPayment)
	admin.POST("/orders/:id/refund", s.refundOrder)
	e.POST("/webhooks/stripe", s.stripeWebhook)
}

func (s *server) paymentsEnabled(c *gin.Context) bool {
	if s.payments == nil {
		s.fail(c, unavailable("payments_disabled", "payments are not configured on this server", nil))
		return false
	}
	return true
}

// paymentJSON answers POST /holds/{id}/payment.
type paymentJSON struct {
	HoldID          uuid.UUID     `json:"hold_id"`
	PaymentIntentID string        `json:"payment_intent_id"`
	ClientSecret    string        `json:"client_secret"`
	Amount          int64         `json:"amount"`
	Currency        string        `json:"currency"`
	ExpiresAt       *time.Time    `json:"expires_at,omitempty"`
	RequestID       uuid.UUID     `json:"request_id"`
	Status          RequestStatus `json:"status"`
}

// startPaymentKeyPrefix makes the idempotency key of a hold's hold.start_payment:
// one payment per hold, however often the buyer asks.
const startPaymentKeyPrefix = "start-payment:"

func (s *server) startPayment(c *gin.Context) {
	if !s.paymentsEnabled(c) {
		return
	}
	holdID, bad := parseID(c.Param("id"), "hold id")
	if bad != nil {
		s.fail(c, bad)
		return
	}
	ctx, cancel := s.queryCtx(c)
	hp, err := s.payments.reads.HoldPrice(ctx, holdID)
	cancel()
	if err != nil {
		s.fail(c, readError(err, notFound(string(topics.ReasonHoldNotFound), "hold not found")))
		return
	}
	if bad := payable(&hp); bad != nil {
		s.fail(c, bad)
		return
	}
	h := &hp.Hold
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), providerTimeout)
	intent, err := s.payments.provider.CreateIntent(pctx, payment.IntentRequest{
		Amount: h.Quantity * hp.PriceMinor, Currency: hp.Currency, IdempotencyKey: payment.IntentKey(h.ID.String()),
		Metadata: map[string]string{payment.MetaHoldID: h.ID.String(), payment.MetaZoneID: h.ZoneID.String(),
			payment.MetaEventID: h.EventID.String()},
	})
	pcancel()
	if err != nil {
		s.fail(c, unavailable("payment_provider_unavailable", "the payment provider cannot be reached; retry", err))
		return
	}
	cmd := s.newCommand(topics.CmdStartPayment, h.EventID, h.ZoneID, startPaymentKeyPrefix+h.ID.String())
	cmd.StartPayment = &topics.StartPayment{HoldID: h.ID, Payment: topics.Payment{
		IntentID: intent.ID, Amount: intent.Amount, Currency: intent.Currency}}
	if !s.publishAdmitted(c, cmd) {
		return
	}
	out := paymentJSON{HoldID: h.ID, PaymentIntentID: intent.ID, ClientSecret: intent.ClientSecret,
		Amount: intent.Amount, Currency: intent.Currency, RequestID: cmd.RequestID, Status: RequestPending}
	r, decided, _ := s.waiters.wait(c.Request.Context(), cmd.RequestID, time.Now().Add(min(paymentWait, s.cfg.WaitMax)))
	if !decided {
		s.accepted(c, "/requests/"+cmd.RequestID.String(), out)
		return
	}
	if r.Status != RequestSucceeded {
		s.cancelIntent(c, intent.ID)
		s.fail(c, rejectionError(r.Reason, r.Message, r.Available))
		return
	}
	out.Status = RequestSucceeded
	if r.Hold != nil {
		t := r.Hold.ExpiresAt.UTC()
		out.ExpiresAt = &t
	}
	c.JSON(http.StatusCreated, out)
}

// publishAdmitted publishes cmd under the API's admission (ADR 7), or answers why
// not. Admission starts after the provider's call, so that a slow provider does
// not count as time in flight; a refused or failed publish leaves what the provider
// did to the client's retry, which the idempotency keys make one.
func (s *server) publishAdmitted(c *gin.Context, cmd *topics.Command) bool {
	if !s.admit(c, 1) {
		return false
	}
	err := s.publish(c, cmd)
	s.published(c, 1)
	if err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

// cancelIntent cancels, best effort, the intent of a payment the processor refused
// (the hold expired meanwhile): the buyer cannot pay it by mistake. A failure is only
// logged; should the buyer pay it anyway, its confirm answers refund_required.
func (s *server) cancelIntent(c *gin.Context, intentID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), providerTimeout)
	defer cancel()
	if err := s.payments.provider.CancelIntent(ctx, intentID, payment.CancelKey(intentID)); err != nil {
		s.cfg.Logger.Warn("api: cancel the intent of a refused payment", "intent", intentID, "err", err)
	}
}

// payable says why a hold cannot be paid, or nil.
func payable(hp *HoldPrice) *Error {
	switch hp.Hold.Status {
	case topics.HoldActive:
	case topics.HoldExpired:
		return rejectionError(topics.ReasonHoldExpired, "", nil)
	case topics.HoldConfirmed:
		return rejectionError(topics.ReasonHoldAlreadyConfirmed, "", nil)
	default:
		return rejectionError(topics.ReasonHoldAlreadyReleased, "", nil)
	}
	if hp.PriceMinor == 0 {
		return rejectionError(topics.ReasonZoneFree, "the zone is free: confirm the hold without payment", nil)
	}
	return nil
}

// stripeWebhook answers the provider: 200 when the delivery is handled (published,
// replayed or ignored), 400 with a code when it is refused, 503 when its command
// could not be published, so that the provider delivers it again.
func (s *server) stripeWebhook(c *gin.Context) {
	if !s.paymentsEnabled(c) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, webhookBodyBytesMax+1))
	if err != nil {
		s.fail(c, invalid("invalid_body", "the body cannot be read"))
		return
	}
	if len(body) > webhookBodyBytesMax {
		s.fail(c, bodyTooLarge(webhookBodyBytesMax))
		return
	}
	res, err := s.payments.webhook.Handle(c.Request.Context(), body, c.GetHeader("Stripe-Signature"))
	var we *payment.WebhookError
	switch {
	case errors.As(err, &we):
		s.payments.webhooks.WithLabelValues(we.Code).Inc()
		s.fail(c, invalid(we.Code, "%s", we.Message))
		return
	case err != nil:
		s.payments.webhooks.WithLabelValues("publish_failed").Inc()
		s.fail(c, unavailable("publish_failed", "the event could not be queued; deliver it again", err))
		return
	}
	s.payments.webhooks.WithLabelValues(string(res.Outcome)).Inc()
	out := gin.H{"event_id": res.EventID, "outcome": res.Outcome}
	if res.Command != nil {
		out["request_id"] = res.Command.RequestID
	}
	c.JSON(http.StatusOK, out)
}

// refundBody is POST /orders/{id}/refund; quantity defaults to every ticket not yet
// refunded.
type refundBody struct {
	Quantity *int64 `json:"quantity"`
}

// refundJSON answers POST /orders/{id}/refund.
type refundJSON struct {
	OrderID   uuid.UUID     `json:"order_id"`
	RefundID  string        `json:"refund_id"`
	Quantity  int64         `json:"quantity"`
	Amount    int64         `json:"amount"`
	Currency  string        `json:"currency"`
	RequestID uuid.UUID     `json:"request_id"`
	Status    RequestStatus `json:"status"`
}

// refundOrder refunds tickets of a paid order at the provider, then publishes
// order.refund so the single writer puts them back on sale. The Idempotency-Key
// header (required) keys both: the provider's refund (with the order id), so a
// retry refunds once, and the command, so it restocks once. The refund is written
// to the refund outbox before the provider is asked (payment/outbox.go): whatever
// stops this request half-way, the payments worker finishes it with the same keys,
// and a retry of the admin's continues it.
func (s *server) refundOrder(c *gin.Context) {
	if !s.paymentsEnabled(c) {
		return
	}
	orderID, bad := parseID(c.Param("id"), "order id")
	key := c.GetHeader("Idempotency-Key")
	if bad == nil && key == "" {
		bad = invalid("missing_idempotency_key", "the Idempotency-Key header is required")
	}
	if bad == nil {
		bad = checkText(key, "Idempotency-Key", idempotencyKeyBytesMax)
	}
	var b refundBody
	if bad == nil && c.Request.ContentLength != 0 {
		bad = s.decodeJSON(c, &b)
	}
	if bad != nil {
		s.fail(c, bad)
		return
	}
	ctx, cancel := s.queryCtx(c)
	op, err := s.payments.reads.OrderPayment(ctx, orderID)
	cancel()
	if err != nil {
		s.fail(c, readError(err, notFound("order_not_found", "order not found")))
		return
	}
	rec, bad := s.recordRefund(c, &op, key, b.Quantity)
	if bad != nil {
		s.fail(c, bad)
		return
	}
	out := refundJSON{OrderID: rec.OrderID, RefundID: rec.RefundID, Quantity: rec.Quantity, Amount: rec.Amount,
		Currency: op.Currency, RequestID: rec.RequestID, Status: RequestPending}
	if rec.Status == payment.RefundRestocked || rec.Status == payment.RefundRestockRefused {
		s.answerFinishedRefund(c, &rec, out)
		return
	}
	if rec.RefundID == "" && !s.refundAtProvider(c, &rec) {
		return
	}
	out.RefundID = rec.RefundID
	cmd := rec.Command(s.now())
	if !s.publishAdmitted(c, cmd) {
		return
	}
	if results, ok := s.awaitResults(c, cmd.RequestID); ok {
		if r := results[0]; r.Status != RequestSucceeded {
			// Money went back but the tickets did not: the read model and the
			// processor disagree on what was sold. The sink records the refusal
			// on the refund (ticket_payments_refunds_unrestocked, an alert);
			// nothing to undo here.
			s.cfg.Logger.Error("api: refunded at the provider, restock refused", "order", rec.OrderID, "refund", rec.RefundID,
				"reason", r.Reason)
			s.fail(c, rejectionError(r.Reason, r.Message, r.Available))
			return
		}
		out.Status = RequestSucceeded
		c.JSON(http.StatusCreated, out)
		return
	}
	s.accepted(c, "/requests/"+cmd.RequestID.String(), out)
}

// recordRefund returns the refund of the order under the admin's key from the
// refund outbox, recording it first when it is new. A retry carries on with the
// recorded refund (its quantity, amount and request id); asking another quantity
// under the same key is an idempotency conflict, as the writer would answer.
func (s *server) recordRefund(c *gin.Context, op *OrderPayment, key string, asked *int64) (payment.OrderRefund, *Error) {
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	refunds := s.payments.refunds
	rec, err := refunds.Find(ctx, op.Order.ID, key)
	switch {
	case err == nil:
		if asked != nil && *asked != rec.Quantity {
			return rec, rejectionError(topics.ReasonIdempotencyConflict, "", nil)
		}
	case errors.Is(err, payment.ErrRefundNotFound):
		qty, bad := refundQuantity(op, asked)
		if bad != nil {
			return rec, bad
		}
		o := &op.Order
		cmd := s.newCommand(topics.CmdRefundOrder, o.EventID, o.ZoneID, "")
		rec = payment.OrderRefund{RequestID: cmd.RequestID, OrderID: o.ID, Key: key, EventID: o.EventID, ZoneID: o.ZoneID,
			HoldID: o.HoldID, CustomerID: o.CustomerID, IntentID: op.IntentID, Quantity: qty,
			Amount: qty * (op.Amount / o.Quantity)}
	default:
		return rec, readError(err, nil)
	}
	// Recording an existing refund again marks this attempt on it, so that the
	// payments worker leaves it to this request for its grace period.
	rec, err = refunds.Record(ctx, rec, s.now())
	if err != nil {
		return rec, readError(err, nil)
	}
	return rec, nil
}

// refundAtProvider refunds rec at the provider and records the answer on it, or
// answers 503 as a retry is what the admin should do; the payments worker retries
// meanwhile, with the same key.
func (s *server) refundAtProvider(c *gin.Context, rec *payment.OrderRefund) bool {
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), providerTimeout)
	ref, err := s.payments.provider.Refund(pctx, rec.ProviderRequest())
	pcancel()
	// The outcome is written whatever becomes of this request.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), s.cfg.QueryTimeout)
	defer wcancel()
	// Should the write fail after a refund, the command carries the refund id and
	// the sink records it with the restock; should the command be lost too, the
	// worker asks the provider again with the same key.
	if werr := payment.RecordProviderAnswer(wctx, s.payments.refunds, rec, ref, err, s.now()); werr != nil {
		s.cfg.Logger.Warn("api: record the provider's answer to a refund", "order", rec.OrderID, "err", werr)
	}
	if err == nil {
		return true
	}
	s.fail(c, unavailable("payment_provider_unavailable", "the refund failed at the provider; retry with the same Idempotency-Key", err))
	return false
}

// answerFinishedRefund answers a retry of a refund the writer decided: from the
// outbox, publishing nothing, so the answer does not depend on how long the
// writer remembers keys. It answers like a retry published again would: 202 to
// poll, or with Prefer: wait the decision (201, or the refusal).
func (s *server) answerFinishedRefund(c *gin.Context, rec *payment.OrderRefund, out refundJSON) {
	d, asked := preferWait(c.Request.Header)
	if !asked {
		s.accepted(c, "/requests/"+rec.RequestID.String(), out)
		return
	}
	c.Header("Preference-Applied", preferenceApplied(min(d, s.cfg.WaitMax)))
	if rec.Status == payment.RefundRestockRefused {
		s.fail(c, rejectionError(topics.Reason(rec.Reason), "", nil))
		return
	}
	out.Status = RequestSucceeded
	c.JSON(http.StatusCreated, out)
}

// refundQuantity is how many tickets a refund takes back, or why it cannot.
func refundQuantity(op *OrderPayment, asked *int64) (int64, *Error) {
	left := op.Order.Quantity - op.Refunded
	switch {
	case op.IntentID == "":
		return 0, newError(KindConflict, "order_not_paid", "the order was not paid: nothing to refund")
	case left <= 0:
		return 0, newError(KindConflict, "order_refunded", "every ticket of the order is refunded already")
	case asked == nil:
		return left, nil
	case *asked < 1 || *asked > left:
		return 0, invalid("invalid_quantity", "quantity must be 1 to %d (tickets not yet refunded)", left)
	}
	return *asked, nil
}

// checkPrice checks a zone's price fields: a currency is three lower-case letters,
// and a price above 0 needs one (unless the zone has one already: the processor
// decides that).
func (z *zoneSettings) checkPrice() *Error {
	if z.Currency != nil && !topics.ValidCurrency(*z.Currency) {
		return invalid("invalid_field", "field \"currency\" must be a three-letter lower-case ISO 4217 code, e.g. \"eur\"")
	}
	return nil
}

// holdPaymentJSON answers GET /holds/{id}/payment: what became of the buyer's
// payment. A payment that succeeded too late shows refund_required with the reason
// (hold_expired, ...) and refunded once the provider has refunded it.
type holdPaymentJSON struct {
	HoldID          uuid.UUID  `json:"hold_id"`
	PaymentIntentID string     `json:"payment_intent_id"`
	Amount          int64      `json:"amount"`
	Currency        string     `json:"currency"`
	Status          string     `json:"status"`
	Reason          string     `json:"reason,omitempty"`
	OrderID         *uuid.UUID `json:"order_id,omitempty"`
	Refunded        bool       `json:"refunded"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func (s *server) getHoldPayment(c *gin.Context) {
	if !s.paymentsEnabled(c) {
		return
	}
	holdID, bad := parseID(c.Param("id"), "hold id")
	if bad != nil {
		s.fail(c, bad)
		return
	}
	ctx, cancel := s.queryCtx(c)
	p, err := s.payments.reads.HoldPayment(ctx, holdID)
	cancel()
	if err != nil {
		s.fail(c, readError(err, notFound("payment_not_found", "no payment recorded for this hold")))
		return
	}
	out := holdPaymentJSON{HoldID: p.HoldID, PaymentIntentID: p.IntentID, Amount: p.Amount, Currency: p.Currency,
		Status: p.Status, Reason: p.Reason, Refunded: p.Refunded, UpdatedAt: p.UpdatedAt.UTC()}
	if p.OrderID != uuid.Nil {
		out.OrderID = &p.OrderID
	}
	c.JSON(http.StatusOK, out)
}
