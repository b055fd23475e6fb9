package sink

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Record is one record of the events topic as the sink applies it.
type Record struct {
	Partition int32
	Offset    int64
	// Event is the decoded event, or nil for a record that was dead-lettered: it
	// changes no row, but the partition's offset still moves past it.
	Event *topics.Outcome
	// raw is the record as it came from Kafka, for the dead-letter topic; nil for
	// records built in tests.
	raw *kgo.Record
}

// check rejects an event the read model cannot hold; its error is the dead-letter
// reason. An event of a type the sink does not know passes: it is skipped, as the
// contract asks of downstream consumers.
func check(e *topics.Outcome) error {
	if !known(e.Type) {
		return nil
	}
	if isQueue(e.Type) {
		return checkQueue(e)
	}
	// The queue writer's rejections of a join name the event and no zone.
	if e.ZoneID == uuid.Nil && (e.Type != topics.OutRequestRejected && e.Type != topics.OutRequestReplayed || e.EventID == uuid.Nil) {
		return errors.New("invalid event: zone_id is required")
	}
	if err := storableText(e); err != nil {
		return err
	}
	z := e.Zone
	if z.Available < 0 || z.Held < 0 || z.Sold < 0 || z.Available+z.Held+z.Sold != z.Capacity {
		return fmt.Errorf("invalid event: zone inventory %+v does not add up", z)
	}
	switch e.Type {
	case topics.OutZoneConfigured:
		if e.Config == nil || e.EventID == uuid.Nil {
			return errors.New("invalid event: zone.configured needs config and event_id")
		}
	case topics.OutHoldPlaced, topics.OutHoldConfirmed, topics.OutHoldReleased, topics.OutHoldExpired:
		if e.Hold == nil || e.Hold.ID == uuid.Nil || e.Hold.Quantity <= 0 {
			return fmt.Errorf("invalid event: %s needs a hold with id and quantity > 0", e.Type)
		}
		if e.Type == topics.OutHoldConfirmed && (e.Order == nil || e.Order.ID == uuid.Nil || e.Order.Quantity <= 0) {
			return errors.New("invalid event: hold.confirmed needs an order with id and quantity > 0")
		}
	case topics.OutRequestRejected:
		if e.Rejection == nil {
			return errors.New("invalid event: request.rejected needs a rejection")
		}
	case topics.OutRequestReplayed:
		if e.Replay == nil {
			return errors.New("invalid event: request.replayed needs a replay")
		}
	}
	return checkPayment(e)
}

// textField is one text value of an event, named as in its JSON.
type textField struct{ name, value string }

// storableText rejects an event with a text value Postgres cannot store: invalid
// UTF-8, or NUL (0x00), which a text column refuses.
func storableText(e *topics.Outcome) error {
	texts := []textField{{"idempotency_key", e.IdempotencyKey}, {"command", string(e.CommandType)}}
	if c := e.Config; c != nil {
		texts = append(texts, textField{"config.event_name", c.EventName}, textField{"config.zone_name", c.ZoneName})
	}
	if h := e.Hold; h != nil {
		texts = append(texts, textField{"hold.customer_id", h.CustomerID})
	}
	if o := e.Order; o != nil {
		texts = append(texts, textField{"order.customer_id", o.CustomerID})
	}
	for _, rej := range []*topics.Rejection{e.Rejection, replayRejection(e.Replay)} {
		if rej != nil {
			texts = append(texts, textField{"rejection.reason", string(rej.Reason)}, textField{"rejection.message", rej.Message})
		}
	}
	for _, t := range texts {
		if err := storable(t.name, t.value); err != nil {
			return err
		}
	}
	return nil
}

// storable rejects a text value Postgres cannot store in a text column.
func storable(name, value string) error {
	if !utf8.ValidString(value) || strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("invalid event: %s is not storable text (invalid UTF-8 or NUL)", name)
	}
	return nil
}

func replayRejection(r *topics.Replay) *topics.Rejection {
	if r == nil {
		return nil
	}
	return r.Rejection
}

func known(t topics.OutcomeType) bool {
	switch t {
	case topics.OutZoneConfigured, topics.OutHoldPlaced, topics.OutHoldConfirmed, topics.OutHoldReleased,
		topics.OutHoldExpired, topics.OutRequestRejected, topics.OutRequestReplayed,
		topics.OutHoldPaymentStarted, topics.OutPaymentRefundRequired, topics.OutOrderRefunded:
		return true
	}
	return isQueue(t)
}

