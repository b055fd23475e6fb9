package topics

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Header names on outcome records, after CloudEvents' Kafka binding (content mode
// binary, with the "ce_" prefix), so a consumer can route without parsing the body.
const (
	HeaderID          = "ce_id"
	HeaderType        = "ce_type"
	HeaderSource      = "ce_source"
	HeaderTime        = "ce_time"
	HeaderSpecVersion = "ce_specversion"
	HeaderDataSchema  = "ce_dataschema"
	HeaderContentType = "content-type"
	// HeaderRequestID carries the request id on a command and on every outcome
	// that answers a request, so that each component's logs and any Kafka tool
	// can follow one request without decoding bodies.
	HeaderRequestID = "request_id"
	// HeaderDeadReason says why a record went to the dead-letter topic.
	HeaderDeadReason = "dead_letter_reason"
	// HeaderDeadSource says where a dead-lettered record came from: topic/partition/offset.
	HeaderDeadSource = "dead_letter_source"
)

// Header is one record header: a name and its value.
type Header struct {
	Key   string
	Value []byte
}

// Message is what a record of one of the topics carries: its key, its value and its
// headers. The topic is the caller's (see Names); kafkarec turns a Message into a
// Kafka client's record.
type Message struct {
	Key, Value []byte
	Headers    []Header
}

// Source is the ce_source of every outcome.
const Source = "ultimate-ticket/processor"

// outcomeIDSpace is the namespace of deterministic outcome ids.
var outcomeIDSpace = uuid.MustParse("8f0d7d4e-3c55-4f4e-9a0e-6a5f1b0f8c21")

// OutcomeRecordID is an outcome's ce_id, derived from what it is about: the request it
// answers, or for an expiry the hold, for a queue entry's notice the queue id, for a
// room's opening the event. The same fact always gets the same id, so a
// consumer can drop duplicates (none are expected with read_committed, but a
// read_uncommitted consumer sees aborted ones) by ce_id.
func OutcomeRecordID(e *Outcome) uuid.UUID {
	about := e.RequestID
	switch {
	case about != uuid.Nil:
	case e.Hold != nil:
		about = e.Hold.ID
	case e.Entry != nil:
		about = e.Entry.QueueID
	case e.Type == OutQueueSoldOut || e.Type == OutQueueResumed:
		// A room may sell out and resume more than once: the partition clock tells
		// the notices apart.
		at, _ := e.Time.UTC().MarshalBinary()
		return uuid.NewSHA1(outcomeIDSpace, append(append([]byte(e.Type), e.EventID[:]...), at...))
	default:
		about = e.EventID
	}
	return uuid.NewSHA1(outcomeIDSpace, append([]byte(e.Type), about[:]...))
}

// EncodeCommand makes the message the API publishes on the commands topic for a
// command.
func EncodeCommand(c *Command) (Message, error) {
	c.Version = SchemaVersion
	body, err := json.Marshal(c)
	if err != nil {
		return Message{}, fmt.Errorf("topics: encode command: %w", err)
	}
	return Message{
		Key:   []byte(c.Key().String()),
		Value: body,
		Headers: []Header{
			{Key: HeaderType, Value: []byte(c.Type)},
			{Key: HeaderContentType, Value: []byte("application/json")},
			{Key: HeaderRequestID, Value: []byte(c.RequestID.String())},
		},
	}, nil
}

// DecodeCommand parses and checks the key and value of a command record. Its error
// is the dead-letter reason.
func DecodeCommand(key, value []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(value, &c); err != nil {
		return c, fmt.Errorf("undecodable command: %w", err)
	}
	if err := c.Check(); err != nil {
		return c, err
	}
	if want := c.Key(); string(key) != want.String() {
		return c, fmt.Errorf("invalid command: key %q is not %s", key, want)
	}
	return c, nil
}

