package zone

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// refModel is the simulation's reference: the rules written as plainly as possible,
// with linear scans instead of indexes, sharing no code with State.
type refModel struct {
	cfg             Config
	clock           int64
	seq             int
	zones           map[uuid.UUID]*refZone
	holds           map[uuid.UUID]*refHold // active and remembered resolved
	keys            map[string]*refKey     // zone + "/" + key
	keysEvicted     int64
	keysRejected    int64
	resolvedEvicted int64
	// sunk: every decision at or before it is in the read model. The simulation
	// only ever passes a time before the clock, so no later decision is covered.
	sunk int64
}

type refZone struct {
	id, eventID             uuid.UUID
	eventName, zoneName     string
	capacity, held, sold    int64
	ttlSeconds, hqm, climit int64
	ordered                 map[string]int64
}

type refHold struct {
	id, zone, orderID uuid.UUID
	qty               int64
	customer          string
	created, expires  int64
	status            topics.HoldStatus
	placeSeq          int
	resolvedAt        int64
	resolveSeq        int
}

type refKey struct {
	payload   string
	decidedAt int64
	seq       int
	replay    topics.Replay
}

func newRefModel(cfg Config) *refModel {
	return &refModel{cfg: cfg, zones: map[uuid.UUID]*refZone{}, holds: map[uuid.UUID]*refHold{}, keys: map[string]*refKey{},
		sunk: math.MinInt64}
}

func (m *refModel) setSunkThrough(t time.Time) { m.sunk = max(m.sunk, t.UnixNano()) }

// oldestKey returns the name of the key decided first.
func (m *refModel) oldestKey() string {
	oldest := ""
	for name, e := range m.keys {
		if oldest == "" || e.seq < m.keys[oldest].seq {
			oldest = name
		}
	}
	return oldest
}

func (m *refModel) inventory(z *refZone) topics.Inventory {
	if z == nil {
		return topics.Inventory{}
	}
	return topics.Inventory{Capacity: z.capacity, Available: z.capacity - z.held - z.sold, Held: z.held, Sold: z.sold}
}

func (m *refModel) holdView(h *refHold) *topics.Hold {
	return &topics.Hold{ID: h.id, Status: h.status, Quantity: h.qty, CustomerID: h.customer,
		CreatedAt: time.Unix(0, h.created).UTC(), ExpiresAt: time.Unix(0, h.expires).UTC()}
}

func (m *refModel) now() time.Time { return time.Unix(0, m.clock).UTC() }

func (m *refModel) nextExpiry() (time.Time, bool) {
	var best *refHold
	for _, h := range m.holds {
		if h.status == topics.HoldActive && (best == nil || h.expires < best.expires) {
			best = h
		}
	}
	if best == nil {
		return time.Time{}, false
	}
	return time.Unix(0, best.expires).UTC(), true
}

func (m *refModel) stats() Stats {
	st := Stats{Zones: len(m.zones), Keys: len(m.keys), KeysEvictedEarly: m.keysEvicted,
		KeysRejectedFull: m.keysRejected, ResolvedEvictedEarly: m.resolvedEvicted}
	for _, h := range m.holds {
		if h.status == topics.HoldActive {
			st.ActiveHolds++
		} else {
			st.ResolvedHolds++
		}
	}
	return st
}

func (m *refModel) advance(now time.Time) []topics.Outcome {
	m.clock = max(m.clock, now.UnixNano())
	var due []*refHold
	for _, h := range m.holds {
		if h.status == topics.HoldActive && h.expires <= m.clock {
			due = append(due, h)
		}
	}
	slices.SortFunc(due, func(a, b *refHold) int {
		if a.expires != b.expires {
			return int(a.expires - b.expires)
		}
		return a.placeSeq - b.placeSeq
	})
	var evs []topics.Outcome
	for _, h := range due {
		z := m.zones[h.zone]
		m.resolve(h, topics.HoldExpired)
		evs = append(evs, topics.Outcome{Version: 1, Type: topics.OutHoldExpired, Time: m.now(), EventID: z.eventID,
			ZoneID: z.id, Zone: m.inventory(z), Hold: m.holdView(h)})
	}
	for k, e := range m.keys {
		if e.decidedAt+int64(m.cfg.IdempotencyRetention) <= m.clock {
			delete(m.keys, k)
		}
	}
	for id, h := range m.holds {
		if h.status != topics.HoldActive && h.resolvedAt+int64(m.cfg.IdempotencyRetention) <= m.clock {
			delete(m.holds, id)
		}
	}
	return evs
}

