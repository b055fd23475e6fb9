package sink

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// The waiting room's outcomes, which the queue writer emits keyed by event id (zone
// id and inventory zero), collapsed into the rows of waiting_rooms and
// queue_entries. Every outcome of one event is on one partition, so a batch sees
// them in log order; a row only moves forward.

func isQueue(t topics.OutcomeType) bool { return topics.IsQueueOutcome(t) }

// checkQueue rejects a queue outcome the read model cannot hold (its dead-letter
// reason).
func checkQueue(e *topics.Outcome) error {
	if e.EventID == uuid.Nil {
		return fmt.Errorf("invalid event: %s needs event_id", e.Type)
	}
	switch e.Type {
	case topics.OutQueueConfigured:
		if e.Queue == nil {
			return errors.New("invalid event: queue.configured needs queue")
		}
	case topics.OutQueueJoined, topics.OutQueuePositioned, topics.OutQueueAdmissionExpired:
		if e.Entry == nil || e.Entry.QueueID == uuid.Nil {
			return fmt.Errorf("invalid event: %s needs an entry with queue_id", e.Type)
		}
	case topics.OutQueueAdmitted:
		if e.Entry == nil || e.Entry.QueueID == uuid.Nil || e.Admission == nil {
			return errors.New("invalid event: queue.admitted needs an entry and an admission")
		}
	case topics.OutQueueOpened:
		if e.Opened == nil {
			return errors.New("invalid event: queue.opened needs opened")
		}
	}
	if e.Entry != nil {
		return storable("entry.customer_id", e.Entry.CustomerID)
	}
	if e.Opened != nil {
		return storable("opened.seed", e.Opened.Seed)
	}
	return nil
}

// Statuses of a queue entry, in the order an entry goes through them.
const (
	entryWaiting          = "waiting"
	entryAdmitted         = "admitted"
	entryAdmissionExpired = "admission_expired"
)

var entryRank = map[string]int{entryWaiting: 0, entryAdmitted: 1, entryAdmissionExpired: 2}

// roomState is one waiting room's collapsed state in a batch.
type roomState struct {
	config   *topics.QueueConfig
	progress *topics.QueueProgress
	opened   *topics.QueueOpened
	status   string    // "" when the batch did not change it
	soldOut  time.Time // when it sold out, if it did in the batch
	updated  time.Time
}

// entryState is one queue entry's collapsed state in a batch.
type entryState struct {
	eventID   uuid.UUID
	entry     topics.QueueEntry
	positions bool // a position is known (out of the pre-queue)
	status    string
	admission *topics.QueueAdmission
}

// queuePlan is the queue share of a batch.
type queuePlan struct {
	rooms     map[uuid.UUID]*roomState
	roomOrder []uuid.UUID
	entries   map[uuid.UUID]*entryState
	entOrder  []uuid.UUID
	// waits are the joined-to-admitted times of the admissions in the batch, for
	// ticket_sink_queue_wait_seconds.
	waits []time.Duration
}

func (q *queuePlan) room(id uuid.UUID) *roomState {
	if q.rooms == nil {
		q.rooms = make(map[uuid.UUID]*roomState)
	}
	r := q.rooms[id]
	if r == nil {
		r = &roomState{}
		q.rooms[id] = r
		q.roomOrder = append(q.roomOrder, id)
	}
	return r
}

// add folds one queue outcome into the plan.
func (q *queuePlan) add(e *topics.Outcome) {
	r := q.room(e.EventID)
	if e.Time.After(r.updated) {
		r.updated = e.Time
	}
	if e.Progress != nil {
		p := *e.Progress
		r.progress = &p
	}
	switch e.Type {
	case topics.OutQueueConfigured:
		c := *e.Queue
		r.config = &c
	case topics.OutQueueOpened:
		o := *e.Opened
		r.opened = &o
	case topics.OutQueueSoldOut:
		r.status, r.soldOut = "sold_out", e.Time
	case topics.OutQueueResumed:
		r.status = "open"
	}
	if e.Entry != nil {
		q.addEntry(e)
	}
}

