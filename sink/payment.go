package sink

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// The payment rows of a batch (docs/adr/0008-payments.md): zone prices ride on the
// zone rows; these are the payments by intent, the holds a payment extended, the
// orders' payments, and the refunds. They are written after the holds and orders of
// the same batch, whose rows they update. The writer's answer to an admin refund
// also finishes its row of the refund outbox (order_refund_requests, written by
// the API and the payments worker): restocked or refused, in the same transaction,
// so that the worker never publishes again a refund the read model has.

type paymentPlan struct {
	byIntent map[string]int // index in payments
	payments paymentRows
	extended holdPaymentRows
	paid     orderPaymentRows
	refunds  refundRows
	finished finishedRefundRows
}

// finishedRefundRows are the refund outbox rows the batch finishes, once per
// request: the writer's first answer (a replay repeats it).
type finishedRefundRows struct {
	seen      map[uuid.UUID]bool
	requestID [][16]byte
	status    []string
	reason    []pgtype.Text
	refundID  []pgtype.Text
}

func (f *finishedRefundRows) add(id uuid.UUID, status, reason, refundID string) {
	if f.seen == nil {
		f.seen = make(map[uuid.UUID]bool)
	}
	if f.seen[id] {
		return
	}
	f.seen[id] = true
	f.requestID = append(f.requestID, [16]byte(id))
	f.status = append(f.status, status)
	f.reason = append(f.reason, text(reason))
	f.refundID = append(f.refundID, text(refundID))
}

type paymentRows struct {
	intent                  []string
	holdID, eventID, zoneID [][16]byte
	amount                  []int64
	currency, status        []string
	reason                  []pgtype.Text
	orderID                 []pgtype.UUID
	updated                 []time.Time
}

type holdPaymentRows struct {
	id      [][16]byte
	expires []time.Time
	intent  []string
}

type orderPaymentRows struct {
	id               [][16]byte
	intent, currency []string
	amount           []int64
}

type refundRows struct {
	refundID         []string
	orderID          [][16]byte
	eventID, zoneID  [][16]byte
	quantity, amount []int64
	created          []time.Time
}

// checkPayment rejects a payment outcome the read model cannot hold.
func checkPayment(e *topics.Outcome) error {
	switch e.Type {
	case topics.OutHoldPaymentStarted:
		if e.Hold == nil || e.Hold.ID == uuid.Nil || e.Payment == nil {
			return errors.New("invalid event: hold.payment_started needs a hold and a payment")
		}
	case topics.OutPaymentRefundRequired:
		if e.Payment == nil || e.Rejection == nil {
			return errors.New("invalid event: payment.refund_required needs a payment and a rejection")
		}
	case topics.OutOrderRefunded:
		if e.Refund == nil || e.Refund.OrderID == uuid.Nil || e.Refund.Quantity <= 0 {
			return errors.New("invalid event: order.refunded needs a refund with order id and quantity > 0")
		}
	default:
		return nil
	}
	if p := e.Payment; p != nil && (p.IntentID == "" || len(p.IntentID) > topics.PaymentRefBytesMax) {
		return fmt.Errorf("invalid event: %s: payment intent id empty or too long", e.Type)
	}
	return nil
}

// collect records what a payment outcome, or a hold outcome with a payment, writes.
func (pp *paymentPlan) collect(e *topics.Outcome) {
	switch {
	case e.Type == topics.OutHoldPaymentStarted:
		pp.payment(e, e.Hold.ID, "started", "", uuid.Nil)
		pp.extended.id = append(pp.extended.id, [16]byte(e.Hold.ID))
		pp.extended.expires = append(pp.extended.expires, e.Hold.ExpiresAt)
		pp.extended.intent = append(pp.extended.intent, e.Payment.IntentID)
	case e.Type == topics.OutHoldConfirmed && e.Payment != nil:
		pp.payment(e, e.Hold.ID, "succeeded", "", e.Order.ID)
		pp.paid.id = append(pp.paid.id, [16]byte(e.Order.ID))
		pp.paid.intent = append(pp.paid.intent, e.Payment.IntentID)
		pp.paid.currency = append(pp.paid.currency, e.Payment.Currency)
		pp.paid.amount = append(pp.paid.amount, e.Payment.Amount)
	case e.Type == topics.OutHoldExpired && e.Payment != nil:
		pp.payment(e, e.Hold.ID, "expired", "", uuid.Nil)
	case e.Type == topics.OutPaymentRefundRequired:
		var hold uuid.UUID
		if e.Hold != nil {
			hold = e.Hold.ID
		}
		pp.payment(e, hold, "refund_required", string(e.Rejection.Reason), uuid.Nil)
	case e.Type == topics.OutOrderRefunded:
		r := &pp.refunds
		r.refundID = append(r.refundID, e.Refund.RefundID)
		r.orderID = append(r.orderID, [16]byte(e.Refund.OrderID))
		r.eventID = append(r.eventID, [16]byte(e.EventID))
		r.zoneID = append(r.zoneID, [16]byte(e.ZoneID))
		r.quantity = append(r.quantity, e.Refund.Quantity)
		r.amount = append(r.amount, e.Refund.Amount)
		r.created = append(r.created, e.Time)
		pp.finished.add(e.RequestID, "restocked", "", e.Refund.RefundID)
	case commandType(e) != topics.CmdRefundOrder:
	case e.Type == topics.OutRequestRejected:
		pp.finished.add(e.RequestID, "refused", string(e.Rejection.Reason), "")
	case e.Type == topics.OutRequestReplayed && e.Replay.Rejection != nil:
		pp.finished.add(e.RequestID, "refused", string(e.Replay.Rejection.Reason), "")
	case e.Type == topics.OutRequestReplayed:
		pp.finished.add(e.RequestID, "restocked", "", "")
	}
}

