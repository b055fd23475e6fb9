package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Limits of the admin routes.
const (
	zonesPerEventMax  = 64
	zoneCapacityMax   = topics.ZoneCapacityMax
	holdTTLSecondsMin = int64(topics.HoldTTLMin / time.Second)
	holdTTLSecondsMax = int64(topics.HoldTTLMax / time.Second)
)

// zoneSettings are the zone fields an admin may set; nil keeps the current value
// (or the processor's default, on creation).
type zoneSettings struct {
	Capacity        *int64 `json:"capacity"`
	HoldTTLSeconds  *int64 `json:"hold_ttl_seconds"`
	HoldQuantityMax *int64 `json:"hold_quantity_max"`
	CustomerLimit   *int64 `json:"customer_limit"`
	// PriceMinor and Currency price the zone's tickets (payment.go).
	PriceMinor *int64  `json:"price_minor"`
	Currency   *string `json:"currency"`
}

type createZoneBody struct {
	Name *string `json:"name"`
	zoneSettings
}

type createEventBody struct {
	Name  *string          `json:"name"`
	Zones []createZoneBody `json:"zones"`
	// WaitingRoom, when set, puts every zone behind the event's waiting room.
	WaitingRoom *waitingRoomBody `json:"waiting_room"`
}

// createdZoneJSON names a zone POST /events created and the request that creates it.
type createdZoneJSON struct {
	ID        uuid.UUID     `json:"id"`
	Name      string        `json:"name"`
	RequestID uuid.UUID     `json:"request_id"`
	Status    RequestStatus `json:"status"`
}

type createdEventJSON struct {
	EventID     uuid.UUID         `json:"event_id"`
	Status      RequestStatus     `json:"status"`
	Zones       []createdZoneJSON `json:"zones"`
	WaitingRoom *roomRequestJSON  `json:"waiting_room,omitempty"`
}

// createEvent creates an event by configuring each of its zones: one command per
// zone, the first of which makes the event exist in the read model. If publishing
// fails midway, the zones already published are created all the same and the
// answer is 503; the event's other zones can be added with a new POST /events only
// under a new event id, so retrying is the admin's call.
func (s *server) createEvent(c *gin.Context) {
	var b createEventBody
	if err := s.decodeJSON(c, &b); err != nil {
		s.fail(c, err)
		return
	}
	if err := checkCreateEvent(&b); err != nil {
		s.fail(c, err)
		return
	}
	eventID := uuid.Must(uuid.NewV7())
	out := createdEventJSON{EventID: eventID, Status: RequestPending, Zones: make([]createdZoneJSON, 0, len(b.Zones))}
	zoneIDs := make([]uuid.UUID, len(b.Zones))
	for i := range zoneIDs {
		zoneIDs[i] = uuid.Must(uuid.NewV7())
	}
	var room *topics.Command
	if b.WaitingRoom != nil {
		q, err := b.WaitingRoom.command(s.now(), zoneIDs)
		if err != nil {
			s.fail(c, err)
			return
		}
		room = s.newQueueCommand(topics.CmdConfigureQueue, eventID)
		room.Queue = q
	}
	ids := make([]uuid.UUID, 0, len(b.Zones)+1)
	for i, z := range b.Zones {
		cmd := s.newCommand(topics.CmdConfigureZone, eventID, zoneIDs[i], "")
		cmd.Configure = z.command()
		cmd.Configure.EventName, cmd.Configure.ZoneName = *b.Name, *z.Name
		if room != nil {
			cmd.Configure.WaitingRoom = &room.Queue.Enabled
		}
		if err := s.publish(c, cmd); err != nil {
			s.fail(c, err)
			return
		}
		out.Zones = append(out.Zones, createdZoneJSON{ID: cmd.ZoneID, Name: *z.Name, RequestID: cmd.RequestID, Status: RequestPending})
		ids = append(ids, cmd.RequestID)
	}
	if room != nil {
		if err := s.publish(c, room); err != nil {
			s.fail(c, err)
			return
		}
		out.WaitingRoom = &roomRequestJSON{RequestID: room.RequestID, Status: RequestPending}
		ids = append(ids, room.RequestID)
	}
	if results, ok := s.awaitResults(c, ids...); ok {
		s.answerCreatedEvent(c, out, results)
		return
	}
	s.accepted(c, "/events/"+eventID.String(), out)
}

