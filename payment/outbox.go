package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// The refund outbox (migration 005, order_refund_requests). An admin's refund moves
// money at the provider and then tickets through the single writer; the two cannot
// share a transaction, so the refund is written down before the provider is asked.
// Whatever stops it half-way (a crash, Kafka unreachable, an admin who never
// retries a 503), the payments worker finds the row and finishes it with the same
// idempotency keys: at most one refund at the provider, at most one restock.

// RefundStatus is where an admin refund stands.
type RefundStatus string

const (
	// RefundRequested: recorded; the provider's answer is not known (the money may
	// have gone back).
	RefundRequested RefundStatus = "requested"
	// RefundRefunded: the provider refunded; the tickets are not back on sale yet.
	RefundRefunded RefundStatus = "refunded"
	// RefundRestocked: the writer put the tickets back on sale (order.refunded).
	RefundRestocked RefundStatus = "restocked"
	// RefundRestockRefused: the writer refused the restock; the money went back, the
	// tickets did not. A person decides what to do.
	RefundRestockRefused RefundStatus = "refused"
	// RefundFailed: the provider refused the refund for good; no money moved.
	RefundFailed RefundStatus = "failed"
)

// OrderRefund is one admin refund of an order: a row of the outbox.
type OrderRefund struct {
	// RequestID is the order.refund command's request id, the same on every
	// publish of the refund.
	RequestID uuid.UUID
	OrderID   uuid.UUID
	// Key is the admin's Idempotency-Key.
	Key        string
	EventID    uuid.UUID
	ZoneID     uuid.UUID
	HoldID     uuid.UUID
	CustomerID string
	IntentID   string
	Quantity   int64
	Amount     int64
	Status     RefundStatus
	RefundID   string // the provider's, once known
	Reason     string // why refused or failed
	Attempts   int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ProviderKey is the idempotency key of the refund at the provider.
func (r *OrderRefund) ProviderKey() string {
	return OrderRefundKey(r.OrderID.String() + ":" + r.Key)
}

// ProviderRequest is the refund asked of the provider.
func (r *OrderRefund) ProviderRequest() RefundRequest {
	return RefundRequest{IntentID: r.IntentID, Amount: r.Amount, IdempotencyKey: r.ProviderKey(), Reason: "requested_by_customer"}
}

// RecordProviderAnswer writes the provider's answer to o's refund (res, err of
// Provider.Refund with o.ProviderRequest()) to the outbox: refunded, with the
// provider's refund id (o is updated too); failed, when the provider refused for
// good; nothing for any other error, as the answer is unknown and the refund stays
// requested. The API and the payments worker both ask the provider, and both
// record through this.
func RecordProviderAnswer(ctx context.Context, refunds Refunds, o *OrderRefund, res RefundResult, err error, now time.Time) error {
	switch {
	case errors.Is(err, ErrRefused):
		return refunds.MarkFailed(ctx, o.RequestID, err.Error(), now)
	case err == nil:
		o.RefundID, o.Status = res.ID, RefundRefunded
		return refunds.MarkRefunded(ctx, o.RequestID, res.ID, now)
	}
	return nil
}

// RefundCommandKeyPrefix makes the processor's idempotency key of an admin refund
// from the admin's Idempotency-Key (scoped to the zone, like every key).
const RefundCommandKeyPrefix = "refund:"

// Command is the order.refund that puts the refunded tickets back on sale. Every
// publish of the same refund is the same command (request id, idempotency key,
// payload), so the writer applies it at most once.
func (r *OrderRefund) Command(now time.Time) *topics.Command {
	return &topics.Command{Version: topics.SchemaVersion, Type: topics.CmdRefundOrder, RequestID: r.RequestID,
		EventID: r.EventID, ZoneID: r.ZoneID, IdempotencyKey: RefundCommandKeyPrefix + r.Key, SubmittedAt: now.UTC(),
		Refund: &topics.Refund{OrderID: r.OrderID, HoldID: r.HoldID, Quantity: r.Quantity, CustomerID: r.CustomerID,
			RefundID: r.RefundID, Amount: r.Amount}}
}

// Refunds is the refund outbox. PgRefunds keeps it in Postgres; FakeRefunds in
// memory, for tests.
type Refunds interface {
	// Record writes r (status requested), unless a refund of the same order and
	// key is recorded already: then it returns that one, unchanged but for
	// UpdatedAt (now), so that the payments worker leaves it to this attempt.
	Record(ctx context.Context, r OrderRefund, now time.Time) (OrderRefund, error)
	// Find returns the refund of an order and key, or ErrRefundNotFound.
	Find(ctx context.Context, order uuid.UUID, key string) (OrderRefund, error)
	// MarkRefunded records the provider's refund of a requested (or failed) refund.
	MarkRefunded(ctx context.Context, requestID uuid.UUID, refundID string, now time.Time) error
	// MarkFailed records the provider's refusal of a requested refund.
	MarkFailed(ctx context.Context, requestID uuid.UUID, reason string, now time.Time) error
	// Claim returns up to n unfinished refunds (requested or refunded) last touched
	// before staleBefore and created after createdAfter, oldest first, and touches
	// them (UpdatedAt now, Attempts + 1) so that no other worker takes them within
	// the grace period.
	Claim(ctx context.Context, staleBefore, createdAfter time.Time, n int, now time.Time) ([]OrderRefund, error)
	// Unrestocked counts the refunds whose money went (or may have gone) back while
	// their tickets are not back on sale, and that no person has resolved:
	// requested and refunded ones created before staleBefore, and refused ones.
	Unrestocked(ctx context.Context, staleBefore time.Time) (map[RefundStatus]int, error)
}

// UnrestockedStatuses are the statuses Unrestocked counts, for metrics.
var UnrestockedStatuses = []RefundStatus{RefundRequested, RefundRefunded, RefundRestockRefused}

// ErrRefundNotFound: no refund is recorded for the order and key.
var ErrRefundNotFound = errors.New("payment: refund not recorded")

// PgRefunds is the outbox in Postgres.
type PgRefunds struct{ pool *pgxpool.Pool }

// NewPgRefunds returns the outbox in pool's database (migration 005).
func NewPgRefunds(pool *pgxpool.Pool) *PgRefunds { return &PgRefunds{pool: pool} }

const refundColumns = `request_id, order_id, idempotency_key, event_id, zone_id, hold_id, customer_id, intent_id,
    quantity, amount, status, refund_id, reason, attempts, created_at, updated_at`

// recordRefundSQL inserts a refund or, for an order and key recorded already,
// touches that row and returns it.
const recordRefundSQL = `
INSERT INTO order_refund_requests (request_id, order_id, idempotency_key, event_id, zone_id, hold_id, customer_id,
    intent_id, quantity, amount, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requested', $11, $11)
ON CONFLICT (order_id, idempotency_key) DO UPDATE SET updated_at = GREATEST(order_refund_requests.updated_at, excluded.updated_at)
RETURNING ` + refundColumns

const findRefundSQL = `SELECT ` + refundColumns + ` FROM order_refund_requests WHERE order_id = $1 AND idempotency_key = $2`

// markRefundedSQL records the provider's refund; a row the sink has finished
// meanwhile keeps its status.
const markRefundedSQL = `
UPDATE order_refund_requests SET status = 'refunded', refund_id = $2, reason = NULL, updated_at = $3
WHERE request_id = $1 AND status IN ('requested', 'failed')`

const markFailedSQL = `
UPDATE order_refund_requests SET status = 'failed', reason = $2, updated_at = $3
WHERE request_id = $1 AND status = 'requested'`

// claimRefundsSQL takes the oldest unfinished refunds no other worker is touching.
const claimRefundsSQL = `
UPDATE order_refund_requests SET updated_at = $4, attempts = attempts + 1
WHERE request_id IN (
    SELECT request_id FROM order_refund_requests
    WHERE status IN ('requested', 'refunded') AND updated_at < $1 AND created_at > $2
    ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING ` + refundColumns

const unrestockedSQL = `
SELECT status, count(*) FROM order_refund_requests
WHERE resolved_at IS NULL AND (status = 'refused' OR (status IN ('requested', 'refunded') AND created_at < $1))
GROUP BY status`

// Record implements Refunds.
func (p *PgRefunds) Record(ctx context.Context, r OrderRefund, now time.Time) (OrderRefund, error) {
	row := p.pool.QueryRow(ctx, recordRefundSQL, r.RequestID, r.OrderID, r.Key, r.EventID, r.ZoneID, r.HoldID,
		text(r.CustomerID), r.IntentID, r.Quantity, r.Amount, now)
	out, err := scanRefund(row)
	if err != nil {
		return OrderRefund{}, fmt.Errorf("payment: record refund of order %s: %w", r.OrderID, err)
	}
	return out, nil
}

// Find implements Refunds.
func (p *PgRefunds) Find(ctx context.Context, order uuid.UUID, key string) (OrderRefund, error) {
	out, err := scanRefund(p.pool.QueryRow(ctx, findRefundSQL, order, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return OrderRefund{}, ErrRefundNotFound
	}
	if err != nil {
		return OrderRefund{}, fmt.Errorf("payment: find refund of order %s: %w", order, err)
	}
	return out, nil
}

// MarkRefunded implements Refunds.
func (p *PgRefunds) MarkRefunded(ctx context.Context, requestID uuid.UUID, refundID string, now time.Time) error {
	if _, err := p.pool.Exec(ctx, markRefundedSQL, requestID, refundID, now); err != nil {
		return fmt.Errorf("payment: mark refund %s refunded: %w", requestID, err)
	}
	return nil
}

// MarkFailed implements Refunds.
func (p *PgRefunds) MarkFailed(ctx context.Context, requestID uuid.UUID, reason string, now time.Time) error {
	if _, err := p.pool.Exec(ctx, markFailedSQL, requestID, reason, now); err != nil {
		return fmt.Errorf("payment: mark refund %s failed: %w", requestID, err)
	}
	return nil
}

// Claim implements Refunds.
func (p *PgRefunds) Claim(ctx context.Context, staleBefore, createdAfter time.Time, n int, now time.Time) ([]OrderRefund, error) {
	rows, err := p.pool.Query(ctx, claimRefundsSQL, staleBefore, createdAfter, n, now)
	if err != nil {
		return nil, fmt.Errorf("payment: claim refunds: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrderRefund, error) { return scanRefund(r) })
	if err != nil {
		return nil, fmt.Errorf("payment: claim refunds: %w", err)
	}
	return out, nil
}

// Unrestocked implements Refunds.
func (p *PgRefunds) Unrestocked(ctx context.Context, staleBefore time.Time) (map[RefundStatus]int, error) {
	rows, err := p.pool.Query(ctx, unrestockedSQL, staleBefore)
	if err != nil {
		return nil, fmt.Errorf("payment: count unrestocked refunds: %w", err)
	}
	out := make(map[RefundStatus]int, len(UnrestockedStatuses))
	for _, s := range UnrestockedStatuses {
		out[s] = 0
	}
	var (
		status string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		out[RefundStatus(status)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("payment: count unrestocked refunds: %w", err)
	}
	return out, nil
}

func scanRefund(row pgx.Row) (OrderRefund, error) {
	var (
		r                        OrderRefund
		customer, refund, reason pgtype.Text
		status                   string
	)
	err := row.Scan(&r.RequestID, &r.OrderID, &r.Key, &r.EventID, &r.ZoneID, &r.HoldID, &customer, &r.IntentID,
		&r.Quantity, &r.Amount, &status, &refund, &reason, &r.Attempts, &r.CreatedAt, &r.UpdatedAt)
	r.CustomerID, r.RefundID, r.Reason, r.Status = customer.String, refund.String, reason.String, RefundStatus(status)
	return r, err
}

func text(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }
