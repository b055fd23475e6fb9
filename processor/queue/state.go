package queue

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

type status uint8

const (
	statusWaiting status = iota + 1
	statusAdmitted
	statusExpired
)

// entry is one buyer's place: waiting, admitted, or expired (remembered for
// Config.ExpiredRetention).
type entry struct {
	id        uuid.UUID
	room      *room
	customer  string
	seq       uint64 // join order within the room
	joinedAt  int64  // unix ns
	pre       bool
	position  int64 // 0 while in the pre-queue
	status    status
	admitted  int64 // unix ns, once admitted
	expires   int64 // unix ns, once admitted
	allowance int64 // tickets granted
	remaining int64 // tickets not yet debited
	keys      []debitKey
	heapIdx   int
	dirty     bool
}

// debitKey is an idempotency key that debited the admission: a retry with it is
// forwarded without a second debit. Keys are scoped per zone, as the zone's are.
type debitKey struct {
	zone uuid.UUID
	key  string
}

// buyer is one customer of a room: the live entry (waiting or admitted), and the
// tickets debited and not credited back, checked against the room's customer limit.
type buyer struct {
	entry *entry
	spent int64
	dirty bool
}

// zoneStock is the last stock a zone reported.
type zoneStock struct{ available, held int64 }

// room is one event's waiting room.
type room struct {
	event      uuid.UUID
	configured bool
	cfg        topics.QueueConfig
	started    bool
	seed       [32]byte
	preSize    int64
	pre        []*entry // before the start, in join order
	line       []*entry // waiting after the start, in position order, from head
	head       int
	nextPos    int64
	through    int64  // admitted through this position
	joinSeq    uint64 // joins so far
	window     []int64
	stock      map[uuid.UUID]zoneStock
	soldOut    bool
	unspent    int64 // remaining allowance of live admissions
	buyers     map[string]*buyer
	dirty      bool
	entryCount int // entries of the room in State.entries
}

func (r *room) waiting() int64 {
	if !r.started {
		return int64(len(r.pre))
	}
	return int64(len(r.line) - r.head)
}

// State is one partition's waiting rooms. It is not safe for concurrent use: one
// goroutine owns it, the one that owns the partition's zone.State.
type State struct {
	cfg     Config
	clock   int64
	rooms   map[uuid.UUID]*room
	order   []*room // by event id: the order rooms are advanced in
	entries map[uuid.UUID]*entry
	live    admissionHeap
	expired []*entry // by expiry, then room and position: forgotten after retention
	expHead int
	due     int64 // no room needs Advance before this clock time

	changes changes
	rebuilt bool // Rebuild ran
	applied bool // Apply or Advance ran
}

// NewState returns an empty state. It panics if cfg is invalid: callers validate
// their config at startup.
func NewState(cfg Config) *State {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return &State{cfg: cfg.withDefaults(), rooms: map[uuid.UUID]*room{}, entries: map[uuid.UUID]*entry{}, due: math.MinInt64}
}

// Clock returns the latest now the state saw.
func (s *State) Clock() time.Time { return unixTime(s.clock) }

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// Stats counts what the state holds.
type Stats struct {
	Rooms, Entries, Waiting, Admitted int
	// Selling counts the buyers waiting in rooms that should be admitting: enabled,
	// sale started, not sold out. Buyers there and no admission for long is a stall.
	Selling int
}

// Stats returns the state's counts.
func (s *State) Stats() Stats {
	st := Stats{Rooms: len(s.rooms), Entries: len(s.entries), Admitted: s.live.Len()}
	for _, r := range s.order {
		w := int(r.waiting())
		st.Waiting += w
		if r.cfg.Enabled && r.started && !r.soldOut {
			st.Selling += w
		}
	}
	return st
}

// NextDue returns the clock time at which Advance has work (a start, an expiry, an
// admission the rate allows), or false when nothing is due until a command changes
// something.
func (s *State) NextDue() (time.Time, bool) {
	if s.due == math.MaxInt64 {
		return time.Time{}, false
	}
	return unixTime(max(s.due, 0)), true
}

// Advance moves the clock to now (never backwards): it opens the rooms whose sale
// starts, expires the admissions due, admits at each room's rate, and forgets
// expired entries past retention, appending the outcomes to dst.
func (s *State) Advance(dst []topics.Outcome, now time.Time) []topics.Outcome {
	s.applied = true
	if ns := now.UnixNano(); ns > s.clock {
		s.clock = ns
	}
	if s.clock < s.due {
		return dst
	}
	for _, r := range s.order {
		if r.configured && !r.started && r.cfg.Enabled && s.clock >= r.cfg.StartsAt.UnixNano() {
			dst = s.open(dst, r)
		}
	}
	dst = s.expire(dst)
	due := int64(math.MaxInt64)
	for _, r := range s.order {
		var next int64
		dst, next = s.admit(dst, r)
		due = min(due, next)
		if r.configured && !r.started && r.cfg.Enabled {
			due = min(due, r.cfg.StartsAt.UnixNano())
		}
	}
	if s.live.Len() > 0 {
		due = min(due, s.live.items[0].expires)
	}
	if s.expHead < len(s.expired) {
		due = min(due, s.expired[s.expHead].expires+int64(s.cfg.ExpiredRetention))
	}
	s.due = due
	return dst
}

