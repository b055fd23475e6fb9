package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Limits of a waiting room's times, so that a typo cannot open a room in a century.
const (
	// roomScheduleAheadMax is how far in the future opens_at and starts_at may be.
	roomScheduleAheadMax = 366 * 24 * time.Hour
	// roomScheduleBehindMax is how far in the past they may be (a room opened now,
	// with a client clock a little behind).
	roomScheduleBehindMax = 24 * time.Hour
)

// rateAutomatic is the rate_per_second that lets the queue writer follow what is
// left to sell.
const rateAutomatic = "automatic"

// waitingRoomBody is the waiting_room object of POST /events and PATCH
// /events/{id}. Every field is optional; an omitted one takes its default (see
// topics.ConfigureQueue). opens_at defaults to now, starts_at to opens_at.
type waitingRoomBody struct {
	Enabled       *bool           `json:"enabled"`
	OpensAt       *time.Time      `json:"opens_at"`
	StartsAt      *time.Time      `json:"starts_at"`
	RatePerSecond json.RawMessage `json:"rate_per_second"`
	RateMax       *float64        `json:"rate_max"`
	ShopSeconds   *int64          `json:"shop_seconds"`
	Allowance     *int64          `json:"allowance"`
	CustomerLimit *int64          `json:"customer_limit"`
}

// command checks the room and builds its queue.configure payload for zones.
func (b *waitingRoomBody) command(now time.Time, zones []uuid.UUID) (*topics.ConfigureQueue, *Error) {
	q := &topics.ConfigureQueue{Enabled: b.Enabled == nil || *b.Enabled, Zones: zones,
		OpensAt: now.UTC(), RateMax: topics.QueueRateMaxDefault, ShopSeconds: topics.QueueShopSecondsDefault,
		Allowance: topics.QueueAllowanceDefault}
	if b.OpensAt != nil {
		q.OpensAt = b.OpensAt.UTC()
	}
	q.StartsAt = q.OpensAt
	if b.StartsAt != nil {
		q.StartsAt = b.StartsAt.UTC()
	}
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"opens_at", q.OpensAt}, {"starts_at", q.StartsAt}} {
		if t.at.Before(now.Add(-roomScheduleBehindMax)) || t.at.After(now.Add(roomScheduleAheadMax)) {
			return nil, invalid("invalid_field", "field \"waiting_room.%s\" must be within a day before and a year after now", t.name)
		}
	}
	if q.StartsAt.Before(q.OpensAt) {
		return nil, invalid("invalid_field", "field \"waiting_room.starts_at\" must not be before opens_at")
	}
	rate, err := parseRate(b.RatePerSecond)
	if err != nil {
		return nil, err
	}
	q.RatePerSecond = rate
	if b.RateMax != nil {
		if *b.RateMax <= 0 || *b.RateMax > topics.QueueRateMax {
			return nil, invalid("invalid_field", "field \"waiting_room.rate_max\" must be above 0 and at most %g", topics.QueueRateMax)
		}
		q.RateMax = *b.RateMax
	}
	ints := []struct {
		v        *int64
		dst      *int64
		field    string
		min, max int64
	}{
		{b.ShopSeconds, &q.ShopSeconds, "shop_seconds", topics.QueueShopSecondsMin, topics.QueueShopSecondsMax},
		{b.Allowance, &q.Allowance, "allowance", 1, topics.QueueAllowanceMax},
		{b.CustomerLimit, &q.CustomerLimit, "customer_limit", 0, topics.QueueAllowanceMax},
	}
	for _, f := range ints {
		if f.v == nil {
			continue
		}
		if *f.v < f.min || *f.v > f.max {
			return nil, invalid("invalid_field", "field \"waiting_room.%s\" must be %d to %d", f.field, f.min, f.max)
		}
		*f.dst = *f.v
	}
	if q.CustomerLimit != 0 && q.CustomerLimit < q.Allowance {
		return nil, invalid("invalid_field", "field \"waiting_room.customer_limit\" must be 0 (the allowance) or at least the allowance")
	}
	return q, nil
}

// parseRate reads rate_per_second: a number of admissions per second, or
// "automatic" (0). Absent is automatic.
func parseRate(raw json.RawMessage) (float64, *Error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == rateAutomatic {
			return 0, nil
		}
		return 0, invalid("invalid_field", "field \"waiting_room.rate_per_second\" must be a number or \"automatic\"")
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f <= 0 || f > topics.QueueRateMax {
		return 0, invalid("invalid_field", "field \"waiting_room.rate_per_second\" must be above 0 and at most %g, or \"automatic\"", topics.QueueRateMax)
	}
	return f, nil
}

