package api

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// PaymentReads answers the payment routes from the read model. *Store implements it.
type PaymentReads interface {
	// HoldPrice returns a hold with its zone's price.
	HoldPrice(ctx context.Context, hold uuid.UUID) (HoldPrice, error)
	// OrderPayment returns an order with what it was paid and refunded so far.
	OrderPayment(ctx context.Context, order uuid.UUID) (OrderPayment, error)
	// HoldPayment returns the newest payment of a hold, as the processor decided it.
	HoldPayment(ctx context.Context, hold uuid.UUID) (HoldPayment, error)
}

// HoldPayment is a row of payments: where a hold's payment stands (started,
// succeeded, refund_required with its reason, expired), and whether the payments
// worker refunded it.
type HoldPayment struct {
	IntentID  string
	HoldID    uuid.UUID
	Amount    int64
	Currency  string
	Status    string
	Reason    string
	OrderID   uuid.UUID
	Refunded  bool
	UpdatedAt time.Time
}

// HoldPrice is a hold and the price of a ticket in its zone.
type HoldPrice struct {
	Hold       Hold
	PriceMinor int64
	Currency   string
}

// OrderPayment is an order and its payment: IntentID is empty for an order of a
// free zone. Refunded is the tickets refunded so far: back on sale
// (order_refunds), or refunded (or being refunded) at the provider and not
// restocked, from the refund outbox.
type OrderPayment struct {
	Order    Order
	IntentID string
	Amount   int64
	Currency string
	Refunded int64
}

const sqlHoldPrice = `
SELECT h.id, h.event_id, h.zone_id, h.quantity, h.customer_id, h.status, h.idempotency_key,
       h.created_at, h.expires_at, h.resolved_at, h.order_id, z.price_minor, z.currency
FROM holds h JOIN zones z ON z.id = h.zone_id WHERE h.id = $1`

const sqlOrderPayment = `
SELECT o.id, o.hold_id, o.event_id, o.zone_id, o.quantity, o.customer_id, o.created_at,
       o.payment_intent_id, o.amount, o.currency,
       COALESCE((SELECT sum(quantity) FROM order_refunds r WHERE r.order_id = o.id), 0)
       + COALESCE((SELECT sum(quantity) FROM order_refund_requests q
                   WHERE q.order_id = o.id AND q.status IN ('requested', 'refunded', 'refused')), 0)
FROM orders o WHERE o.id = $1`

const sqlHoldPayment = `
SELECT p.intent_id, p.hold_id, p.amount, p.currency, p.status, p.reason, p.order_id, p.updated_at,
       EXISTS (SELECT 1 FROM payment_actions a WHERE a.intent_id = p.intent_id AND a.action = 'refunded')
FROM payments p WHERE p.hold_id = $1 ORDER BY p.updated_at DESC LIMIT 1`

// HoldPayment implements PaymentReads.
func (s *Store) HoldPayment(ctx context.Context, id uuid.UUID) (HoldPayment, error) {
	var (
		p      HoldPayment
		reason pgtype.Text
		order  pgtype.UUID
	)
	err := s.pool.QueryRow(ctx, sqlHoldPayment, id).Scan(&p.IntentID, &p.HoldID, &p.Amount, &p.Currency, &p.Status,
		&reason, &order, &p.UpdatedAt, &p.Refunded)
	if err != nil {
		return HoldPayment{}, notFoundOr(err, "payment")
	}
	p.Reason, p.OrderID = reason.String, order.Bytes
	return p, nil
}

// HoldPrice implements PaymentReads.
func (s *Store) HoldPrice(ctx context.Context, id uuid.UUID) (HoldPrice, error) {
	var (
		h        holdRow
		out      HoldPrice
		currency pgtype.Text
	)
	err := s.pool.QueryRow(ctx, sqlHoldPrice, id).Scan(append(h.dest(), &out.PriceMinor, &currency)...)
	if err != nil {
		return HoldPrice{}, notFoundOr(err, "hold")
	}
	out.Hold, out.Currency = h.hold(), currency.String
	return out, nil
}

// OrderPayment implements PaymentReads.
func (s *Store) OrderPayment(ctx context.Context, id uuid.UUID) (OrderPayment, error) {
	var (
		out                OrderPayment
		cust, intent, curr pgtype.Text
		amount             pgtype.Int8
	)
	o := &out.Order
	err := s.pool.QueryRow(ctx, sqlOrderPayment, id).Scan(&o.ID, &o.HoldID, &o.EventID, &o.ZoneID,
		&o.Quantity, &cust, &o.CreatedAt, &intent, &amount, &curr, &out.Refunded)
	if err != nil {
		return OrderPayment{}, notFoundOr(err, "order")
	}
	o.CustomerID, out.IntentID, out.Amount, out.Currency = cust.String, intent.String, amount.Int64, curr.String
	return out, nil
}