// plan is a batch collapsed into the rows it writes: one column slice per column,
// one entry per row, ready for unnest. Each key appears once per table, because
// ON CONFLICT DO UPDATE cannot touch one row twice in a statement.
type plan struct {
	shows    showRows // the shows (the events table) configured in the batch
	zones    zoneRows // zones configured in the batch: insert or update everything
	invs     invRows  // other zones the batch touched: inventory only
	holds    holdRows
	orders   orderRows
	requests requestRows
	queue    queuePlan   // the waiting rooms and their entries
	pay      paymentPlan // payment.go

	applied map[topics.OutcomeType]int // outcomes applied, by type ("other" for unknown)
	newest  time.Time                  // the newest outcome time in the batch
}

type showRows struct {
	id      [][16]byte
	name    []string
	created []time.Time
}

// zoneRows are zones configured in the batch: their inventory rows and the rest
// of their configuration.
type zoneRows struct {
	invRows
	eventID                     [][16]byte
	name                        []string
	ttl, quantityMax, custLimit []int64
	waitingRoom                 []bool
	price                       []int64
	currency                    []pgtype.Text
}

// invRows are zones' inventories.
type invRows struct {
	id                        [][16]byte
	capacity, available, held []int64
	sold                      []int64
	asOf                      []time.Time
}

type holdRows struct {
	id, eventID, zoneID [][16]byte
	quantity            []int64
	customer            []pgtype.Text
	status              []string
	key                 []pgtype.Text
	created, expires    []time.Time
	resolved            []pgtype.Timestamptz
	orderID             []pgtype.UUID
}

type orderRows struct {
	id, holdID, eventID, zoneID [][16]byte
	quantity                    []int64
	customer                    []pgtype.Text
	created                     []time.Time
}

type requestRows struct {
	id                [][16]byte
	typ               []string
	eventID, zoneID   [][16]byte
	status, eventType []string
	holdID, orderID   []pgtype.UUID
	reason, message   []pgtype.Text
	available         []pgtype.Int8
	replayed          []bool
	decided           []time.Time
	key               []pgtype.Text
}

// zoneState is one zone's collapsed state in a batch.
type zoneState struct {
	inv     topics.Inventory
	asOf    time.Time
	config  *topics.ZoneConfig // newest configuration in the batch, if any
	eventID uuid.UUID
}

// holdState is one hold's collapsed state in a batch.
type holdState struct {
	eventID, zoneID uuid.UUID
	hold            topics.Hold
	status          topics.HoldStatus
	key             string
	resolved        time.Time
	orderID         uuid.UUID
}

