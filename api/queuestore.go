package api

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// QueueReadModel answers the waiting room's reads from the read model (tables
// waiting_rooms and queue_entries). A row that does not exist is ErrNotFound.
// *Store implements it on Postgres.
type QueueReadModel interface {
	// Room returns an event's waiting room.
	Room(ctx context.Context, eventID uuid.UUID) (Room, error)
	// QueueViews returns the entries among ids with their room, in any order, in
	// one round trip; ids without an entry are missing, which is not an error.
	QueueViews(ctx context.Context, ids []uuid.UUID) ([]QueueView, error)
	// CustomerEntry returns the newest entry of a customer in an event's room.
	CustomerEntry(ctx context.Context, eventID uuid.UUID, customerID string) (QueueView, error)
}

// Room is a row of waiting_rooms.
type Room struct {
	EventID         uuid.UUID
	Enabled         bool
	OpensAt         time.Time
	StartsAt        time.Time
	RatePerSecond   float64 // configured; 0 = automatic
	RateMax         float64
	ShopSeconds     int64
	Allowance       int64
	CustomerLimit   int64
	ZoneIDs         []uuid.UUID
	SoldOut         bool
	AdmittedThrough int64
	Waiting         int64
	CurrentRate     float64 // the rate admission runs at now
	Seed            string
	PreQueueSize    int64
	StartedAt       *time.Time
	UpdatedAt       time.Time
}

// QueueEntry is a row of queue_entries. Position is 0 while the buyer is in the
// pre-queue; AdmittedAt, ExpiresAt and Allowance are set once admitted.
type QueueEntry struct {
	QueueID    uuid.UUID
	EventID    uuid.UUID
	CustomerID string
	Position   int64
	PreQueue   bool
	Status     string // waiting, admitted or admission_expired
	JoinedAt   time.Time
	AdmittedAt *time.Time
	ExpiresAt  *time.Time
	Allowance  int64
}

// QueueView is an entry with its room.
type QueueView struct {
	Entry QueueEntry
	Room  Room
}

var _ QueueReadModel = (*Store)(nil)

const roomColumns = `w.event_id, w.enabled, w.opens_at, w.starts_at, w.rate_per_second, w.rate_max,
       w.shop_seconds, w.allowance, w.customer_limit, w.zone_ids, w.status = 'sold_out',
       w.admitted_through, w.waiting, w.current_rate, w.seed, w.pre_queue_size, w.started_at,
       w.updated_at`

const entryColumns = `e.queue_id, e.event_id, e.customer_id, e.position, e.pre_queue, e.status,
       e.joined_at, e.admitted_at, e.expires_at, e.allowance`

// sqlRoom reads one waiting room (primary key).
const sqlRoom = `SELECT ` + roomColumns + ` FROM waiting_rooms w WHERE w.event_id = $1`

// sqlQueueViews is the queue watchers' poll: every entry watched, with its room,
// in one query (primary keys).
const sqlQueueViews = `SELECT ` + entryColumns + `, ` + roomColumns + `
FROM queue_entries e JOIN waiting_rooms w ON w.event_id = e.event_id
WHERE e.queue_id = ANY($1::uuid[])`

// sqlCustomerEntry finds a customer's newest entry in a room (index
// queue_entries_customer).
const sqlCustomerEntry = `SELECT ` + entryColumns + `, ` + roomColumns + `
FROM queue_entries e JOIN waiting_rooms w ON w.event_id = e.event_id
WHERE e.event_id = $1 AND e.customer_id = $2
ORDER BY e.joined_at DESC LIMIT 1`

// Room implements QueueReadModel.
func (s *Store) Room(ctx context.Context, eventID uuid.UUID) (Room, error) {
	var r roomRow
	err := s.pool.QueryRow(ctx, sqlRoom, eventID).Scan(r.dest()...)
	return r.room(), notFoundOr(err, "waiting room")
}

// QueueViews implements QueueReadModel.
func (s *Store) QueueViews(ctx context.Context, ids []uuid.UUID) ([]QueueView, error) {
	rows, _ := s.pool.Query(ctx, sqlQueueViews, ids)
	var out []QueueView
	var e entryRow
	var r roomRow
	_, err := pgx.ForEachRow(rows, append(e.dest(), r.dest()...), func() error {
		out = append(out, QueueView{Entry: e.entry(), Room: r.room()})
		return nil
	})
	return out, notFoundOr(err, "queue entries")
}

// CustomerEntry implements QueueReadModel.
func (s *Store) CustomerEntry(ctx context.Context, eventID uuid.UUID, customerID string) (QueueView, error) {
	var e entryRow
	var r roomRow
	err := s.pool.QueryRow(ctx, sqlCustomerEntry, eventID, customerID).Scan(append(e.dest(), r.dest()...)...)
	if err != nil {
		return QueueView{}, notFoundOr(err, "queue entry")
	}
	return QueueView{Entry: e.entry(), Room: r.room()}, nil
}

// roomRow receives the columns of roomColumns.
type roomRow struct {
	r            Room
	seed         pgtype.Text
	preQueueSize pgtype.Int8
	startedAt    pgtype.Timestamptz
}

func (x *roomRow) dest() []any {
	r := &x.r
	return []any{&r.EventID, &r.Enabled, &r.OpensAt, &r.StartsAt, &r.RatePerSecond, &r.RateMax,
		&r.ShopSeconds, &r.Allowance, &r.CustomerLimit, &r.ZoneIDs, &r.SoldOut,
		&r.AdmittedThrough, &r.Waiting, &r.CurrentRate, &x.seed, &x.preQueueSize, &x.startedAt,
		&r.UpdatedAt}
}

func (x *roomRow) room() Room {
	r := x.r
	r.Seed, r.PreQueueSize = x.seed.String, x.preQueueSize.Int64
	if x.startedAt.Valid {
		t := x.startedAt.Time
		r.StartedAt = &t
	}
	return r
}

// entryRow receives the columns of entryColumns.
type entryRow struct {
	e                   QueueEntry
	position, allowance pgtype.Int8
	admitted, expires   pgtype.Timestamptz
}

func (x *entryRow) dest() []any {
	e := &x.e
	return []any{&e.QueueID, &e.EventID, &e.CustomerID, &x.position, &e.PreQueue, &e.Status,
		&e.JoinedAt, &x.admitted, &x.expires, &x.allowance}
}

func (x *entryRow) entry() QueueEntry {
	e := x.e
	e.Position, e.Allowance = x.position.Int64, x.allowance.Int64
	if x.admitted.Valid {
		t := x.admitted.Time
		e.AdmittedAt = &t
	}
	if x.expires.Valid {
		t := x.expires.Time
		e.ExpiresAt = &t
	}
	return e
}
