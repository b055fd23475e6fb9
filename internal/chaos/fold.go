package chaos

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Invariants checked on the events topic.
const (
	invEventInventory   = "event inventory adds up (available+held+sold == capacity, all >= 0)"
	invInventoryDrift   = "event inventory equals the fold of the holds and orders before it"
	invHoldOnce         = "a hold is placed once and resolved at most once"
	invOrderOnce        = "at most one order per hold"
	invRequestOnce      = "a request is decided once"
	invKeyOneHold       = "a retry with the same key never makes a second hold"
	invExpiredOnTime    = "a hold expires no earlier than its expires_at"
	invUndecodableEvent = "every committed event decodes"
)

type fzone struct {
	inv        topics.Inventory
	held, sold int64 // from the holds and orders seen
}

type fhold struct {
	zone      uuid.UUID
	qty       int64
	status    topics.HoldStatus
	expiresAt time.Time
	order     uuid.UUID
}

type fdecision struct {
	evType topics.OutcomeType
	cmd    topics.CommandType
	hold   uuid.UUID
	order  uuid.UUID
	reason topics.Reason
	// rejected tells a rejection (or the replay of one) from a success.
	rejected bool
	at       time.Time
}

// fold applies the committed events topic (read_committed) in order, checking as it
// goes that every event follows from the ones before it.
type fold struct {
	v *violations

	mu        sync.Mutex
	zones     map[uuid.UUID]*fzone
	holds     map[uuid.UUID]*fhold
	orders    map[uuid.UUID]uuid.UUID // order id -> hold id
	decisions map[uuid.UUID]fdecision // by request id
	keyHolds  map[string]uuid.UUID    // zone/key -> the hold it placed
	next      map[int32]int64         // next offset per partition, control records included
	events    int
}

func newFold(v *violations) *fold {
	return &fold{
		v: v, zones: make(map[uuid.UUID]*fzone), holds: make(map[uuid.UUID]*fhold),
		orders: make(map[uuid.UUID]uuid.UUID), decisions: make(map[uuid.UUID]fdecision),
		keyHolds: make(map[string]uuid.UUID), next: make(map[int32]int64),
	}
}

// consume folds the events topic until ctx is done.
func (f *fold) consume(ctx context.Context, brokers []string, topic string) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records tell how far a partition has been read: its last offset is
		// usually a transaction marker.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		f.mu.Lock()
		fetches.EachRecord(f.record)
		f.mu.Unlock()
	}
	return nil
}

// record folds one record (f.mu held).
func (f *fold) record(r *kgo.Record) {
	f.next[r.Partition] = r.Offset + 1
	if r.Attrs.IsControl() {
		return
	}
	e, err := topics.DecodeOutcome(r.Value)
	if err != nil {
		f.v.add(invUndecodableEvent, "partition %d offset %d: %v", r.Partition, r.Offset, err)
		return
	}
	f.events++
	f.apply(&e)
}

func (f *fold) apply(e *topics.Outcome) {
	inv := e.Zone
	if inv.Available+inv.Held+inv.Sold != inv.Capacity || inv.Available < 0 || inv.Held < 0 || inv.Sold < 0 {
		f.v.add(invEventInventory, "%s on zone %s: %+v", e.Type, e.ZoneID, inv)
	}
	if e.RequestID != uuid.Nil {
		f.decide(e)
	}
	z := f.zones[e.ZoneID]
	switch e.Type {
	case topics.OutZoneConfigured:
		if z == nil {
			z = &fzone{}
			f.zones[e.ZoneID] = z
		}
	case topics.OutHoldPlaced:
		f.place(e, z)
	case topics.OutHoldConfirmed, topics.OutHoldReleased, topics.OutHoldExpired:
		f.resolve(e, z)
	}
	if z == nil {
		return
	}
	if z.held != inv.Held || z.sold != inv.Sold {
		f.v.add(invInventoryDrift, "%s %s on zone %s: event says held %d sold %d, the holds before it %d and %d",
			e.Type, e.RequestID, e.ZoneID, inv.Held, inv.Sold, z.held, z.sold)
		z.held, z.sold = inv.Held, inv.Sold // report a drift once, not on every later event
	}
	z.inv = inv
}

func (f *fold) decide(e *topics.Outcome) {
	if _, ok := f.decisions[e.RequestID]; ok {
		f.v.add(invRequestOnce, "request %s decided again by %s", e.RequestID, e.Type)
		return
	}
	d := fdecision{evType: e.Type, cmd: e.CommandType, at: e.Time}
	switch {
	case e.Hold != nil:
		d.hold = e.Hold.ID
	case e.Replay != nil:
		d.hold = e.Replay.HoldID
	}
	if e.Order != nil {
		d.order = e.Order.ID
	}
	if e.Rejection != nil {
		d.reason = e.Rejection.Reason
	}
	d.rejected = e.Type == topics.OutRequestRejected || (e.Replay != nil && e.Replay.Rejection != nil)
	f.decisions[e.RequestID] = d
}

func (f *fold) place(e *topics.Outcome, z *fzone) {
	h := e.Hold
	if h == nil {
		return
	}
	if _, ok := f.holds[h.ID]; ok {
		f.v.add(invHoldOnce, "hold %s placed twice", h.ID)
		return
	}
	f.holds[h.ID] = &fhold{zone: e.ZoneID, qty: h.Quantity, status: topics.HoldActive, expiresAt: h.ExpiresAt}
	if z != nil {
		z.held += h.Quantity
	}
	if e.IdempotencyKey != "" {
		k := e.ZoneID.String() + "/" + e.IdempotencyKey
		if first, ok := f.keyHolds[k]; ok {
			f.v.add(invKeyOneHold, "key %q on zone %s placed hold %s, and before it %s", e.IdempotencyKey, e.ZoneID, h.ID, first)
		} else {
			f.keyHolds[k] = h.ID
		}
	}
}

func (f *fold) resolve(e *topics.Outcome, z *fzone) {
	if e.Hold == nil {
		return
	}
	h := f.holds[e.Hold.ID]
	switch {
	case h == nil:
		f.v.add(invHoldOnce, "%s of hold %s never placed", e.Type, e.Hold.ID)
		return
	case h.status != topics.HoldActive:
		f.v.add(invHoldOnce, "hold %s %s, then %s", e.Hold.ID, h.status, e.Type)
		return
	}
	if e.Type == topics.OutHoldExpired && e.Time.Before(h.expiresAt) {
		f.v.add(invExpiredOnTime, "hold %s expired at %s, expires_at %s", e.Hold.ID, e.Time.Format(time.RFC3339Nano), h.expiresAt.Format(time.RFC3339Nano))
	}
	h.status = e.Hold.Status
	if z != nil {
		z.held -= h.qty
	}
	if e.Type != topics.OutHoldConfirmed || e.Order == nil {
		return
	}
	if z != nil {
		z.sold += h.qty
	}
	if _, ok := f.orders[e.Order.ID]; ok || h.order != uuid.Nil {
		f.v.add(invOrderOnce, "hold %s: order %s, earlier order %s", e.Hold.ID, e.Order.ID, h.order)
	}
	h.order = e.Order.ID
	f.orders[e.Order.ID] = e.Hold.ID
}

// caughtUp reports whether every partition has been read up to its end offset.
func (f *fold) caughtUp(ends map[int32]int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, end := range ends {
		if f.next[p] < end {
			return false
		}
	}
	return true
}
