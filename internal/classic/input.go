package classic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Input limits, the pipeline's.
const (
	textBytesMax      = topics.TextBytesMax
	zonesPerEventMax  = 64
	zoneCapacityMax   = topics.ZoneCapacityMax
	holdTTLSecondsMin = int64(topics.HoldTTLMin / time.Second)
	holdTTLSecondsMax = int64(topics.HoldTTLMax / time.Second)
	holdTTLDefault    = int64(topics.HoldTTLDefault / time.Second)
	batchHoldsMax     = 1000
)

// readBody reads a JSON request body of at most limit bytes, valid UTF-8.
func readBody(c *gin.Context, limit int64) ([]byte, *Error) {
	mediaType, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return nil, newError(KindUnsupportedType, "unsupported_media_type", "the body must be application/json")
	}
	tooLarge := newError(KindTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes", limit))
	if c.Request.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, invalid("invalid_body", "reading the body: %v", err)
	}
	if !utf8.Valid(body) {
		return nil, invalid("invalid_text", "the body is not valid UTF-8")
	}
	return body, nil
}

// decodeStrict decodes exactly one JSON value into dst, refusing fields dst lacks.
func decodeStrict(body []byte, dst any) *Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return invalid("invalid_json", "the body must hold one JSON object")
	}
	return nil
}

func jsonError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return invalid("invalid_json", "the body is empty")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid("unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &typeErr):
		return invalid("invalid_field", "field %q must be a JSON %s", typeErr.Field, typeErr.Type)
	default:
		return invalid("invalid_json", "the body is not valid JSON: %v", err)
	}
}

// parseID parses a UUID in its 36-character form; what names it in the error.
func parseID(s, what string) (uuid.UUID, *Error) {
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil || len(s) != 36 {
		return uuid.Nil, invalid("invalid_id", "%s must be a UUID in its 36-character form", what)
	}
	return id, nil
}

func requiredID(s *string, field string) (uuid.UUID, *Error) {
	if s == nil {
		return uuid.Nil, missing(field)
	}
	return parseID(*s, field)
}

// checkText checks that a text value can be stored: 1 to limit bytes of valid UTF-8
// without NUL (a Postgres text value cannot hold 0x00).
func checkText(s, field string, limit int) *Error {
	if s == "" || len(s) > limit {
		return invalid("invalid_field", "field %q must be 1 to %d bytes", field, limit)
	}
	if !utf8.ValidString(s) {
		return invalid("invalid_text", "field %q is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("invalid_text", "field %q must not contain NUL (U+0000)", field)
	}
	return nil
}

// holdBody is one hold as POST /holds and each item of a batch carry it. Pointers
// tell a missing field from a zero one.
type holdBody struct {
	EventID        *string `json:"event_id"`
	ZoneID         *string `json:"zone_id"`
	Quantity       *int64  `json:"quantity"`
	IdempotencyKey *string `json:"idempotency_key"`
	CustomerID     *string `json:"customer_id"`
}

// holdRequest is a checked hold request.
type holdRequest struct {
	EventID, ZoneID uuid.UUID
	Quantity        int64
	IdempotencyKey  string
	CustomerID      string
}

// check validates b as the pipeline does before queueing it.
func (b *holdBody) check() (holdRequest, *Error) {
	var r holdRequest
	var err *Error
	if r.EventID, err = requiredID(b.EventID, "event_id"); err != nil {
		return r, err
	}
	if r.ZoneID, err = requiredID(b.ZoneID, "zone_id"); err != nil {
		return r, err
	}
	if b.Quantity == nil {
		return r, missing("quantity")
	}
	if *b.Quantity <= 0 {
		return r, invalid("invalid_quantity", "quantity must be at least 1")
	}
	if *b.Quantity > zoneCapacityMax {
		return r, quantityOverLimit(zoneCapacityMax)
	}
	r.Quantity = *b.Quantity
	if b.IdempotencyKey == nil {
		return r, missing("idempotency_key")
	}
	if err := checkText(*b.IdempotencyKey, "idempotency_key", textBytesMax); err != nil {
		return r, err
	}
	r.IdempotencyKey = *b.IdempotencyKey
	if b.CustomerID != nil {
		if err := checkText(*b.CustomerID, "customer_id", textBytesMax); err != nil {
			return r, err
		}
		r.CustomerID = *b.CustomerID
	}
	return r, nil
}

type zoneBody struct {
	Name            *string `json:"name"`
	Capacity        *int64  `json:"capacity"`
	HoldTTLSeconds  *int64  `json:"hold_ttl_seconds"`
	HoldQuantityMax *int64  `json:"hold_quantity_max"`
	// CustomerLimit is accepted for the contract's sake; only 0 (no limit) is
	// supported here.
	CustomerLimit *int64 `json:"customer_limit"`
}

type eventBody struct {
	Name  *string    `json:"name"`
	Zones []zoneBody `json:"zones"`
}

// newZone is a checked zone of a new event.
type newZone struct {
	ID                                        uuid.UUID
	Name                                      string
	Capacity, HoldTTLSeconds, HoldQuantityMax int64
}

// check validates a POST /events body as the pipeline does, with the classic
// server's defaults filled in.
func (b *eventBody) check() (string, []newZone, *Error) {
	if b.Name == nil {
		return "", nil, missing("name")
	}
	if err := checkText(*b.Name, "name", textBytesMax); err != nil {
		return "", nil, err
	}
	if len(b.Zones) == 0 || len(b.Zones) > zonesPerEventMax {
		return "", nil, invalid("invalid_field", "field \"zones\" must list 1 to %d zones", zonesPerEventMax)
	}
	zones := make([]newZone, 0, len(b.Zones))
	names := make(map[string]bool, len(b.Zones))
	for _, z := range b.Zones {
		nz, err := z.check()
		if err != nil {
			return "", nil, err
		}
		if names[nz.Name] {
			return "", nil, invalid("duplicate_zone_name", "zone name %q appears twice", nz.Name)
		}
		names[nz.Name] = true
		zones = append(zones, nz)
	}
	return *b.Name, zones, nil
}

func (z *zoneBody) check() (newZone, *Error) {
	if z.Name == nil {
		return newZone{}, missing("zones[].name")
	}
	if err := checkText(*z.Name, "zones[].name", textBytesMax); err != nil {
		return newZone{}, err
	}
	if z.Capacity == nil {
		return newZone{}, missing("zones[].capacity")
	}
	nz := newZone{ID: uuid.Must(uuid.NewV7()), Name: *z.Name, Capacity: *z.Capacity, HoldTTLSeconds: holdTTLDefault}
	ranges := []struct {
		v        *int64
		field    string
		min, max int64
		dst      *int64
	}{
		{z.Capacity, "capacity", 0, zoneCapacityMax, &nz.Capacity},
		{z.HoldTTLSeconds, "hold_ttl_seconds", holdTTLSecondsMin, holdTTLSecondsMax, &nz.HoldTTLSeconds},
		{z.HoldQuantityMax, "hold_quantity_max", topics.HoldQuantityMin, zoneCapacityMax, &nz.HoldQuantityMax},
		{z.CustomerLimit, "customer_limit", 0, 0, nil},
	}
	for _, r := range ranges {
		if r.v == nil {
			continue
		}
		if *r.v < r.min || *r.v > r.max {
			return newZone{}, invalid("invalid_field", "field %q must be %d to %d", r.field, r.min, r.max)
		}
		if r.dst != nil {
			*r.dst = *r.v
		}
	}
	return nz, nil
}
