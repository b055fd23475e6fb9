package classic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// hold is a row of classic.holds.
type hold struct {
	ID, RequestID, EventID, ZoneID uuid.UUID
	Quantity                       int64
	CustomerID                     string
	Status                         string
	CreatedAt, ExpiresAt           time.Time
}

// zone is a row of classic.zones.
type zone struct {
	ID, EventID                     uuid.UUID
	Name                            string
	Capacity, Available, Held, Sold int64
	HoldTTLSeconds, HoldQuantityMax int64
}

const insertEventSQL = `INSERT INTO classic.events (id, name, created_at) VALUES ($1, $2, now())`

const insertZoneSQL = `
INSERT INTO classic.zones (id, event_id, name, capacity, available, held, sold, hold_ttl_seconds, hold_quantity_max)
VALUES ($1, $2, $3, $4, $4, 0, 0, $5, $6)`

// createEvent creates an event and its zones in one transaction.
func createEvent(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, name string, zones []newZone) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertEventSQL, id, name); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		for _, z := range zones {
			if _, err := tx.Exec(ctx, insertZoneSQL, z.ID, id, z.Name, z.Capacity, z.HoldTTLSeconds, z.HoldQuantityMax); err != nil {
				return fmt.Errorf("insert zone %q: %w", z.Name, err)
			}
		}
		return nil
	})
}

// insertHoldSQL records the hold, with the zone's TTL, if the zone belongs to the
// event, unless its key is taken in the zone. A transaction that inserted the same
// key and is still open is waited for: nothing is inserted if it commits, so of
// concurrent requests with one key exactly one takes tickets.
const insertHoldSQL = `
INSERT INTO classic.holds (id, request_id, event_id, zone_id, idempotency_key, quantity, customer_id, status, created_at, expires_at)
SELECT $1, $2, z.event_id, z.id, $5, $6, $7, 'active', now(), now() + make_interval(secs => z.hold_ttl_seconds)
FROM classic.zones z WHERE z.id = $4 AND z.event_id = $3
ON CONFLICT (zone_id, idempotency_key) DO NOTHING
RETURNING created_at, expires_at`

// takeSQL takes the tickets of a hold from its zone, only if the zone has them
// available and allows that many per hold. The row lock it takes serializes every
// hold of the zone until the transaction ends; it comes last in the transaction so
// that the lock is held for the commit only.
const takeSQL = `
UPDATE classic.zones SET available = available - $2, held = held + $2
WHERE id = $1 AND available >= $2 AND (hold_quantity_max = 0 OR hold_quantity_max >= $2)`

const holdColumns = `id, request_id, event_id, zone_id, quantity, customer_id, status, created_at, expires_at`

const holdByKeySQL = `SELECT ` + holdColumns + ` FROM classic.holds WHERE zone_id = $1 AND idempotency_key = $2`

const holdByIDSQL = `SELECT ` + holdColumns + ` FROM classic.holds WHERE id = $1`

const zoneColumns = `id, event_id, name, capacity, available, held, sold, hold_ttl_seconds, hold_quantity_max`

const zoneSQL = `SELECT ` + zoneColumns + ` FROM classic.zones WHERE id = $1`

const eventZonesSQL = `SELECT ` + zoneColumns + ` FROM classic.zones WHERE event_id = $1 ORDER BY name`

const eventExistsSQL = `SELECT EXISTS (SELECT 1 FROM classic.events WHERE id = $1)`

// placed is the outcome of placeHold: the hold, new or the first of its key.
type placed struct {
	Hold     hold
	Replayed bool
}