// Check verifies a command's shape: the ids are set and the payload matches the type.
// Business rules (quantities, limits) are the processor's and answer with a rejection
// outcome, not a dead letter.
func (c *Command) Check() error {
	if c.Version != SchemaVersion {
		return fmt.Errorf("invalid command: version %d, want %d", c.Version, SchemaVersion)
	}
	if c.RequestID == uuid.Nil || c.EventID == uuid.Nil {
		return fmt.Errorf("invalid command: request_id and event_id are required")
	}
	if c.ZoneID == uuid.Nil && !c.isQueueCommand() {
		return fmt.Errorf("invalid command: zone_id is required for %q", c.Type)
	}
	payloads := 0
	for _, set := range []bool{c.Configure != nil, c.Place != nil, c.Confirm != nil, c.Release != nil,
		c.Queue != nil, c.Join != nil, c.Credit != nil, c.Stock != nil, c.StartPayment != nil, c.Refund != nil} {
		if set {
			payloads++
		}
	}
	ok := payloads == 1
	switch c.Type {
	case CmdConfigureZone:
		ok = ok && c.Configure != nil
	case CmdPlaceHold:
		ok = ok && c.Place != nil
	case CmdConfirmHold:
		ok = ok && c.Confirm != nil && c.Confirm.HoldID != uuid.Nil
	case CmdReleaseHold:
		ok = ok && c.Release != nil && c.Release.HoldID != uuid.Nil
	case CmdConfigureQueue:
		ok = ok && c.Queue != nil
	case CmdJoinQueue:
		ok = ok && c.Join != nil
	case CmdCreditAdmission:
		ok = ok && c.Credit != nil && c.Credit.QueueID != uuid.Nil
	case CmdZoneStock:
		ok = ok && c.Stock != nil && c.Stock.ZoneID != uuid.Nil
	case CmdStartPayment:
		ok = ok && c.StartPayment != nil && c.StartPayment.HoldID != uuid.Nil
	case CmdRefundOrder:
		ok = ok && c.Refund != nil && c.Refund.OrderID != uuid.Nil
	default:
		return fmt.Errorf("invalid command: unknown type %q", c.Type)
	}
	if !ok {
		return fmt.Errorf("invalid command: payload does not match type %q", c.Type)
	}
	if c.Place != nil && c.Place.Admission != nil && c.Place.Admission.QueueID == uuid.Nil {
		return fmt.Errorf("invalid command: admission without queue_id")
	}
	return nil
}

func (c *Command) isQueueCommand() bool {
	switch c.Type {
	case CmdConfigureQueue, CmdJoinQueue, CmdCreditAdmission, CmdZoneStock:
		return true
	}
	return false
}

// OutcomeKey is an outcome's record key: the zone id, or the event id for the
// waiting room's outcomes and answers to queue commands (the queue writer keys its
// answers to hold.place by event id itself: see Outcome).
func OutcomeKey(e *Outcome) uuid.UUID {
	if e.ZoneID == uuid.Nil || IsQueueOutcome(e.Type) {
		return e.EventID
	}
	switch e.CommandType {
	case CmdConfigureQueue, CmdJoinQueue, CmdCreditAdmission, CmdZoneStock:
		return e.EventID
	}
	return e.ZoneID
}

// EncodeOutcome makes the message for an outcome on the events topic, with its
// CloudEvents headers. id is its ce_id (see OutcomeRecordID).
func EncodeOutcome(e *Outcome, id uuid.UUID) (Message, error) {
	e.Version = SchemaVersion
	body, err := json.Marshal(e)
	if err != nil {
		return Message{}, fmt.Errorf("topics: encode outcome: %w", err)
	}
	m := Message{
		Key:   []byte(OutcomeKey(e).String()),
		Value: body,
		Headers: []Header{
			{Key: HeaderID, Value: []byte(id.String())},
			{Key: HeaderType, Value: []byte(e.Type)},
			{Key: HeaderSource, Value: []byte(Source)},
			{Key: HeaderTime, Value: []byte(e.Time.UTC().Format(time.RFC3339Nano))},
			{Key: HeaderSpecVersion, Value: []byte("1.0")},
			{Key: HeaderDataSchema, Value: []byte(SchemaURI(e.Type))},
			{Key: HeaderContentType, Value: []byte("application/json")},
		},
	}
	if e.RequestID != uuid.Nil {
		m.Headers = append(m.Headers, Header{Key: HeaderRequestID, Value: []byte(e.RequestID.String())})
	}
	return m, nil
}

// SchemaURI names the JSON Schema of an outcome type (see topics/schemas/).
func SchemaURI(t OutcomeType) string {
	return "https://ultimate-ticket.dev/schemas/v" + strconv.Itoa(SchemaVersion) + "/" + string(t) + ".json"
}

// DecodeOutcome parses the value of an outcome record.
func DecodeOutcome(value []byte) (Outcome, error) {
	var e Outcome
	if err := json.Unmarshal(value, &e); err != nil {
		return e, fmt.Errorf("undecodable event: %w", err)
	}
	if e.Version != SchemaVersion {
		return e, fmt.Errorf("event version %d, want %d", e.Version, SchemaVersion)
	}
	return e, nil
}

// DeadLetterHeaders are the headers a record gets in front of its own when it goes
// to the dead-letter topic: why, and where it came from.
func DeadLetterHeaders(reason, topic string, partition int32, offset int64) []Header {
	return []Header{
		{Key: HeaderDeadReason, Value: []byte(reason)},
		{Key: HeaderDeadSource, Value: []byte(fmt.Sprintf("%s/%d/%d", topic, partition, offset))},
	}
}