func (m *refModel) resolve(h *refHold, to topics.HoldStatus) {
	z := m.zones[h.zone]
	z.held -= h.qty
	if to == topics.HoldConfirmed {
		z.sold += h.qty
		if h.customer != "" {
			z.ordered[h.customer] += h.qty
		}
	}
	h.status = to
	m.seq++
	h.resolvedAt, h.resolveSeq = m.clock, m.seq
	var resolved []*refHold
	for _, o := range m.holds {
		if o.status != topics.HoldActive {
			resolved = append(resolved, o)
		}
	}
	if len(resolved) > m.cfg.ResolvedHoldsMax {
		oldest := slices.MinFunc(resolved, func(a, b *refHold) int { return a.resolveSeq - b.resolveSeq })
		delete(m.holds, oldest.id)
		m.resolvedEvicted++
	}
}

func refPayload(cmd *topics.Command) string {
	opt := func(p *int64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	switch cmd.Type {
	case topics.CmdPlaceHold:
		return fmt.Sprintf("place %d %q", cmd.Place.Quantity, cmd.Place.CustomerID)
	case topics.CmdConfirmHold:
		return "confirm " + cmd.Confirm.HoldID.String()
	case topics.CmdReleaseHold:
		return "release " + cmd.Release.HoldID.String()
	default:
		c := cmd.Configure
		return fmt.Sprintf("configure %q %q %s %s %s %s", c.EventName, c.ZoneName, opt(c.Capacity),
			opt(c.HoldTTLSeconds), opt(c.HoldQuantityMax), opt(c.CustomerLimit))
	}
}

// apply is Apply's rules, in plain code.
func (m *refModel) apply(cmd *topics.Command, now time.Time) []topics.Outcome {
	evs := m.advance(now)
	z := m.zones[cmd.ZoneID]
	ev := topics.Outcome{Version: 1, Time: m.now(), EventID: cmd.EventID, ZoneID: cmd.ZoneID, RequestID: cmd.RequestID,
		IdempotencyKey: cmd.IdempotencyKey, CommandType: cmd.Type, Zone: m.inventory(z)}
	if z != nil {
		ev.EventID = z.eventID
	}
	reject := func(r topics.Reason, available int64) []topics.Outcome {
		ev.Type = topics.OutRequestRejected
		ev.Rejection = &topics.Rejection{Reason: r, Available: available}
		return append(evs, ev)
	}
	payloadOK := map[topics.CommandType]bool{
		topics.CmdConfigureZone: cmd.Configure != nil, topics.CmdPlaceHold: cmd.Place != nil,
		topics.CmdConfirmHold: cmd.Confirm != nil, topics.CmdReleaseHold: cmd.Release != nil,
	}[cmd.Type]
	if !payloadOK || cmd.RequestID == uuid.Nil || len(cmd.IdempotencyKey) > topics.TextBytesMax ||
		(cmd.Type == topics.CmdConfirmHold && cmd.IdempotencyKey == "") {
		return reject(topics.ReasonInvalidCommand, 0)
	}
	keyName := cmd.ZoneID.String() + "/" + cmd.IdempotencyKey
	if k := m.keys[keyName]; cmd.IdempotencyKey != "" && k != nil {
		if k.payload != refPayload(cmd) {
			return reject(topics.ReasonIdempotencyConflict, 0)
		}
		ev.Type = topics.OutRequestReplayed
		r := k.replay
		ev.Replay = &r
		return append(evs, ev)
	}
	if cmd.IdempotencyKey != "" {
		// A full partition forgets its oldest key only if the read model has it.
		for len(m.keys) >= m.cfg.KeysMax {
			oldest := m.oldestKey()
			if m.keys[oldest].decidedAt > m.sunk {
				m.keysRejected++
				return reject(topics.ReasonPartitionFull, 0)
			}
			delete(m.keys, oldest)
			m.keysEvicted++
		}
	}
	ev = m.decide(cmd, ev)
	if cmd.IdempotencyKey != "" {
		m.seq++
		k := &refKey{payload: refPayload(cmd), decidedAt: m.clock, seq: m.seq,
			replay: topics.Replay{OriginalRequestID: cmd.RequestID, OriginalType: ev.Type, Rejection: ev.Rejection}}
		if ev.Hold != nil {
			k.replay.HoldID = ev.Hold.ID
		}
		if ev.Order != nil {
			k.replay.OrderID = ev.Order.ID
		}
		m.keys[keyName] = k
	}
	return append(evs, ev)
}

// decide fills ev with the answer to a well-formed command that is not a replay.
func (m *refModel) decide(cmd *topics.Command, ev topics.Outcome) topics.Outcome {
	z := m.zones[cmd.ZoneID]
	reject := func(r topics.Reason, available int64) topics.Outcome {
		ev.Type = topics.OutRequestRejected
		ev.Rejection = &topics.Rejection{Reason: r, Available: available}
		return ev
	}
	if z == nil && cmd.Type != topics.CmdConfigureZone {
		return reject(topics.ReasonZoneNotFound, 0)
	}
	switch cmd.Type {
	case topics.CmdConfigureZone:
		return m.configure(cmd, ev, reject)
	case topics.CmdPlaceHold:
		p := cmd.Place
		var active int64
		for _, h := range m.holds {
			if h.zone == z.id && h.status == topics.HoldActive && h.customer == p.CustomerID {
				active += h.qty
			}
		}
		available := z.capacity - z.held - z.sold
		switch {
		case p.Quantity < 1 || len(p.CustomerID) > topics.TextBytesMax || m.holds[cmd.RequestID] != nil:
			return reject(topics.ReasonInvalidCommand, 0)
		case p.Quantity > z.hqm:
			return reject(topics.ReasonQuantityOverLimit, 0)
		case p.CustomerID != "" && z.climit > 0 && active+z.ordered[p.CustomerID]+p.Quantity > z.climit:
			return reject(topics.ReasonCustomerLimitExceeded, 0)
		case p.Quantity > available:
			return reject(topics.ReasonInsufficientCapacity, available)
		case m.stats().ActiveHolds >= m.cfg.HoldsMax:
			return reject(topics.ReasonPartitionFull, 0)
		}
		m.seq++
		h := &refHold{id: cmd.RequestID, zone: z.id, qty: p.Quantity, customer: p.CustomerID, created: m.clock,
			expires: m.clock + z.ttlSeconds*int64(time.Second), status: topics.HoldActive, placeSeq: m.seq}
		m.holds[h.id] = h
		z.held += h.qty
		ev.Type, ev.Zone, ev.Hold = topics.OutHoldPlaced, m.inventory(z), m.holdView(h)
		return ev
	default:
		var id uuid.UUID
		if cmd.Confirm != nil {
			id = cmd.Confirm.HoldID
		} else {
			id = cmd.Release.HoldID
		}
		h := m.holds[id]
		switch {
		case h == nil || h.zone != z.id:
			return reject(topics.ReasonHoldNotFound, 0)
		case h.status == topics.HoldConfirmed:
			return reject(topics.ReasonHoldAlreadyConfirmed, 0)
		case h.status == topics.HoldReleased:
			return reject(topics.ReasonHoldAlreadyReleased, 0)
		case h.status == topics.HoldExpired || h.expires <= m.clock:
			return reject(topics.ReasonHoldExpired, 0)
		}
		if cmd.Type == topics.CmdConfirmHold {
			h.orderID = cmd.RequestID
			m.resolve(h, topics.HoldConfirmed)
			ev.Type = topics.OutHoldConfirmed
			ev.Order = &topics.Order{ID: h.orderID, HoldID: h.id, Quantity: h.qty, CustomerID: h.customer, CreatedAt: m.now()}
		} else {
			m.resolve(h, topics.HoldReleased)
			ev.Type = topics.OutHoldReleased
		}
		ev.Zone, ev.Hold = m.inventory(z), m.holdView(h)
		return ev
	}
}

func (m *refModel) configure(cmd *topics.Command, ev topics.Outcome, reject func(topics.Reason, int64) topics.Outcome) topics.Outcome {
	c := cmd.Configure
	z := m.zones[cmd.ZoneID]
	created := z == nil
	if created {
		n := 0
		for _, set := range []bool{c.EventName != "", c.ZoneName != "", c.Capacity != nil} {
			if set {
				n++
			}
		}
		if n == 0 {
			return reject(topics.ReasonZoneNotFound, 0)
		}
		if n < 3 {
			return reject(topics.ReasonInvalidCommand, 0)
		}
		z = &refZone{id: cmd.ZoneID, eventID: cmd.EventID, ttlSeconds: int64(m.cfg.HoldTTLDefault / time.Second),
			hqm: m.cfg.HoldQuantityMaxDefault, ordered: map[string]int64{}}
	}
	next := *z
	if c.EventName != "" {
		next.eventName = c.EventName
	}
	if c.ZoneName != "" {
		next.zoneName = c.ZoneName
	}
	if len(c.EventName) > topics.TextBytesMax || len(c.ZoneName) > topics.TextBytesMax {
		return reject(topics.ReasonInvalidCommand, 0)
	}
	if c.Capacity != nil {
		if *c.Capacity < 0 || *c.Capacity > topics.ZoneCapacityMax {
			return reject(topics.ReasonInvalidCommand, 0)
		}
		next.capacity = *c.Capacity
	}
	if c.HoldTTLSeconds != nil {
		d := time.Duration(*c.HoldTTLSeconds) * time.Second
		if *c.HoldTTLSeconds < 0 || *c.HoldTTLSeconds > 1e6 || d < topics.HoldTTLMin || d > topics.HoldTTLMax {
			return reject(topics.ReasonInvalidTTL, 0)
		}
		next.ttlSeconds = *c.HoldTTLSeconds
	}
	if c.HoldQuantityMax != nil {
		if *c.HoldQuantityMax < 1 || *c.HoldQuantityMax > topics.ZoneCapacityMax {
			return reject(topics.ReasonInvalidCommand, 0)
		}
		next.hqm = *c.HoldQuantityMax
	}
	if c.CustomerLimit != nil {
		if *c.CustomerLimit < 0 || *c.CustomerLimit > topics.ZoneCapacityMax {
			return reject(topics.ReasonInvalidCommand, 0)
		}
		next.climit = *c.CustomerLimit
	}
	if next.capacity < next.held+next.sold {
		return reject(topics.ReasonCapacityBelowTaken, 0)
	}
	if created && len(m.zones) >= m.cfg.ZonesMax {
		return reject(topics.ReasonPartitionFull, 0)
	}
	*z = next
	m.zones[z.id] = z
	ev.Type, ev.EventID, ev.Zone = topics.OutZoneConfigured, z.eventID, m.inventory(z)
	ev.Config = &topics.ZoneConfig{EventName: z.eventName, ZoneName: z.zoneName, Capacity: z.capacity,
		HoldTTLSeconds: z.ttlSeconds, HoldQuantityMax: z.hqm, CustomerLimit: z.climit, Created: created}
	return ev
}