// answerCreatedEvent answers a POST /events whose zones were all decided: 201, or
// the first rejection.
func (s *server) answerCreatedEvent(c *gin.Context, out createdEventJSON, results []RequestResult) {
	out.Status = RequestSucceeded
	for i := range results {
		if i < len(out.Zones) {
			out.Zones[i].Status = results[i].Status
		} else {
			out.WaitingRoom.Status = results[i].Status
		}
		if results[i].Status != RequestSucceeded {
			o := decide(&results[i])
			c.JSON(o.code, waitedBody(&results[i], o))
			return
		}
	}
	c.Header("Location", "/events/"+out.EventID.String())
	c.JSON(http.StatusCreated, out)
}

func checkCreateEvent(b *createEventBody) *Error {
	if b.Name == nil {
		return missing("name")
	}
	if err := checkText(*b.Name, "name", nameBytesMax); err != nil {
		return err
	}
	if len(b.Zones) == 0 || len(b.Zones) > zonesPerEventMax {
		return invalid("invalid_field", "field \"zones\" must list 1 to %d zones", zonesPerEventMax)
	}
	names := make(map[string]bool, len(b.Zones))
	for _, z := range b.Zones {
		if z.Name == nil {
			return missing("zones[].name")
		}
		if err := checkText(*z.Name, "zones[].name", nameBytesMax); err != nil {
			return err
		}
		if names[*z.Name] {
			return invalid("duplicate_zone_name", "zone name %q appears twice", *z.Name)
		}
		names[*z.Name] = true
		if z.Capacity == nil {
			return missing("zones[].capacity")
		}
		if err := z.check(); err != nil {
			return err
		}
	}
	return nil
}

// check checks the settings that are set.
func (z *zoneSettings) check() *Error {
	checks := []struct {
		v        *int64
		field    string
		min, max int64
	}{
		{z.Capacity, "capacity", 0, zoneCapacityMax},
		{z.HoldTTLSeconds, "hold_ttl_seconds", holdTTLSecondsMin, holdTTLSecondsMax},
		{z.HoldQuantityMax, "hold_quantity_max", topics.HoldQuantityMin, zoneCapacityMax},
		{z.CustomerLimit, "customer_limit", 0, zoneCapacityMax},
		{z.PriceMinor, "price_minor", 0, topics.PriceMinorMax},
	}
	for _, ch := range checks {
		if ch.v != nil && (*ch.v < ch.min || *ch.v > ch.max) {
			return invalid("invalid_field", "field %q must be %d to %d", ch.field, ch.min, ch.max)
		}
	}
	return z.checkPrice()
}

func (z *zoneSettings) empty() bool {
	return z.Capacity == nil && z.HoldTTLSeconds == nil && z.HoldQuantityMax == nil && z.CustomerLimit == nil &&
		z.PriceMinor == nil && z.Currency == nil
}

func (z *zoneSettings) command() *topics.ConfigureZone {
	c := &topics.ConfigureZone{Capacity: z.Capacity, HoldTTLSeconds: z.HoldTTLSeconds,
		HoldQuantityMax: z.HoldQuantityMax, CustomerLimit: z.CustomerLimit, PriceMinor: z.PriceMinor}
	if z.Currency != nil {
		c.Currency = *z.Currency
	}
	return c
}

// patchZone changes a zone's capacity, TTL or limits. The processor decides whether
// the change fits (capacity cannot drop below the tickets held and sold).
func (s *server) patchZone(c *gin.Context) {
	eventID, err := parseID(c.Param("id"), "event id")
	if err != nil {
		s.fail(c, err)
		return
	}
	zoneID, err := parseID(c.Param("zone_id"), "zone id")
	if err != nil {
		s.fail(c, err)
		return
	}
	var b zoneSettings
	if err := s.decodeJSON(c, &b); err != nil {
		s.fail(c, err)
		return
	}
	if b.empty() {
		s.fail(c, invalid("empty_patch", "set at least one of capacity, hold_ttl_seconds, hold_quantity_max, customer_limit, price_minor, currency"))
		return
	}
	if err := b.check(); err != nil {
		s.fail(c, err)
		return
	}
	key := c.GetHeader("Idempotency-Key")
	if key != "" {
		if err := checkText(key, "Idempotency-Key", idempotencyKeyBytesMax); err != nil {
			s.fail(c, err)
			return
		}
	}
	if _, err := s.zoneOfEvent(c, eventID, zoneID); err != nil {
		s.fail(c, err)
		return
	}
	cmd := s.newCommand(topics.CmdConfigureZone, eventID, zoneID, key)
	cmd.Configure = b.command()
	s.submit(c, cmd)
	// This API's next submit to the zone reads its new settings (once the read
	// model has them: with Prefer: wait, at once); others within ZoneCacheTTL.
	s.zones.forget(zoneID)
}
