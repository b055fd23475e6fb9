package api

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

// Store is the ReadModel on Postgres, against the schema of migrations/. It only
// reads: the sink is the read model's only writer.
type Store struct {
	pool        *pgxpool.Pool
	eventsTopic string
}

// NewStore returns a Store reading through pool; eventsTopic names the events
// topic whose progress the sink records in sink_offsets.
func NewStore(pool *pgxpool.Pool, eventsTopic string) *Store {
	if pool == nil || eventsTopic == "" {
		panic("api: NewStore needs a pool and the events topic")
	}
	return &Store{pool: pool, eventsTopic: eventsTopic}
}

var _ ReadModel = (*Store)(nil)

const zoneColumns = `id, event_id, name, capacity, available, held, sold,
       hold_ttl_seconds, hold_quantity_max, customer_limit, as_of, waiting_room, price_minor, currency`

// sqlZone reads one zone (primary key); see zoneCache.
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

// resultColumns are a request (alias r) with the current state of the hold (h)
// and order (o) it names; see scanResult.
const resultColumns = `
       r.id, r.type, r.event_id, r.zone_id, r.status, r.event_type,
       r.hold_id, r.order_id, r.reason, r.message, r.available, r.replayed, r.decided_at,
       h.id, h.event_id, h.zone_id, h.quantity, h.customer_id, h.status, h.idempotency_key,
       h.created_at, h.expires_at, h.resolved_at, h.order_id,
       o.id, o.hold_id, o.event_id, o.zone_id, o.quantity, o.customer_id, o.created_at`

// sqlRequestResults is the waiters' poll: one query for every request waited on,
// joined with the current state of the hold and order each names, so that a result
// can be answered without a second round trip.
const sqlRequestResults = `SELECT ` + resultColumns + `
FROM requests r
LEFT JOIN holds h ON h.id = r.hold_id
LEFT JOIN orders o ON o.id = r.order_id
WHERE r.id = ANY($1::uuid[])`

// keyDecisionJoin joins the decision that answers a retry of the idempotency key
// and zone named by its two expressions, decided after $3 (see ReadModel.KeyDecisions),
// as r, h and o; index requests_zone_idempotency_key.
const keyDecisionJoin = `
LEFT JOIN LATERAL (
    SELECT * FROM requests
    WHERE zone_id = %s AND idempotency_key = %s AND decided_at > $3
      AND NOT replayed AND type <> ''
      AND (reason IS NULL OR reason NOT IN ('idempotency_conflict', 'invalid_command', 'partition_full'))
    ORDER BY decided_at LIMIT 1) r ON true
LEFT JOIN holds h ON h.id = r.hold_id
LEFT JOIN orders o ON o.id = r.order_id`

// sqlKeyDecisions is the idempotency keys' shared lookup (see keyLookups): for
// each (zone, key) of the arrays $1 and $2, numbered from 1 by k.i, the decision
// that answers a retry of it.
var sqlKeyDecisions = `
SELECT k.i,` + resultColumns + `
FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS k(zone_id, key, i)` +
	fmt.Sprintf(keyDecisionJoin, "k.zone_id", "k.key") + `
WHERE r.id IS NOT NULL`

// sqlHoldAndKey is a confirm's or release's one query: the hold and the key's
// decision in the hold's zone.
var sqlHoldAndKey = `
SELECT hh.id, hh.event_id, hh.zone_id, hh.quantity, hh.customer_id, hh.status, hh.idempotency_key,
       hh.created_at, hh.expires_at, hh.resolved_at, hh.order_id,` + resultColumns + `
FROM holds hh` + fmt.Sprintf(keyDecisionJoin, "hh.zone_id", "$2") + `
WHERE hh.id = $1`

// sqlDecidedThrough reads how far the sink has written a partition.
const sqlDecidedThrough = `
SELECT decided_through FROM sink_offsets WHERE topic = $1 AND partition = $2`

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
	var h holdRow
	if err := s.pool.QueryRow(ctx, sqlHold, id).Scan(h.dest()...); err != nil {
		return Hold{}, notFoundOr(err, "hold")
	}
	return h.hold(), nil
}

// KeyDecisions implements ReadModel.
func (s *Store) KeyDecisions(ctx context.Context, keys []ZoneKey, since time.Time) ([]*RequestResult, error) {
	zones := make([]uuid.UUID, len(keys))
	names := make([]string, len(keys))
	for i, k := range keys {
		zones[i], names[i] = k.Zone, k.Key
	}
	rows, err := s.pool.Query(ctx, sqlKeyDecisions, zones, names, since)
	if err != nil {
		return nil, fmt.Errorf("query idempotency keys: %w", err)
	}
	defer rows.Close()
	out := make([]*RequestResult, len(keys))
	for rows.Next() {
		var (
			i int64
			r resultRow
		)
		if err := rows.Scan(append([]any{&i}, r.dest()...)...); err != nil {
			return nil, fmt.Errorf("read idempotency keys: %w", err)
		}
		if i < 1 || i > int64(len(keys)) {
			return nil, fmt.Errorf("read idempotency keys: row %d of %d keys", i, len(keys))
		}
		out[i-1] = r.resultOrNil()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read idempotency keys: %w", err)
	}
	return out, nil
}