func (q *queuePlan) addEntry(e *topics.Outcome) {
	if q.entries == nil {
		q.entries = make(map[uuid.UUID]*entryState)
	}
	id := e.Entry.QueueID
	s := q.entries[id]
	if s == nil {
		s = &entryState{eventID: e.EventID, entry: *e.Entry, status: entryWaiting}
		q.entries[id] = s
		q.entOrder = append(q.entOrder, id)
	}
	if e.Entry.Position > 0 {
		s.entry.Position, s.positions = e.Entry.Position, true
	}
	status := entryWaiting
	switch e.Type {
	case topics.OutQueueAdmitted:
		status = entryAdmitted
		a := *e.Admission
		s.admission = &a
		q.waits = append(q.waits, a.AdmittedAt.Sub(e.Entry.JoinedAt))
	case topics.OutQueueAdmissionExpired:
		status = entryAdmissionExpired
	}
	if entryRank[status] > entryRank[s.status] {
		s.status = status
	}
}

// queue writes the queue share of the batch: configured rooms first, then the
// progress of every room the batch touched, then the entries.
func (q *queuePlan) queue(b *pgx.Batch) {
	var cfg roomConfigRows
	var prog roomProgressRows
	for _, id := range q.roomOrder {
		r := q.rooms[id]
		if r.config != nil {
			cfg.add(id, r)
		}
		prog.add(id, r)
	}
	if len(cfg.eventID) > 0 {
		b.Queue(upsertRoomConfigSQL, cfg.eventID, cfg.enabled, cfg.opensAt, cfg.startsAt, cfg.rate, cfg.rateMax,
			cfg.shopSeconds, cfg.allowance, cfg.customerLimit, cfg.zones, cfg.updated)
	}
	if len(prog.eventID) > 0 {
		b.Queue(updateRoomProgressSQL, prog.eventID, prog.admittedThrough, prog.waiting, prog.rate, prog.status,
			prog.soldOutAt, prog.seed, prog.preQueueSize, prog.startedAt, prog.updated)
	}
	var ent entryRows
	for _, id := range q.entOrder {
		ent.add(id, q.entries[id])
	}
	if len(ent.queueID) > 0 {
		b.Queue(upsertQueueEntriesSQL, ent.queueID, ent.eventID, ent.customer, ent.position, ent.preQueue,
			ent.status, ent.joined, ent.admitted, ent.expires, ent.allowance)
	}
}

type roomConfigRows struct {
	eventID                               [][16]byte
	enabled                               []bool
	opensAt, startsAt, updated            []time.Time
	rate, rateMax                         []float64
	shopSeconds, allowance, customerLimit []int64
	zones                                 []string // uuid[] literals: unnest cannot take a 2-D array of rows
}

func (r *roomConfigRows) add(id uuid.UUID, s *roomState) {
	c := s.config
	r.eventID = append(r.eventID, [16]byte(id))
	r.enabled = append(r.enabled, c.Enabled)
	r.opensAt = append(r.opensAt, c.OpensAt)
	r.startsAt = append(r.startsAt, c.StartsAt)
	r.rate = append(r.rate, c.RatePerSecond)
	r.rateMax = append(r.rateMax, c.RateMax)
	r.shopSeconds = append(r.shopSeconds, c.ShopSeconds)
	r.allowance = append(r.allowance, c.Allowance)
	r.customerLimit = append(r.customerLimit, c.CustomerLimit)
	r.zones = append(r.zones, uuidArrayLiteral(c.Zones))
	r.updated = append(r.updated, s.updated)
}

// uuidArrayLiteral is the Postgres array literal of ids ({a,b}).
func uuidArrayLiteral(ids []uuid.UUID) string {
	out := []byte{'{'}
	for i, id := range ids {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, id.String()...)
	}
	return string(append(out, '}'))
}

type roomProgressRows struct {
	eventID         [][16]byte
	admittedThrough []pgtype.Int8
	waiting         []pgtype.Int8
	rate            []pgtype.Float8
	status          []pgtype.Text
	soldOutAt       []pgtype.Timestamptz
	seed            []pgtype.Text
	preQueueSize    []pgtype.Int8
	startedAt       []pgtype.Timestamptz
	updated         []time.Time
}