// payment sets the row of e's intent to its latest state in the batch (log order
// within the partition that owns the zone, so the last one is the newest).
func (pp *paymentPlan) payment(e *topics.Outcome, hold uuid.UUID, status, reason string, order uuid.UUID) {
	if pp.byIntent == nil {
		pp.byIntent = make(map[string]int)
	}
	r := &pp.payments
	i, ok := pp.byIntent[e.Payment.IntentID]
	if !ok {
		i = len(r.intent)
		pp.byIntent[e.Payment.IntentID] = i
		r.intent = append(r.intent, e.Payment.IntentID)
		r.holdID = append(r.holdID, [16]byte(hold))
		r.eventID = append(r.eventID, [16]byte(e.EventID))
		r.zoneID = append(r.zoneID, [16]byte(e.ZoneID))
		r.amount = append(r.amount, e.Payment.Amount)
		r.currency = append(r.currency, e.Payment.Currency)
		r.status = append(r.status, status)
		r.reason = append(r.reason, text(reason))
		r.orderID = append(r.orderID, nullUUID(order))
		r.updated = append(r.updated, e.Time)
		return
	}
	if hold != uuid.Nil {
		r.holdID[i] = [16]byte(hold)
	}
	r.status[i], r.reason[i], r.updated[i] = status, text(reason), e.Time
	if order != uuid.Nil {
		r.orderID[i] = nullUUID(order)
	}
}

// queue adds the batch's payment statements.
func (pp *paymentPlan) queue(b *pgx.Batch) {
	if r := pp.payments; len(r.intent) > 0 {
		b.Queue(upsertPaymentsSQL, r.intent, r.holdID, r.eventID, r.zoneID, r.amount, r.currency, r.status,
			r.reason, r.orderID, r.updated)
	}
	if h := pp.extended; len(h.id) > 0 {
		b.Queue(updateHoldPaymentsSQL, h.id, h.expires, h.intent)
	}
	if o := pp.paid; len(o.id) > 0 {
		b.Queue(updateOrderPaymentsSQL, o.id, o.intent, o.amount, o.currency)
	}
	if r := pp.refunds; len(r.refundID) > 0 {
		b.Queue(insertRefundsSQL, r.refundID, r.orderID, r.eventID, r.zoneID, r.quantity, r.amount, r.created)
	}
	if f := pp.finished; len(f.requestID) > 0 {
		b.Queue(finishRefundRequestsSQL, f.requestID, f.status, f.reason, f.refundID)
	}
}

// upsertPaymentsSQL writes each intent's newest state; updated_at keeps a newer row.
const upsertPaymentsSQL = `
INSERT INTO payments (intent_id, hold_id, event_id, zone_id, amount, currency, status, reason, order_id, updated_at)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::text[], $7::text[],
                     $8::text[], $9::uuid[], $10::timestamptz[])
ON CONFLICT (intent_id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
    order_id = COALESCE(excluded.order_id, payments.order_id),
    hold_id = CASE WHEN excluded.hold_id = '00000000-0000-0000-0000-000000000000' THEN payments.hold_id ELSE excluded.hold_id END,
    updated_at = excluded.updated_at
WHERE payments.updated_at <= excluded.updated_at`

// updateHoldPaymentsSQL records the intent and the extended expiry of a hold still active.
const updateHoldPaymentsSQL = `
UPDATE holds SET expires_at = u.expires_at, payment_intent_id = u.intent_id
FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, expires_at, intent_id)
WHERE holds.id = u.id AND holds.status = 'active'`

// updateOrderPaymentsSQL records what an order was paid.
const updateOrderPaymentsSQL = `
UPDATE orders SET payment_intent_id = u.intent_id, amount = u.amount, currency = u.currency
FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[]) AS u(id, intent_id, amount, currency)
WHERE orders.id = u.id`

// insertRefundsSQL records the refunds; a refund id is written once.
const insertRefundsSQL = `
INSERT INTO order_refunds (refund_id, order_id, event_id, zone_id, quantity, amount, created_at)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::bigint[], $7::timestamptz[])
ON CONFLICT (refund_id) DO NOTHING`

// finishRefundRequestsSQL finishes the admin refunds the writer answered: a row
// finished already keeps its first answer. A request id that is no row (a refund
// published before the outbox existed) changes nothing.
const finishRefundRequestsSQL = `
UPDATE order_refund_requests q SET status = u.status, reason = u.reason,
    refund_id = COALESCE(q.refund_id, u.refund_id), updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS u(request_id, status, reason, refund_id)
WHERE q.request_id = u.request_id AND q.status IN ('requested', 'refunded', 'failed')`