// HoldAndKey implements ReadModel.
func (s *Store) HoldAndKey(ctx context.Context, hold uuid.UUID, key string, since time.Time) (Hold, *RequestResult, error) {
	var (
		h holdRow
		r resultRow
	)
	if err := s.pool.QueryRow(ctx, sqlHoldAndKey, hold, key, since).Scan(append(h.dest(), r.dest()...)...); err != nil {
		return Hold{}, nil, notFoundOr(err, "hold")
	}
	return h.hold(), r.resultOrNil(), nil
}

// DecidedThrough implements ReadModel.
func (s *Store) DecidedThrough(ctx context.Context, partition int32) (time.Time, error) {
	var t pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, sqlDecidedThrough, s.eventsTopic, partition).Scan(&t)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("query decided_through: %w", err)
	}
	return t.Time, nil
}

// holdRow receives a row of holds.
type holdRow struct {
	h       Hold
	status  string
	cust    pgtype.Text
	key     pgtype.Text
	orderID pgtype.UUID
}

func (r *holdRow) dest() []any {
	h := &r.h
	return []any{&h.ID, &h.EventID, &h.ZoneID, &h.Quantity, &r.cust, &r.status, &r.key,
		&h.CreatedAt, &h.ExpiresAt, &h.ResolvedAt, &r.orderID}
}

func (r *holdRow) hold() Hold {
	h := r.h
	h.Status, h.CustomerID, h.IdempotencyKey, h.OrderID = topics.HoldStatus(r.status), r.cust.String, r.key.String, r.orderID.Bytes
	return h
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
	var currency pgtype.Text
	err := row.Scan(&z.ID, &z.EventID, &z.Name, &z.Capacity, &z.Available, &z.Held, &z.Sold,
		&z.HoldTTLSeconds, &z.HoldQuantityMax, &z.CustomerLimit, &z.AsOf, &z.WaitingRoom, &z.PriceMinor, &currency)
	z.Currency = currency.String
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

// resultRow receives resultColumns; every column may be NULL (a LEFT JOIN with
// no request).
type resultRow struct {
	id, eventID, zoneID, holdID, orderID pgtype.UUID
	typ, status, evType                  pgtype.Text
	reason, message                      pgtype.Text
	available                            pgtype.Int8
	replayed                             pgtype.Bool
	decidedAt                            pgtype.Timestamptz
	h                                    nullHold
	o                                    nullOrder
}

func (r *resultRow) dest() []any {
	h, o := &r.h, &r.o
	return []any{&r.id, &r.typ, &r.eventID, &r.zoneID, &r.status, &r.evType,
		&r.holdID, &r.orderID, &r.reason, &r.message, &r.available, &r.replayed, &r.decidedAt,
		&h.id, &h.eventID, &h.zoneID, &h.quantity, &h.customerID, &h.status, &h.key,
		&h.createdAt, &h.expiresAt, &h.resolvedAt, &h.orderID,
		&o.id, &o.holdID, &o.eventID, &o.zoneID, &o.quantity, &o.customerID, &o.createdAt}
}

// resultOrNil is the request, or nil when the row had none.
func (r *resultRow) resultOrNil() *RequestResult {
	if !r.id.Valid {
		return nil
	}
	res := RequestResult{ID: r.id.Bytes, Type: topics.CommandType(r.typ.String), EventID: r.eventID.Bytes,
		ZoneID: r.zoneID.Bytes, Status: RequestStatus(r.status.String), EventType: topics.OutcomeType(r.evType.String),
		HoldID: r.holdID.Bytes, OrderID: r.orderID.Bytes, Reason: topics.Reason(r.reason.String),
		Message: r.message.String, Replayed: r.replayed.Bool, DecidedAt: r.decidedAt.Time,
		Hold: r.h.hold(), Order: r.o.order()}
	if r.available.Valid {
		n := r.available.Int64
		res.Available = &n
	}
	return &res
}

func scanRequestResult(row pgx.CollectableRow) (RequestResult, error) {
	var r resultRow
	if err := row.Scan(r.dest()...); err != nil {
		return RequestResult{}, err
	}
	return *r.resultOrNil(), nil
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