func (r *roomProgressRows) add(id uuid.UUID, s *roomState) {
	var through, waiting, preSize pgtype.Int8
	var rate pgtype.Float8
	if p := s.progress; p != nil {
		through = pgtype.Int8{Int64: p.AdmittedThrough, Valid: true}
		waiting = pgtype.Int8{Int64: p.Waiting, Valid: true}
		rate = pgtype.Float8{Float64: p.RatePerSecond, Valid: true}
	}
	var seed pgtype.Text
	var started pgtype.Timestamptz
	if o := s.opened; o != nil {
		seed = pgtype.Text{String: o.Seed, Valid: true}
		preSize = pgtype.Int8{Int64: o.PreQueueSize, Valid: true}
		started = pgtype.Timestamptz{Time: o.StartedAt, Valid: true}
	}
	r.eventID = append(r.eventID, [16]byte(id))
	r.admittedThrough = append(r.admittedThrough, through)
	r.waiting = append(r.waiting, waiting)
	r.rate = append(r.rate, rate)
	r.status = append(r.status, text(s.status))
	r.soldOutAt = append(r.soldOutAt, pgtype.Timestamptz{Time: s.soldOut, Valid: !s.soldOut.IsZero()})
	r.seed = append(r.seed, seed)
	r.preQueueSize = append(r.preQueueSize, preSize)
	r.startedAt = append(r.startedAt, started)
	r.updated = append(r.updated, s.updated)
}

type entryRows struct {
	queueID, eventID  [][16]byte
	customer          []string
	position          []pgtype.Int8
	preQueue          []bool
	status            []string
	joined            []time.Time
	admitted, expires []pgtype.Timestamptz
	allowance         []pgtype.Int8
}

func (r *entryRows) add(id uuid.UUID, s *entryState) {
	var admitted, expires pgtype.Timestamptz
	var allowance pgtype.Int8
	if a := s.admission; a != nil {
		admitted = pgtype.Timestamptz{Time: a.AdmittedAt, Valid: true}
		expires = pgtype.Timestamptz{Time: a.ExpiresAt, Valid: true}
		allowance = pgtype.Int8{Int64: a.Allowance, Valid: true}
	}
	r.queueID = append(r.queueID, [16]byte(id))
	r.eventID = append(r.eventID, [16]byte(s.eventID))
	r.customer = append(r.customer, s.entry.CustomerID)
	r.position = append(r.position, pgtype.Int8{Int64: s.entry.Position, Valid: s.positions})
	r.preQueue = append(r.preQueue, s.entry.PreQueue)
	r.status = append(r.status, s.status)
	r.joined = append(r.joined, s.entry.JoinedAt)
	r.admitted = append(r.admitted, admitted)
	r.expires = append(r.expires, expires)
	r.allowance = append(r.allowance, allowance)
}

// roomsTrackedMax bounds the rooms whose queue length the sink remembers for
// ticket_sink_queue_waiting; past it the oldest half is forgotten.
const roomsTrackedMax = 10_000

// queueLengths is each room's number of buyers waiting, as the newest progress
// applied says; its sum is ticket_sink_queue_waiting.
type queueLengths struct {
	mu      sync.Mutex
	waiting map[uuid.UUID]int64
	order   []uuid.UUID
	total   int64
}

// observe records the rooms of a committed plan and returns the new total.
func (l *queueLengths) observe(q *queuePlan) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting == nil {
		l.waiting = make(map[uuid.UUID]int64)
	}
	for _, id := range q.roomOrder {
		r := q.rooms[id]
		if r.progress == nil {
			continue
		}
		old, ok := l.waiting[id]
		if !ok {
			l.order = append(l.order, id)
		}
		l.waiting[id] = r.progress.Waiting
		l.total += r.progress.Waiting - old
	}
	if len(l.order) > roomsTrackedMax {
		drop := l.order[:len(l.order)/2]
		for _, id := range drop {
			l.total -= l.waiting[id]
			delete(l.waiting, id)
		}
		l.order = append([]uuid.UUID(nil), l.order[len(drop):]...)
	}
	return l.total
}
