package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Store is the ReadModel on Postgres, against the schema of
// migrations/001_init.up.sql. It only reads: the sink is the read model's only
// writer.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store reading through pool.
func NewStore(pool *pgxpool.Pool) *Store {
	if pool == nil {
		panic("api: NewStore with a nil pool")
	}
	return &Store{pool: pool}
}

var _ ReadModel = (*Store)(nil)

const zoneColumns = `id, event_id, name, capacity, available, held, sold,
       hold_ttl_seconds, hold_quantity_max, customer_limit, as_of`

// sqlZone reads one zone; POST /holds runs it on every submit (primary key).
const sqlZone = `SELECT ` + zoneColumns + ` FROM zones WHERE id = $1`

// sqlEvent and sqlEventZones read an event and its zones (index zones_event_id).
const sqlEvent = `SELECT id, name, created_at FROM events WHERE id = $1`

const sqlEventZones = `SELECT ` + zoneColumns + ` FROM zones WHERE event_id = $1 ORDER BY name, id`

const sqlHold = `
SELECT id, event_id, zone_id, quantity, customer_id, status, idempotency_key,
       created_at, expires_at, resolved_at, order_id
FROM holds WHERE id = $1`

const sqlOrder = `
SELECT id, hold_id, event_id, zone_id, quantity, customer_id, created_at
FROM orders WHERE id = $1`

// sqlRequestResults is the waiters' poll: one query for every request waited on,
// joined with the current state of the hold and order each names, so that a result
// can be answered without a second round trip.
const sqlRequestResults = `
SELECT r.id, r.type, r.event_id, r.zone_id, r.status, r.event_type,
       r.hold_id, r.order_id, r.reason, r.message, r.available, r.replayed, r.decided_at,
       h.id, h.event_id, h.zone_id, h.quantity, h.customer_id, h.status, h.idempotency_key,
       h.created_at, h.expires_at, h.resolved_at, h.order_id,
       o.id, o.hold_id, o.event_id, o.zone_id, o.quantity, o.customer_id, o.created_at
FROM requests r
LEFT JOIN holds h ON h.id = r.hold_id
LEFT JOIN orders o ON o.id = r.order_id
WHERE r.id = ANY($1::uuid[])`

// Zone implements ReadModel.
func (s *Store) Zone(ctx context.Context, id uuid.UUID) (Zone, error) {
	z, err := scanZone(s.pool.QueryRow(ctx, sqlZone, id))
	return z, notFoundOr(err, "zone")
}

// Event implements ReadModel.
func (s *Store) Event(ctx context.Context, id uuid.UUID) (Event, error) {
	var e Event
	err := s.pool.QueryRow(ctx, sqlEvent, id).Scan(&e.ID, &e.Name, &e.CreatedAt)
	if err != nil {
		return Event{}, notFoundOr(err, "event")
	}
	rows, err := s.pool.Query(ctx, sqlEventZones, id)
	if err != nil {
		return Event{}, fmt.Errorf("query zones of event: %w", err)
	}
	e.Zones, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Zone, error) { return scanZone(row) })
	if err != nil {
		return Event{}, fmt.Errorf("read zones of event: %w", err)
	}
	return e, nil
}

// Hold implements ReadModel.
func (s *Store) Hold(ctx context.Context, id uuid.UUID) (Hold, error) {
	var (
		h       Hold
		status  string
		cust    pgtype.Text
		key     pgtype.Text
		orderID pgtype.UUID
	)
	err := s.pool.QueryRow(ctx, sqlHold, id).Scan(&h.ID, &h.EventID, &h.ZoneID, &h.Quantity,
		&cust, &status, &key, &h.CreatedAt, &h.ExpiresAt, &h.ResolvedAt, &orderID)
	if err != nil {
		return Hold{}, notFoundOr(err, "hold")
	}
	h.Status, h.CustomerID, h.IdempotencyKey, h.OrderID = topics.HoldStatus(status), cust.String, key.String, orderID.Bytes
	return h, nil
}

// Order implements ReadModel.
func (s *Store) Order(ctx context.Context, id uuid.UUID) (Order, error) {
	var (
		o    Order
		cust pgtype.Text
	)
	err := s.pool.QueryRow(ctx, sqlOrder, id).Scan(&o.ID, &o.HoldID, &o.EventID, &o.ZoneID,
		&o.Quantity, &cust, &o.CreatedAt)
	if err != nil {
		return Order{}, notFoundOr(err, "order")
	}
	o.CustomerID = cust.String
	return o, nil
}