// newQueueCommand builds a command of the event's waiting room: keyed by the
// event, with a request id naming the event's partition.
func (s *server) newQueueCommand(typ topics.CommandType, eventID uuid.UUID) *topics.Command {
	now := s.now()
	id := newRequestID(now, topics.PartitionOf(eventID, s.cfg.Partitions))
	return &topics.Command{Version: topics.SchemaVersion, Type: typ, RequestID: id,
		EventID: eventID, SubmittedAt: now.UTC()}
}

// roomRequestJSON names the request that configures an event's waiting room.
type roomRequestJSON struct {
	RequestID uuid.UUID     `json:"request_id"`
	Status    RequestStatus `json:"status"`
}

// patchEventBody is PATCH /events/{id}: for now, its waiting room.
type patchEventBody struct {
	WaitingRoom *waitingRoomBody `json:"waiting_room"`
}

type patchedEventJSON struct {
	EventID     uuid.UUID         `json:"event_id"`
	Status      RequestStatus     `json:"status"`
	WaitingRoom roomRequestJSON   `json:"waiting_room"`
	Zones       []createdZoneJSON `json:"zones"`
}

// patchEvent sets (or, with "enabled": false, closes) an event's waiting room: the
// whole room configuration is replaced, omitted fields taking their defaults. It
// publishes queue.configure keyed by the event and, to every zone of the event as
// the read model knows it, zone.configure with waiting_room set to match.
func (s *server) patchEvent(c *gin.Context) {
	eventID, err := parseID(c.Param("id"), "event id")
	if err != nil {
		s.fail(c, err)
		return
	}
	var b patchEventBody
	if err := s.decodeJSON(c, &b); err != nil {
		s.fail(c, err)
		return
	}
	if b.WaitingRoom == nil {
		s.fail(c, invalid("empty_patch", "set waiting_room"))
		return
	}
	ctx, cancel := s.queryCtx(c)
	event, rerr := s.deps.Reads.Event(ctx, eventID)
	cancel()
	if rerr != nil {
		s.fail(c, readError(rerr, notFound("event_not_found", "event not found")))
		return
	}
	zones := make([]uuid.UUID, len(event.Zones))
	for i, z := range event.Zones {
		zones[i] = z.ID
	}
	q, err := b.WaitingRoom.command(s.now(), zones)
	if err != nil {
		s.fail(c, err)
		return
	}
	cmds := s.roomCommands(eventID, q, zones)
	out := patchedEventJSON{EventID: eventID, Status: RequestPending,
		WaitingRoom: roomRequestJSON{RequestID: cmds[0].RequestID, Status: RequestPending}}
	for i, z := range event.Zones {
		out.Zones = append(out.Zones, createdZoneJSON{ID: z.ID, Name: z.Name, RequestID: cmds[i+1].RequestID, Status: RequestPending})
		s.zones.forget(z.ID)
	}
	if !s.publishRoom(c, cmds) {
		return
	}
	ids := make([]uuid.UUID, len(cmds))
	for i, cmd := range cmds {
		ids[i] = cmd.RequestID
	}
	if results, ok := s.awaitResults(c, ids...); ok {
		for i := range results {
			if results[i].Status != RequestSucceeded {
				o := decide(&results[i])
				c.JSON(o.code, waitedBody(&results[i], o))
				return
			}
		}
		out.Status, out.WaitingRoom.Status = RequestSucceeded, RequestSucceeded
		for i := range out.Zones {
			out.Zones[i].Status = RequestSucceeded
		}
		c.JSON(http.StatusOK, out)
		return
	}
	s.accepted(c, "/events/"+eventID.String()+"/queue", out)
}

// roomCommands are the commands that put an event's zones behind its room (or take
// them out, when q is disabled): queue.configure first, then one zone.configure per
// zone.
func (s *server) roomCommands(eventID uuid.UUID, q *topics.ConfigureQueue, zones []uuid.UUID) []*topics.Command {
	cmd := s.newQueueCommand(topics.CmdConfigureQueue, eventID)
	cmd.Queue = q
	cmds := []*topics.Command{cmd}
	for _, z := range zones {
		zc := s.newCommand(topics.CmdConfigureZone, eventID, z, "")
		on := q.Enabled
		zc.Configure = &topics.ConfigureZone{WaitingRoom: &on}
		cmds = append(cmds, zc)
	}
	return cmds
}

// publishRoom publishes cmds; false when it answered an error. Commands already
// published stay published: retrying the PATCH is safe, as it replaces the room.
func (s *server) publishRoom(c *gin.Context, cmds []*topics.Command) bool {
	for _, err := range s.publishAll(c, cmds) {
		if err != nil {
			s.fail(c, err)
			return false
		}
	}
	return true
}
