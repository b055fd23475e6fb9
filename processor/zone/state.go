package zone

import (
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

type holdStatus uint8

const (
	statusActive holdStatus = iota + 1
	statusConfirmed
	statusReleased
	statusExpired
)

var holdStatusNames = [...]topics.HoldStatus{
	statusActive:    topics.HoldActive,
	statusConfirmed: topics.HoldConfirmed,
	statusReleased:  topics.HoldReleased,
	statusExpired:   topics.HoldExpired,
}

// zone is one zone's configuration and inventory. available is derived:
// capacity - held - sold.
type zone struct {
	id, eventID     uuid.UUID
	eventName       string
	zoneName        string
	capacity        int64
	held, sold      int64
	ttl             time.Duration
	holdQuantityMax int64
	customerLimit   int64 // 0 = no limit
	customers       map[string]customerTickets
	waitingRoom     bool // sold behind the event's waiting room: stock is reported
	dirty           bool
	stockDirty      bool   // changed since the last DrainQueueCommands
	rebuiltHeld     int64  // held as rebuilt, checked against the holds in FinishRebuild
	priceMinor      int64  // per ticket; 0 = free (payment.go)
	currency        string // with a price
	ordered         int64  // sum of customers' ordered tickets (<= sold); derived
}

// customerTickets counts one customer's tickets in a zone. An entry exists while
// either count is positive, so the map has at most held+sold <= capacity entries.
type customerTickets struct {
	active  int64 // in active holds
	ordered int64 // in orders
	dirty   bool  // ordered changed since the last drain
}

func (z *zone) available() int64 { return z.capacity - z.held - z.sold }

func (z *zone) inventory() topics.Inventory {
	return topics.Inventory{Capacity: z.capacity, Available: z.available(), Held: z.held, Sold: z.sold}
}

// hold is a hold, active or resolved. Resolved holds are remembered for
// IdempotencyRetention (bounded by ResolvedHoldsMax) so that a late confirm gets the
// precise "already" reason rather than hold_not_found.
type hold struct {
	id         uuid.UUID
	zoneID     uuid.UUID
	orderID    uuid.UUID // the confirm's request id, once confirmed
	zone       *zone
	customer   string
	qty        int64
	createdAt  int64 // unix ns
	expiresAt  int64 // unix ns
	resolvedAt int64 // unix ns, once resolved
	seq        uint64
	resolveSeq uint64
	status     holdStatus
	dirty      bool
	queue      *expiryQueue // while active
	hash       uint64       // in State.holds
	queueID    uuid.UUID    // the admission it debited, if any: credited if it does not sell
	payment    *holdPayment // once a payment started (payment.go)
}

// State is one partition's state: zones, holds, idempotency keys, expiry order and
// the partition clock. It is not safe for concurrent use: one goroutine owns it.
type State struct {
	cfg   Config
	clock int64  // unix ns; never decreases
	seq   uint64 // orders placements, resolutions and decisions

	zones  map[uuid.UUID]*zone
	holds  table[hold] // active and remembered resolved holds
	active int         // active holds

	keys    table[keyEntry]
	keyFIFO ring[*keyEntry] // in decision order

	resolvedFIFO ring[*hold] // in resolution order

	queues map[time.Duration]*expiryQueue
	heap   expiryHeap

	holdSlab slab[hold]
	keySlab  slab[keyEntry]

	outHolds      arena[topics.Hold]
	outOrders     arena[topics.Order]
	outRejections arena[topics.Rejection]
	outReplays    arena[topics.Replay]

	keysEvictedEarly     int64
	keysRejectedFull     int64
	resolvedEvictedEarly int64

	// sunk and sunkSeq: every decision made at clock time <= sunk with seq <=
	// sunkSeq is in the read model (SetSunkThrough). Not persisted.
	sunk    int64
	sunkSeq uint64
	// keysRebuilt is how many keys a rebuild brought back when that was more than
	// KeysMax (a config lowered since): they are kept until they may be forgotten.
	keysRebuilt int

	consumed    int64 // the next command offset the state reflects, with hasConsumed
	hasConsumed bool

	changes  changes
	notices  notices       // commands for the queue writer, drained per transaction
	rebuild  *rebuildState // while rebuilding
	finished bool          // FinishRebuild ran
}

// NewState returns an empty state. It panics if cfg is invalid: callers validate
// their config at startup.
func NewState(cfg Config) *State {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	return &State{
		cfg:    cfg,
		zones:  make(map[uuid.UUID]*zone),
		queues: make(map[time.Duration]*expiryQueue),
		holds:  newTable[hold](),
		keys:   newTable[keyEntry](),
		sunk:   math.MinInt64,
	}
}

// SetConsumed records next, the offset of the next command of the partition (the
// last applied command's offset + 1). The loop calls it in every transaction; the
// next DrainChanges writes it to the changelog with the clock, so a rebuilt state
// says which commands it reflects. next must be >= 0.
func (s *State) SetConsumed(next int64) {
	if next < 0 {
		panic(fmt.Sprintf("zone: consumed offset %d < 0", next))
	}
	s.consumed, s.hasConsumed = next, true
}

// Consumed returns the offset recorded by SetConsumed, or as rebuilt from the
// changelog; ok is false for a state that never recorded one.
func (s *State) Consumed() (next int64, ok bool) { return s.consumed, s.hasConsumed }

// SetSunkThrough tells the state that every decision made so far at clock time <= t
// is in the read model, which answers replays of their keys from then on. Only such
// keys may be forgotten before IdempotencyRetention, and only when KeysMax is
// reached. Decisions made after the call are not covered by it, whatever their
// time: they share clock times with the ones before. A t earlier than the last one
// is ignored. Not persisted: after a rebuild nothing is forgotten early until the
// loop calls it again.
func (s *State) SetSunkThrough(t time.Time) {
	if ns := unixNanoClamped(t); ns >= s.sunk {
		s.sunk, s.sunkSeq = ns, s.seq
	}
}

// unixNanoClamped is t in unix ns, clamped to the int64 range (time.UnixNano is
// undefined outside it, for instance for the zero time).
func unixNanoClamped(t time.Time) int64 {
	switch {
	case t.Before(unixTime(math.MinInt64)):
		return math.MinInt64
	case t.After(unixTime(math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Clock returns the partition clock: the latest now seen.
func (s *State) Clock() time.Time { return unixTime(s.clock) }

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// NextExpiry returns the earliest expires_at of an active hold. (It drops stale
// entries of the expiry queues on the way, which changes nothing observable.)
func (s *State) NextExpiry() (time.Time, bool) {
	if e := s.topExpiry(); e != nil {
		return unixTime(e.expiresAt), true
	}
	return time.Time{}, false
}

// Advance moves the clock to now (never backwards), expires the holds due, in
// expires_at order (ties by placement order), appending their hold.expired outcomes to
// dst, and forgets the keys and resolved holds past retention.
func (s *State) Advance(dst []topics.Outcome, now time.Time) []topics.Outcome {
	if ns := now.UnixNano(); ns > s.clock {
		s.clock = ns
	}
	for {
		e := s.topExpiry()
		if e == nil || e.expiresAt > s.clock {
			break
		}
		h := e.h
		s.resolve(h, statusExpired)
		dst = append(dst, topics.Outcome{
			Version: topics.SchemaVersion,
			Type:    topics.OutHoldExpired,
			Time:    unixTime(s.clock),
			EventID: h.zone.eventID,
			ZoneID:  h.zone.id,
			Zone:    h.zone.inventory(),
			Hold:    s.holdView(h),
			Payment: h.paymentView(),
		})
	}
	s.forgetRetained()
	return dst
}

// forgetRetained forgets keys and resolved holds decided IdempotencyRetention ago.
func (s *State) forgetRetained() {
	horizon := s.clock - int64(s.cfg.IdempotencyRetention)
	for s.keyFIFO.len() > 0 {
		k := *s.keyFIFO.front()
		if k.decidedAt > horizon {
			break
		}
		s.forgetKey(k)
	}
	for s.resolvedFIFO.len() > 0 {
		h := *s.resolvedFIFO.front()
		if h.resolvedAt > horizon {
			break
		}
		s.forgetHold(h)
	}
}

// Apply first expires every hold due at now, then decides cmd and appends exactly
// one answering outcome carrying cmd.RequestID: hold.placed, hold.confirmed,
// hold.released, zone.configured, request.rejected or request.replayed. now is
// clamped so the clock never goes backwards.
func (s *State) Apply(dst []topics.Outcome, cmd *topics.Command, now time.Time) []topics.Outcome {
	dst = s.apply(dst, cmd, now)
	if a := admissionOf(cmd); a != nil {
		if last := &dst[len(dst)-1]; last.Type != topics.OutHoldPlaced || last.RequestID != cmd.RequestID {
			// Debited by the queue writer but no hold came of it: give it back.
			s.credit(cmd.EventID, a.QueueID, cmd.RequestID, cmd.Place.Quantity)
		}
	}
	return dst
}

func (s *State) apply(dst []topics.Outcome, cmd *topics.Command, now time.Time) []topics.Outcome {
	dst = s.Advance(dst, now)
	if msg := malformed(cmd); msg != "" {
		// Not remembered: a malformed command has no payload to fingerprint.
		return append(dst, s.rejectOutcome(cmd, s.zones[cmd.ZoneID], topics.ReasonInvalidCommand, msg, 0))
	}
	var fp fingerprint
	if cmd.IdempotencyKey != "" {
		fp = fingerprintOf(cmd)
		if k := s.key(keyID{zone: cmd.ZoneID, key: cmd.IdempotencyKey}); k != nil {
			if !k.fp.equal(&fp) {
				return append(dst, s.rejectOutcome(cmd, s.zones[cmd.ZoneID], topics.ReasonIdempotencyConflict,
					"idempotency key already used with another request", 0))
			}
			return append(dst, s.replayOutcome(cmd, k))
		}
		if !s.roomForKey() {
			// Not remembered: nothing was decided, and a retry may succeed later.
			return append(dst, s.rejectOutcome(cmd, s.zones[cmd.ZoneID], topics.ReasonPartitionFull,
				"partition has too many idempotency keys not yet in the read model", 0))
		}
	}
	var o decision
	switch cmd.Type {
	case topics.CmdConfigureZone:
		o = s.configure(cmd)
	case topics.CmdPlaceHold:
		o = s.place(cmd)
	case topics.CmdConfirmHold:
		o = s.confirm(cmd)
	case topics.CmdReleaseHold:
		o = s.release(cmd)
	case topics.CmdStartPayment:
		o = s.startPayment(cmd)
	case topics.CmdRefundOrder:
		o = s.refund(cmd)
	}
	if cmd.IdempotencyKey != "" {
		s.remember(cmd, &fp, &o)
	}
	return append(dst, s.outcomeOf(cmd, &o))
}

// decision is what the rules decided for a command: the type of the answering
// outcome and what it names.
type decision struct {
	typ       topics.OutcomeType
	zone      *zone
	hold      *hold // placed, confirmed or released
	created   bool  // zone.configured created the zone
	reason    topics.Reason
	message   string
	available int64
}

func rejected(z *zone, reason topics.Reason, msg string) decision {
	return decision{typ: topics.OutRequestRejected, zone: z, reason: reason, message: msg}
}

// malformed returns why cmd cannot be decided at all, or "". The commands topic is
// validated by topics.Command.Check before Apply; this guards the state machine.
func malformed(cmd *topics.Command) string {
	if cmd.RequestID == uuid.Nil {
		return "request_id is required"
	}
	if len(cmd.IdempotencyKey) > topics.TextBytesMax {
		return "idempotency key too long"
	}
	ok := false
	switch cmd.Type {
	case topics.CmdConfigureZone:
		ok = cmd.Configure != nil
	case topics.CmdPlaceHold:
		ok = cmd.Place != nil
	case topics.CmdConfirmHold:
		if cmd.Confirm != nil && cmd.IdempotencyKey == "" {
			return "confirm needs an idempotency key"
		}
		ok = cmd.Confirm != nil
	case topics.CmdReleaseHold:
		ok = cmd.Release != nil
	case topics.CmdStartPayment, topics.CmdRefundOrder:
		if cmd.IdempotencyKey == "" {
			return "payment commands need an idempotency key"
		}
		ok = (cmd.Type == topics.CmdStartPayment && cmd.StartPayment != nil) ||
			(cmd.Type == topics.CmdRefundOrder && cmd.Refund != nil)
	default:
		return fmt.Sprintf("unknown command type %q", cmd.Type)
	}
	if !ok {
		return "payload does not match the command type"
	}
	return ""
}

// configure creates a zone or changes the fields that are set. An unknown zone with
// none of the creation fields (event name, zone name, capacity) is zone_not_found:
// it is an update of a zone that does not exist. An unknown zone with some but not
// all of them is invalid_command.
func (s *State) configure(cmd *topics.Command) decision {
	c := cmd.Configure
	z := s.zones[cmd.ZoneID]
	if z == nil {
		hasName, hasZone, hasCap := c.EventName != "", c.ZoneName != "", c.Capacity != nil
		if !hasName && !hasZone && !hasCap {
			return rejected(nil, topics.ReasonZoneNotFound, "zone not found")
		}
		if !hasName || !hasZone || !hasCap {
			return rejected(nil, topics.ReasonInvalidCommand, "creating a zone needs event_name, zone_name and capacity")
		}
	}
	if len(c.EventName) > topics.TextBytesMax || len(c.ZoneName) > topics.TextBytesMax {
		return rejected(z, topics.ReasonInvalidCommand, "name too long")
	}
	next := zone{ttl: s.cfg.HoldTTLDefault, holdQuantityMax: s.cfg.HoldQuantityMaxDefault}
	if z != nil {
		next = *z
	}
	if c.EventName != "" {
		next.eventName = c.EventName
	}
	if c.ZoneName != "" {
		next.zoneName = c.ZoneName
	}
	if c.Capacity != nil {
		if *c.Capacity < 0 || *c.Capacity > topics.ZoneCapacityMax {
			return rejected(z, topics.ReasonInvalidCommand, "capacity out of range")
		}
		next.capacity = *c.Capacity
	}
	if c.HoldTTLSeconds != nil {
		secs := *c.HoldTTLSeconds
		if secs < int64(topics.HoldTTLMin/time.Second) || secs > int64(topics.HoldTTLMax/time.Second) {
			return rejected(z, topics.ReasonInvalidTTL, "hold TTL out of bounds")
		}
		next.ttl = time.Duration(secs) * time.Second
	}
	if c.HoldQuantityMax != nil {
		if *c.HoldQuantityMax < topics.HoldQuantityMin || *c.HoldQuantityMax > topics.ZoneCapacityMax {
			return rejected(z, topics.ReasonInvalidCommand, "hold_quantity_max out of range")
		}
		next.holdQuantityMax = *c.HoldQuantityMax
	}
	if msg := configurePrice(&next, c); msg != "" {
		return rejected(z, topics.ReasonInvalidCommand, msg)
	}
	if c.CustomerLimit != nil {
		if *c.CustomerLimit < 0 || *c.CustomerLimit > topics.ZoneCapacityMax {
			return rejected(z, topics.ReasonInvalidCommand, "customer_limit out of range")
		}
		next.customerLimit = *c.CustomerLimit
	}
	if next.capacity < next.held+next.sold {
		return rejected(z, topics.ReasonCapacityBelowTaken, "capacity below held + sold tickets")
	}
	created := z == nil
	if created {
		if len(s.zones) >= s.cfg.ZonesMax {
			return rejected(nil, topics.ReasonPartitionFull, "partition has too many zones")
		}
		z = &zone{id: cmd.ZoneID, eventID: cmd.EventID, customers: make(map[string]customerTickets)}
		s.zones[z.id] = z
	}
	z.eventName, z.zoneName, z.capacity = next.eventName, next.zoneName, next.capacity
	z.ttl, z.holdQuantityMax, z.customerLimit = next.ttl, next.holdQuantityMax, next.customerLimit
	if c.WaitingRoom != nil {
		z.waitingRoom = *c.WaitingRoom
	}
	z.priceMinor, z.currency = next.priceMinor, next.currency
	s.markZone(z)
	return decision{typ: topics.OutZoneConfigured, zone: z, created: created}
}

func (s *State) place(cmd *topics.Command) decision {
	z := s.zones[cmd.ZoneID]
	if z == nil {
		return rejected(nil, topics.ReasonZoneNotFound, "zone not found")
	}
	p := cmd.Place
	switch {
	case p.Quantity < topics.HoldQuantityMin:
		return rejected(z, topics.ReasonInvalidCommand, "quantity must be >= 1")
	case len(p.CustomerID) > topics.TextBytesMax:
		return rejected(z, topics.ReasonInvalidCommand, "customer id too long")
	case s.hold(cmd.RequestID) != nil:
		return rejected(z, topics.ReasonInvalidCommand, "a hold with this request id exists")
	case p.Quantity > z.holdQuantityMax:
		return rejected(z, topics.ReasonQuantityOverLimit, "quantity over the zone's limit per hold")
	case z.waitingRoom && admissionOf(cmd) == nil:
		// The API checks the admission token before publishing; this is the
		// writer's own gate, for a hold that reached the zone another way.
		return rejected(z, topics.ReasonAdmissionRequired, "the zone sells through its event's waiting room: a hold needs an admission")
	}
	var ct customerTickets
	if p.CustomerID != "" {
		ct = z.customers[p.CustomerID]
		if z.customerLimit > 0 && ct.active+ct.ordered+p.Quantity > z.customerLimit {
			return rejected(z, topics.ReasonCustomerLimitExceeded, "customer limit exceeded in this zone")
		}
	}
	if p.Quantity > z.available() {
		o := rejected(z, topics.ReasonInsufficientCapacity, "not enough tickets available")
		o.available = z.available()
		return o
	}
	if s.active >= s.cfg.HoldsMax {
		return rejected(z, topics.ReasonPartitionFull, "partition has too many active holds")
	}
	if p.CustomerID != "" {
		ct.active += p.Quantity
		z.customers[p.CustomerID] = ct
	}
	h := s.holdSlab.get()
	s.seq++
	*h = hold{
		id: cmd.RequestID, zoneID: z.id, zone: z, customer: p.CustomerID, qty: p.Quantity,
		createdAt: s.clock, expiresAt: s.clock + int64(z.ttl), seq: s.seq, status: statusActive,
	}
	if a := admissionOf(cmd); a != nil {
		h.queueID = a.QueueID
	}
	s.addHold(h)
	s.active++
	z.held += p.Quantity
	s.markZone(z)
	s.markHold(h)
	s.enqueueExpiry(h)
	return decision{typ: topics.OutHoldPlaced, zone: z, hold: h}
}

// resolvable finds the hold a confirm or release names, or says why it cannot be
// resolved.
func (s *State) resolvable(zoneID, holdID uuid.UUID) (*hold, decision, bool) {
	z := s.zones[zoneID]
	if z == nil {
		return nil, rejected(nil, topics.ReasonZoneNotFound, "zone not found"), false
	}
	h := s.hold(holdID)
	if h == nil || h.zone != z {
		return nil, rejected(z, topics.ReasonHoldNotFound, "hold not found"), false
	}
	switch h.status {
	case statusConfirmed:
		return nil, rejected(z, topics.ReasonHoldAlreadyConfirmed, "hold already confirmed"), false
	case statusReleased:
		return nil, rejected(z, topics.ReasonHoldAlreadyReleased, "hold already released"), false
	case statusExpired:
		return nil, rejected(z, topics.ReasonHoldExpired, "hold expired"), false
	}
	if h.expiresAt <= s.clock {
		panic("zone: active hold past its expiry after Advance")
	}
	return h, decision{}, true
}

func (s *State) confirm(cmd *topics.Command) decision {
	if cmd.Confirm.Payment != nil {
		return s.confirmPaid(cmd)
	}
	h, o, ok := s.resolvable(cmd.ZoneID, cmd.Confirm.HoldID)
	if !ok {
		return o
	}
	if h.zone.priceMinor > 0 {
		return rejected(h.zone, topics.ReasonPaymentRequired, "the zone is priced: a hold is confirmed by its payment")
	}
	h.orderID = cmd.RequestID
	s.resolve(h, statusConfirmed)
	return decision{typ: topics.OutHoldConfirmed, zone: h.zone, hold: h}
}

func (s *State) release(cmd *topics.Command) decision {
	h, o, ok := s.resolvable(cmd.ZoneID, cmd.Release.HoldID)
	if !ok {
		return o
	}
	s.resolve(h, statusReleased)
	return decision{typ: topics.OutHoldReleased, zone: h.zone, hold: h}
}

// resolve moves an active hold to its final status, once, and gives its tickets to
// an order (confirmed) or back to the zone.
func (s *State) resolve(h *hold, to holdStatus) {
	if h.status != statusActive {
		panic(fmt.Sprintf("zone: hold %s resolved twice (%d then %d)", h.id, h.status, to))
	}
	z := h.zone
	z.held -= h.qty
	if to == statusConfirmed {
		z.sold += h.qty
	}
	if h.customer != "" {
		ct := z.customers[h.customer]
		ct.active -= h.qty
		if to == statusConfirmed {
			ct.ordered += h.qty
			z.ordered += h.qty
			if !ct.dirty {
				ct.dirty = true
				s.changes.customers = append(s.changes.customers, customerRef{zone: z, customer: h.customer})
			}
		}
		if ct.active == 0 && ct.ordered == 0 {
			delete(z.customers, h.customer)
		} else {
			z.customers[h.customer] = ct
		}
	}
	if h.queueID != uuid.Nil && to != statusConfirmed {
		s.credit(z.eventID, h.queueID, h.id, h.qty)
	}
	h.status = to
	h.queue.live--
	h.queue = nil
	s.active--
	s.seq++
	h.resolvedAt, h.resolveSeq = s.clock, s.seq
	if s.resolvedFIFO.len() >= s.cfg.ResolvedHoldsMax {
		s.forgetHold(*s.resolvedFIFO.front())
		s.resolvedEvictedEarly++
	}
	s.resolvedFIFO.push(h)
	s.markZone(z)
	s.markHold(h)
}

// forgetHold forgets the oldest resolved hold.
func (s *State) forgetHold(h *hold) {
	popOldest(&s.resolvedFIFO, h, "a hold out of resolution order")
	s.dropHold(h)
	s.changes.holds = append(s.changes.holds, h.id)
	s.holdSlab.put(h)
}

// popOldest removes e from the front of fifo; forgetting anything but the oldest
// would break the retention order, so it is a programmer error.
func popOldest[T any](fifo *ring[*T], e *T, what string) {
	if *fifo.front() != e {
		panic("zone: forgetting " + what)
	}
	fifo.pop()
}

// markChanged lists id among the changes DrainChanges writes, once per drain.
func markChanged[T any](dirty *bool, changed *[]T, id T) {
	if !*dirty {
		*dirty = true
		*changed = append(*changed, id)
	}
}

func (s *State) markZone(z *zone) {
	markChanged(&z.dirty, &s.changes.zones, z)
	if z.waitingRoom {
		markChanged(&z.stockDirty, &s.notices.stock, z)
	}
}

func (s *State) markHold(h *hold) { markChanged(&h.dirty, &s.changes.holds, h.id) }