// collapse turns outcomes, in log order per partition, into the rows of a batch.
func collapse(outcomes []*topics.Outcome) *plan {
	p := &plan{applied: make(map[topics.OutcomeType]int)}
	zones := make(map[uuid.UUID]*zoneState)
	var zoneOrder []uuid.UUID
	holds := make(map[uuid.UUID]*holdState)
	var holdOrder []uuid.UUID
	showsSeen := make(map[uuid.UUID]int)
	ordersSeen := make(map[uuid.UUID]bool)
	requestsSeen := make(map[uuid.UUID]bool)

	for _, e := range outcomes {
		if !known(e.Type) {
			p.applied["other"]++
			continue
		}
		p.applied[e.Type]++
		if e.Time.After(p.newest) {
			p.newest = e.Time
		}
		if e.RequestID != uuid.Nil && !requestsSeen[e.RequestID] {
			requestsSeen[e.RequestID] = true
			p.requests.add(e)
		}
		if isQueue(e.Type) {
			p.queue.add(e)
			continue
		}
		if e.ZoneID == uuid.Nil {
			continue // a rejected join: no zone
		}
		z := zones[e.ZoneID]
		if z == nil {
			z = &zoneState{}
			zones[e.ZoneID] = z
			zoneOrder = append(zoneOrder, e.ZoneID)
		}
		if !e.Time.Before(z.asOf) && (hasInventory(e) || e.Type == topics.OutZoneConfigured) {
			z.inv, z.asOf = e.Zone, e.Time
		}
		switch e.Type {
		case topics.OutZoneConfigured:
			z.config, z.eventID = e.Config, e.EventID
			if i, ok := showsSeen[e.EventID]; ok {
				p.shows.name[i] = e.Config.EventName
			} else {
				showsSeen[e.EventID] = len(p.shows.id)
				p.shows.id = append(p.shows.id, [16]byte(e.EventID))
				p.shows.name = append(p.shows.name, e.Config.EventName)
				p.shows.created = append(p.shows.created, e.Time)
			}
		case topics.OutHoldPlaced, topics.OutHoldConfirmed, topics.OutHoldReleased, topics.OutHoldExpired:
			h := holds[e.Hold.ID]
			if h == nil {
				h = &holdState{eventID: e.EventID, zoneID: e.ZoneID, hold: *e.Hold, status: topics.HoldActive}
				if e.Type == topics.OutHoldPlaced {
					h.key = e.IdempotencyKey
				}
				holds[e.Hold.ID] = h
				holdOrder = append(holdOrder, e.Hold.ID)
			}
			if e.Type != topics.OutHoldPlaced && h.status == topics.HoldActive {
				h.status, h.resolved = resolution(e.Type), e.Time
				if e.Type == topics.OutHoldConfirmed {
					h.orderID = e.Order.ID
					if !ordersSeen[e.Order.ID] {
						ordersSeen[e.Order.ID] = true
						p.orders.add(e)
					}
				}
			}
		}
		p.pay.collect(e)
	}
	for _, id := range zoneOrder {
		z := zones[id]
		switch {
		case z.config != nil:
			p.zones.add(id, z)
		case !z.asOf.IsZero():
			p.invs.add(id, z)
		}
	}
	for _, id := range holdOrder {
		p.holds.add(id, holds[id])
	}
	return p
}

// hasInventory reports whether an outcome carries its zone's inventory. The queue
// writer's rejections of holds (keyed by event) name the zone but carry no
// inventory: all zero, which no zone with tickets ever has, and a zone of capacity
// 0 loses only the freshness of its as_of by skipping it.
func hasInventory(e *topics.Outcome) bool {
	return e.Zone != (topics.Inventory{})
}

// resolutions maps each outcome that resolves a hold to the hold's new status.
var resolutions = map[topics.OutcomeType]topics.HoldStatus{
	topics.OutHoldConfirmed: topics.HoldConfirmed,
	topics.OutHoldReleased:  topics.HoldReleased,
	topics.OutHoldExpired:   topics.HoldExpired,
}

func resolution(t topics.OutcomeType) topics.HoldStatus {
	if s, ok := resolutions[t]; ok {
		return s
	}
	panic("sink: no resolution for " + string(t))
}

func (r *zoneRows) add(id uuid.UUID, z *zoneState) {
	r.invRows.add(id, z)
	r.eventID = append(r.eventID, [16]byte(z.eventID))
	r.name = append(r.name, z.config.ZoneName)
	r.ttl = append(r.ttl, z.config.HoldTTLSeconds)
	r.quantityMax = append(r.quantityMax, z.config.HoldQuantityMax)
	r.custLimit = append(r.custLimit, z.config.CustomerLimit)
	r.waitingRoom = append(r.waitingRoom, z.config.WaitingRoom)
	r.price = append(r.price, z.config.PriceMinor)
	r.currency = append(r.currency, text(z.config.Currency))
}

func (r *invRows) add(id uuid.UUID, z *zoneState) {
	r.id = append(r.id, [16]byte(id))
	r.capacity = append(r.capacity, z.inv.Capacity)
	r.available = append(r.available, z.inv.Available)
	r.held = append(r.held, z.inv.Held)
	r.sold = append(r.sold, z.inv.Sold)
	r.asOf = append(r.asOf, z.asOf)
}

func (r *holdRows) add(id uuid.UUID, h *holdState) {
	r.id = append(r.id, [16]byte(id))
	r.eventID = append(r.eventID, [16]byte(h.eventID))
	r.zoneID = append(r.zoneID, [16]byte(h.zoneID))
	r.quantity = append(r.quantity, h.hold.Quantity)
	r.customer = append(r.customer, text(h.hold.CustomerID))
	r.status = append(r.status, string(h.status))
	r.key = append(r.key, text(h.key))
	r.created = append(r.created, h.hold.CreatedAt)
	r.expires = append(r.expires, h.hold.ExpiresAt)
	r.resolved = append(r.resolved, pgtype.Timestamptz{Time: h.resolved, Valid: !h.resolved.IsZero()})
	r.orderID = append(r.orderID, nullUUID(h.orderID))
}