// placeHold records the hold and takes its tickets in one transaction. When the
// key is already taken in the zone, the first hold is the answer (or
// idempotency_conflict, when it differs). A failure of the database is returned as
// is; every decision is an *Error.
func placeHold(ctx context.Context, pool *pgxpool.Pool, r holdRequest) (placed, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return placed{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	h := hold{ID: uuid.Must(uuid.NewV7()), RequestID: uuid.Must(uuid.NewV7()), EventID: r.EventID,
		ZoneID: r.ZoneID, Quantity: r.Quantity, CustomerID: r.CustomerID, Status: "active"}
	err = tx.QueryRow(ctx, insertHoldSQL, h.ID, h.RequestID, h.EventID, h.ZoneID, r.IdempotencyKey,
		h.Quantity, h.CustomerID).Scan(&h.CreatedAt, &h.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = tx.Rollback(ctx)
		return notInserted(ctx, pool, r)
	}
	if err != nil {
		return placed{}, err
	}
	tag, err := tx.Exec(ctx, takeSQL, r.ZoneID, r.Quantity)
	if err != nil {
		return placed{}, err
	}
	if tag.RowsAffected() == 0 {
		_ = tx.Rollback(ctx)
		return placed{}, notTaken(ctx, pool, r)
	}
	if err := tx.Commit(ctx); err != nil {
		return placed{}, err
	}
	return placed{Hold: h}, nil
}

// notInserted decides a hold that was not inserted: its key has a hold in the zone
// (a retry), or the zone is not one of the event's.
func notInserted(ctx context.Context, pool *pgxpool.Pool, r holdRequest) (placed, error) {
	p, err := replay(ctx, pool, r)
	if errors.Is(err, errNoHold) {
		return placed{}, zoneMissing(ctx, pool, r.EventID)
	}
	return p, err
}

// notTaken decides a hold whose tickets could not be taken: a quantity over the
// zone's limit, or not enough tickets.
func notTaken(ctx context.Context, pool *pgxpool.Pool, r holdRequest) error {
	z, err := readZone(ctx, pool, r.ZoneID)
	if err != nil {
		return err
	}
	if z.HoldQuantityMax > 0 && r.Quantity > z.HoldQuantityMax {
		return quantityOverLimit(z.HoldQuantityMax)
	}
	return insufficientCapacity(z.Available)
}

// errNoHold is what replay returns when the key has no hold in the zone.
var errNoHold = errors.New("no hold with this key")

// replay answers a retry with the first hold of its key, or idempotency_conflict
// when the retry asks for something else, as the pipeline's processor does.
func replay(ctx context.Context, pool *pgxpool.Pool, r holdRequest) (placed, error) {
	h, err := scanHold(pool.QueryRow(ctx, holdByKeySQL, r.ZoneID, r.IdempotencyKey))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && h.EventID != r.EventID) {
		// A key of another event's zone: the zone is not the event's.
		return placed{}, errNoHold
	}
	if err != nil {
		return placed{}, err
	}
	if h.Quantity != r.Quantity || h.CustomerID != r.CustomerID {
		return placed{}, errIdempotencyConflict
	}
	return placed{Hold: h, Replayed: true}, nil
}

// zoneMissing tells an unknown event from an unknown zone of a known event.
func zoneMissing(ctx context.Context, pool *pgxpool.Pool, eventID uuid.UUID) error {
	var exists bool
	if err := pool.QueryRow(ctx, eventExistsSQL, eventID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return errEventNotFound
	}
	return errZoneNotFound
}

func readHold(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID) (hold, error) {
	return scanHold(pool.QueryRow(ctx, holdByIDSQL, id))
}

func scanHold(row pgx.Row) (hold, error) {
	var h hold
	err := row.Scan(&h.ID, &h.RequestID, &h.EventID, &h.ZoneID, &h.Quantity, &h.CustomerID, &h.Status, &h.CreatedAt, &h.ExpiresAt)
	return h, err
}

func readZone(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID) (zone, error) {
	return scanZone(pool.QueryRow(ctx, zoneSQL, id))
}

func scanZone(row pgx.Row) (zone, error) {
	var z zone
	err := row.Scan(&z.ID, &z.EventID, &z.Name, &z.Capacity, &z.Available, &z.Held, &z.Sold, &z.HoldTTLSeconds, &z.HoldQuantityMax)
	return z, err
}

// eventZones reads the zones of an event; an event without zones does not exist
// (POST /events creates at least one with it).
func eventZones(ctx context.Context, pool *pgxpool.Pool, eventID uuid.UUID) ([]zone, error) {
	rows, err := pool.Query(ctx, eventZonesSQL, eventID)
	if err != nil {
		return nil, err
	}
	zones, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (zone, error) { return scanZone(row) })
	if err != nil {
		return nil, err
	}
	if len(zones) == 0 {
		return nil, pgx.ErrNoRows
	}
	return zones, nil
}
