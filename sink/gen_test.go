package sink

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// gen plays the processor: it makes a realistic, valid stream of events over a few
// zones (configure, place, confirm, release, expire, rejections, replays) and
// remembers what the read model should say afterwards.
type gen struct {
	rng     *rand.Rand
	now     time.Time
	eventID uuid.UUID
	zones   []*genZone
	answers []*topics.Outcome // answered requests, for replays

	requests int // events with a request id
	statuses map[uuid.UUID]topics.HoldStatus
	orders   int
}

type genZone struct {
	id     uuid.UUID
	cfg    topics.ZoneConfig
	inv    topics.Inventory
	active []topics.Hold
}

func newGen(seed uint64, zones int, capacity int64) *gen {
	g := &gen{
		rng:      rand.New(rand.NewPCG(seed, seed^0x5eed)),
		now:      time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		statuses: make(map[uuid.UUID]topics.HoldStatus),
	}
	g.eventID = g.uuid()
	for i := range zones {
		g.zones = append(g.zones, &genZone{id: g.uuid(), cfg: topics.ZoneConfig{
			EventName: "Concert", ZoneName: fmt.Sprintf("Zone %d", i), Capacity: capacity,
			HoldTTLSeconds: 600, HoldQuantityMax: 10, Created: true,
		}})
	}
	return g
}

func (g *gen) uuid() uuid.UUID {
	var u uuid.UUID
	for i := range u {
		u[i] = byte(g.rng.Uint32())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// event stamps a new event for zone z with the clock and the zone's inventory.
func (g *gen) event(z *genZone, typ topics.OutcomeType, cmd topics.CommandType) *topics.Outcome {
	g.now = g.now.Add(time.Millisecond)
	e := &topics.Outcome{Version: topics.SchemaVersion, Type: typ, Time: g.now, EventID: g.eventID,
		ZoneID: z.id, CommandType: cmd}
	if cmd != "" {
		e.RequestID = g.uuid()
		e.IdempotencyKey = "key-" + e.RequestID.String()[:8]
		g.requests++
	}
	return e
}

func (g *gen) stamp(z *genZone, e *topics.Outcome) *topics.Outcome {
	e.Zone = z.inv
	if e.RequestID != uuid.Nil && g.rng.IntN(4) == 0 {
		g.answers = append(g.answers, e)
	}
	return e
}

// configure makes every zone; the stream starts with it.
func (g *gen) configure() []*topics.Outcome {
	var out []*topics.Outcome
	for _, z := range g.zones {
		z.inv = topics.Inventory{Capacity: z.cfg.Capacity, Available: z.cfg.Capacity}
		e := g.event(z, topics.OutZoneConfigured, topics.CmdConfigureZone)
		cfg := z.cfg
		e.Config = &cfg
		out = append(out, g.stamp(z, e))
	}
	return out
}

// next makes one more event: mostly places and confirms, some expiries,
// releases, rejections and replays.
func (g *gen) next() *topics.Outcome {
	z := g.zones[g.rng.IntN(len(g.zones))]
	switch r := g.rng.IntN(100); {
	case r < 45 || len(z.active) == 0:
		return g.place(z)
	case r < 70:
		return g.resolve(z, topics.OutHoldConfirmed)
	case r < 88:
		return g.resolve(z, topics.OutHoldExpired)
	case r < 93:
		return g.resolve(z, topics.OutHoldReleased)
	case r < 97 || len(g.answers) == 0:
		e := g.event(z, topics.OutRequestRejected, topics.CmdConfirmHold)
		e.Rejection = &topics.Rejection{Reason: topics.ReasonHoldNotFound, Message: "no such hold"}
		return g.stamp(z, e)
	default:
		return g.replay()
	}
}

func (g *gen) place(z *genZone) *topics.Outcome {
	q := 1 + g.rng.Int64N(4)
	if z.inv.Available < q {
		e := g.event(z, topics.OutRequestRejected, topics.CmdPlaceHold)
		e.Rejection = &topics.Rejection{Reason: topics.ReasonInsufficientCapacity,
			Message: "not enough tickets", Available: z.inv.Available}
		return g.stamp(z, e)
	}
	e := g.event(z, topics.OutHoldPlaced, topics.CmdPlaceHold)
	h := topics.Hold{ID: e.RequestID, Status: topics.HoldActive, Quantity: q,
		CustomerID: fmt.Sprintf("c%d", g.rng.IntN(1000)), CreatedAt: g.now, ExpiresAt: g.now.Add(10 * time.Minute)}
	z.inv.Available -= q
	z.inv.Held += q
	z.active = append(z.active, h)
	g.statuses[h.ID] = topics.HoldActive
	e.Hold = &h
	return g.stamp(z, e)
}

func (g *gen) resolve(z *genZone, typ topics.OutcomeType) *topics.Outcome {
	i := g.rng.IntN(len(z.active))
	h := z.active[i]
	z.active[i] = z.active[len(z.active)-1]
	z.active = z.active[:len(z.active)-1]
	var cmd topics.CommandType
	switch typ {
	case topics.OutHoldConfirmed:
		cmd = topics.CmdConfirmHold
		h.Status = topics.HoldConfirmed
		z.inv.Held -= h.Quantity
		z.inv.Sold += h.Quantity
	case topics.OutHoldReleased:
		cmd = topics.CmdReleaseHold
		h.Status = topics.HoldReleased
		z.inv.Held -= h.Quantity
		z.inv.Available += h.Quantity
	case topics.OutHoldExpired:
		h.Status = topics.HoldExpired
		z.inv.Held -= h.Quantity
		z.inv.Available += h.Quantity
	}
	e := g.event(z, typ, cmd)
	e.Hold = &h
	g.statuses[h.ID] = h.Status
	if typ == topics.OutHoldConfirmed {
		e.Order = &topics.Order{ID: e.RequestID, HoldID: h.ID, Quantity: h.Quantity,
			CustomerID: h.CustomerID, CreatedAt: g.now}
		g.orders++
	}
	return g.stamp(z, e)
}

// replay answers a retry of an earlier request with that request's answer.
func (g *gen) replay() *topics.Outcome {
	orig := g.answers[g.rng.IntN(len(g.answers))]
	var z *genZone
	for _, zz := range g.zones {
		if zz.id == orig.ZoneID {
			z = zz
		}
	}
	e := g.event(z, topics.OutRequestReplayed, orig.CommandType)
	e.Replay = &topics.Replay{OriginalRequestID: orig.RequestID, OriginalType: orig.Type, Rejection: orig.Rejection}
	if orig.Hold != nil {
		e.Replay.HoldID = orig.Hold.ID
	}
	if orig.Order != nil {
		e.Replay.OrderID = orig.Order.ID
	}
	return g.stamp(z, e)
}

// stream is the configuration of every zone followed by n more events.
func (g *gen) stream(n int) []*topics.Outcome {
	out := g.configure()
	for range n {
		out = append(out, g.next())
	}
	return out
}