func (r *orderRows) add(e *topics.Outcome) {
	o := e.Order
	holdID := o.HoldID
	if holdID == uuid.Nil {
		holdID = e.Hold.ID
	}
	r.id = append(r.id, [16]byte(o.ID))
	r.holdID = append(r.holdID, [16]byte(holdID))
	r.eventID = append(r.eventID, [16]byte(e.EventID))
	r.zoneID = append(r.zoneID, [16]byte(e.ZoneID))
	r.quantity = append(r.quantity, o.Quantity)
	r.customer = append(r.customer, text(o.CustomerID))
	r.created = append(r.created, o.CreatedAt)
}

// add records the request an event answers. A replay repeats the first answer: its
// hold, order or rejection, and the type of the event that gave it.
func (r *requestRows) add(e *topics.Outcome) {
	var (
		holdID, orderID uuid.UUID
		rej             = e.Rejection
		outType         = e.Type
		replayed        bool
	)
	if e.Hold != nil {
		holdID = e.Hold.ID
	}
	if e.Order != nil {
		orderID = e.Order.ID
	}
	if e.Type == topics.OutRequestReplayed {
		replayed, holdID, orderID, rej = true, e.Replay.HoldID, e.Replay.OrderID, e.Replay.Rejection
		if e.Replay.OriginalType != "" {
			outType = e.Replay.OriginalType
		}
	}
	status := "succeeded"
	var reason, message pgtype.Text
	var available pgtype.Int8
	if e.Type == topics.OutRequestRejected || e.Type == topics.OutPaymentRefundRequired || rej != nil {
		status = "rejected"
		if rej != nil {
			reason, message = text(string(rej.Reason)), text(rej.Message)
			if rej.Reason == topics.ReasonInsufficientCapacity {
				available = pgtype.Int8{Int64: rej.Available, Valid: true}
			}
		}
	}
	r.id = append(r.id, [16]byte(e.RequestID))
	r.typ = append(r.typ, string(commandType(e)))
	r.eventID = append(r.eventID, [16]byte(e.EventID))
	r.zoneID = append(r.zoneID, [16]byte(e.ZoneID))
	r.status = append(r.status, status)
	r.eventType = append(r.eventType, string(outType))
	r.holdID = append(r.holdID, nullUUID(holdID))
	r.orderID = append(r.orderID, nullUUID(orderID))
	r.reason = append(r.reason, reason)
	r.message = append(r.message, message)
	r.available = append(r.available, available)
	r.replayed = append(r.replayed, replayed)
	r.decided = append(r.decided, e.Time)
	r.key = append(r.key, text(e.IdempotencyKey))
}

// commandType is the type of the command an event answers: the event's
// command field, or else what its type (or a replay's original type) implies. A
// rejection without the field cannot say; it is recorded with an empty type.
func commandType(e *topics.Outcome) topics.CommandType {
	if e.CommandType != "" {
		return e.CommandType
	}
	t := e.Type
	if t == topics.OutRequestReplayed && e.Replay != nil {
		t = e.Replay.OriginalType
	}
	return answeredCommands[t]
}

// answeredCommands maps each outcome that answers a request to the command type of
// that request; an expiration answers none.
var answeredCommands = map[topics.OutcomeType]topics.CommandType{
	topics.OutZoneConfigured:  topics.CmdConfigureZone,
	topics.OutHoldPlaced:      topics.CmdPlaceHold,
	topics.OutHoldConfirmed:   topics.CmdConfirmHold,
	topics.OutHoldReleased:    topics.CmdReleaseHold,
	topics.OutQueueConfigured: topics.CmdConfigureQueue,
	topics.OutQueueJoined:     topics.CmdJoinQueue,

	topics.OutHoldPaymentStarted:    topics.CmdStartPayment,
	topics.OutPaymentRefundRequired: topics.CmdConfirmHold,
	topics.OutOrderRefunded:         topics.CmdRefundOrder,
}

func text(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

func nullUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != uuid.Nil} }