// touch makes the next Advance look at every room again.
func (s *State) touch() { s.due = math.MinInt64 }

// Apply first advances to now, then decides cmd, a command keyed by event
// (topics.Command.EventKeyed), appending its outcomes to dst and the commands it
// forwards to zones to fwd. queue.configure and queue.join get exactly one answer;
// hold.place gets a rejection, or none when it is forwarded (the zone answers it);
// queue.credit and queue.stock get none (stock may announce sold out or resumed).
func (s *State) Apply(dst []topics.Outcome, fwd []topics.Command, cmd *topics.Command, now time.Time) ([]topics.Outcome, []topics.Command) {
	dst = s.Advance(dst, now)
	s.touch()
	switch cmd.Type {
	case topics.CmdConfigureQueue:
		if cmd.Queue == nil {
			return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, "payload does not match the command type")), fwd
		}
		dst = s.configure(dst, cmd)
	case topics.CmdJoinQueue:
		if cmd.Join == nil {
			return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, "payload does not match the command type")), fwd
		}
		dst = s.join(dst, cmd)
	case topics.CmdPlaceHold:
		if cmd.Place == nil || cmd.Place.Admission == nil {
			return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, "hold.place for the queue without an admission")), fwd
		}
		dst, fwd = s.debit(dst, fwd, cmd)
	case topics.CmdCreditAdmission:
		if cmd.Credit != nil {
			s.credit(cmd)
		}
	case topics.CmdZoneStock:
		if cmd.Stock != nil {
			dst = s.stock(dst, cmd)
		}
	default:
		return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, fmt.Sprintf("command type %q is not the queue's", cmd.Type))), fwd
	}
	// Decide admissions at this clock time at once, so that a stock or credit that
	// frees tickets, or a join to an idle room, is acted on in the same transaction.
	return s.Advance(dst, now), fwd
}

// reject answers cmd with a rejection. A hold.place keeps its zone id (the read
// model files requests by zone); the record is keyed by event all the same.
func (s *State) reject(cmd *topics.Command, reason topics.Reason, msg string) topics.Outcome {
	o := s.outcome(topics.OutRequestRejected, cmd.EventID)
	o.RequestID, o.IdempotencyKey, o.CommandType = cmd.RequestID, cmd.IdempotencyKey, cmd.Type
	if cmd.Type == topics.CmdPlaceHold {
		o.ZoneID = cmd.ZoneID
	}
	o.Rejection = &topics.Rejection{Reason: reason, Message: msg}
	return o
}

func (s *State) outcome(t topics.OutcomeType, event uuid.UUID) topics.Outcome {
	return topics.Outcome{Version: topics.SchemaVersion, Type: t, Time: unixTime(s.clock), EventID: event}
}

func (s *State) progress(r *room) *topics.QueueProgress {
	return &topics.QueueProgress{AdmittedThrough: r.through, Waiting: r.waiting(), RatePerSecond: s.rate(r)}
}

// rate is the admission rate in effect: the configured one, or for an automatic
// room the admissions of the last second.
func (s *State) rate(r *room) float64 {
	if r.cfg.RatePerSecond > 0 {
		return r.cfg.RatePerSecond
	}
	n := 0
	for _, t := range slices.Backward(r.window) {
		if t <= s.clock-int64(time.Second) {
			break
		}
		n++
	}
	return float64(n)
}

func entryView(e *entry) *topics.QueueEntry {
	return &topics.QueueEntry{QueueID: e.id, CustomerID: e.customer, JoinedAt: unixTime(e.joinedAt), PreQueue: e.pre, Position: e.position}
}

// insertRoom adds r to the rooms, keeping order sorted by event id.
func (s *State) insertRoom(r *room) {
	s.rooms[r.event] = r
	i, _ := slices.BinarySearchFunc(s.order, r, func(a, b *room) int { return bytes.Compare(a.event[:], b.event[:]) })
	s.order = slices.Insert(s.order, i, r)
}

func newRoom(event uuid.UUID) *room {
	return &room{event: event, stock: map[uuid.UUID]zoneStock{}, buyers: map[string]*buyer{}, nextPos: 1}
}

func (s *State) markRoom(r *room) { markChanged(&r.dirty, &s.changes.rooms, r) }

func (s *State) markEntry(e *entry) { markChanged(&e.dirty, &s.changes.entries, e.id) }

func (s *State) markBuyer(r *room, customer string, b *buyer) {
	markChanged(&b.dirty, &s.changes.buyers, buyerRef{room: r, customer: customer})
}

func markChanged[T any](dirty *bool, list *[]T, v T) {
	if !*dirty {
		*dirty = true
		*list = append(*list, v)
	}
}