// RequestResults implements ReadModel.
func (s *Store) RequestResults(ctx context.Context, ids []uuid.UUID) ([]RequestResult, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	texts := make([]string, len(ids))
	for i, id := range ids {
		texts[i] = id.String()
	}
	rows, err := s.pool.Query(ctx, sqlRequestResults, texts)
	if err != nil {
		return nil, fmt.Errorf("query request results: %w", err)
	}
	results, err := pgx.CollectRows(rows, scanRequestResult)
	if err != nil {
		return nil, fmt.Errorf("read request results: %w", err)
	}
	return results, nil
}

func scanZone(row pgx.Row) (Zone, error) {
	var z Zone
	err := row.Scan(&z.ID, &z.EventID, &z.Name, &z.Capacity, &z.Available, &z.Held, &z.Sold,
		&z.HoldTTLSeconds, &z.HoldQuantityMax, &z.CustomerLimit, &z.AsOf)
	return z, err
}

// nullHold and nullOrder receive the LEFT JOINed columns, NULL when there is no row.
type nullHold struct {
	id, eventID, zoneID, orderID pgtype.UUID
	quantity                     pgtype.Int8
	customerID, status, key      pgtype.Text
	createdAt, expiresAt         pgtype.Timestamptz
	resolvedAt                   pgtype.Timestamptz
}

func (n *nullHold) hold() *Hold {
	if !n.id.Valid {
		return nil
	}
	h := &Hold{ID: n.id.Bytes, EventID: n.eventID.Bytes, ZoneID: n.zoneID.Bytes,
		Quantity: n.quantity.Int64, CustomerID: n.customerID.String,
		Status: topics.HoldStatus(n.status.String), IdempotencyKey: n.key.String,
		CreatedAt: n.createdAt.Time, ExpiresAt: n.expiresAt.Time, OrderID: n.orderID.Bytes}
	if n.resolvedAt.Valid {
		t := n.resolvedAt.Time
		h.ResolvedAt = &t
	}
	return h
}

type nullOrder struct {
	id, holdID, eventID, zoneID pgtype.UUID
	quantity                    pgtype.Int8
	customerID                  pgtype.Text
	createdAt                   pgtype.Timestamptz
}

func (n *nullOrder) order() *Order {
	if !n.id.Valid {
		return nil
	}
	return &Order{ID: n.id.Bytes, HoldID: n.holdID.Bytes, EventID: n.eventID.Bytes,
		ZoneID: n.zoneID.Bytes, Quantity: n.quantity.Int64, CustomerID: n.customerID.String,
		CreatedAt: n.createdAt.Time}
}

func scanRequestResult(row pgx.CollectableRow) (RequestResult, error) {
	var (
		r                   RequestResult
		typ, status, evType string
		holdID, orderID     pgtype.UUID
		reason, message     pgtype.Text
		available           pgtype.Int8
		h                   nullHold
		o                   nullOrder
	)
	err := row.Scan(&r.ID, &typ, &r.EventID, &r.ZoneID, &status, &evType,
		&holdID, &orderID, &reason, &message, &available, &r.Replayed, &r.DecidedAt,
		&h.id, &h.eventID, &h.zoneID, &h.quantity, &h.customerID, &h.status, &h.key,
		&h.createdAt, &h.expiresAt, &h.resolvedAt, &h.orderID,
		&o.id, &o.holdID, &o.eventID, &o.zoneID, &o.quantity, &o.customerID, &o.createdAt)
	if err != nil {
		return RequestResult{}, err
	}
	r.Type, r.Status, r.EventType = topics.CommandType(typ), RequestStatus(status), topics.EventType(evType)
	r.HoldID, r.OrderID = holdID.Bytes, orderID.Bytes
	r.Reason, r.Message = topics.Reason(reason.String), message.String
	if available.Valid {
		n := available.Int64
		r.Available = &n
	}
	r.Hold, r.Order = h.hold(), o.order()
	return r, nil
}

// notFoundOr turns pgx.ErrNoRows into ErrNotFound and wraps any other error.
func notFoundOr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	default:
		return fmt.Errorf("query %s: %w", what, err)
	}
}
