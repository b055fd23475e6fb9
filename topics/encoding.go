package topics

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
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
	// HeaderDeadReason says why a record went to the dead-letter topic.
	HeaderDeadReason = "dead_letter_reason"
	// HeaderDeadSource says where a dead-lettered record came from: topic/partition/offset.
	HeaderDeadSource = "dead_letter_source"
)

// Source is the ce_source of every outcome.
const Source = "ultimate-ticket/processor"

// outcomeIDSpace is the namespace of deterministic outcome ids.
var outcomeIDSpace = uuid.MustParse("8f0d7d4e-3c55-4f4e-9a0e-6a5f1b0f8c21")

// OutcomeRecordID is an outcome's ce_id, derived from what it is about: the request it
// answers, or for an expiry the hold. The same fact always gets the same id, so a
// consumer can drop duplicates (none are expected with read_committed, but a
// read_uncommitted consumer sees aborted ones) by ce_id.
func OutcomeRecordID(e *Outcome) uuid.UUID {
	about := e.RequestID
	if about == uuid.Nil && e.Hold != nil {
		about = e.Hold.ID
	}
	return uuid.NewSHA1(outcomeIDSpace, append([]byte(e.Type), about[:]...))
}

// EncodeCommand makes the record the API produces for a command, for the default
// commands topic (set Topic for another).
func EncodeCommand(c *Command) (*kgo.Record, error) {
	c.Version = SchemaVersion
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("topics: encode command: %w", err)
	}
	return &kgo.Record{
		Topic: Commands,
		Key:   []byte(c.ZoneID.String()),
		Value: body,
		Headers: []kgo.RecordHeader{
			{Key: HeaderType, Value: []byte(c.Type)},
			{Key: HeaderContentType, Value: []byte("application/json")},
		},
	}, nil
}

// DecodeCommand parses and checks a command record. Its error is the dead-letter
// reason.
func DecodeCommand(r *kgo.Record) (Command, error) {
	var c Command
	if err := json.Unmarshal(r.Value, &c); err != nil {
		return c, fmt.Errorf("undecodable command: %w", err)
	}
	if err := c.Check(); err != nil {
		return c, err
	}
	if string(r.Key) != c.ZoneID.String() {
		return c, fmt.Errorf("invalid command: key %q is not zone_id %s", r.Key, c.ZoneID)
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
	if c.RequestID == uuid.Nil || c.ZoneID == uuid.Nil || c.EventID == uuid.Nil {
		return fmt.Errorf("invalid command: request_id, event_id and zone_id are required")
	}
	payloads := 0
	for _, set := range []bool{c.Configure != nil, c.Place != nil, c.Confirm != nil, c.Release != nil} {
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
	default:
		return fmt.Errorf("invalid command: unknown type %q", c.Type)
	}
	if !ok {
		return fmt.Errorf("invalid command: payload does not match type %q", c.Type)
	}
	return nil
}

// EncodeOutcome makes the record for an outcome, with its CloudEvents headers, for the
// default events topic (set Topic for another). id is its ce_id (see OutcomeRecordID).
func EncodeOutcome(e *Outcome, id uuid.UUID) (*kgo.Record, error) {
	e.Version = SchemaVersion
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("topics: encode event: %w", err)
	}
	return &kgo.Record{
		Topic: Events,
		Key:   []byte(e.ZoneID.String()),
		Value: body,
		Headers: []kgo.RecordHeader{
			{Key: HeaderID, Value: []byte(id.String())},
			{Key: HeaderType, Value: []byte(e.Type)},
			{Key: HeaderSource, Value: []byte(Source)},
			{Key: HeaderTime, Value: []byte(e.Time.UTC().Format(time.RFC3339Nano))},
			{Key: HeaderSpecVersion, Value: []byte("1.0")},
			{Key: HeaderDataSchema, Value: []byte(SchemaURI(e.Type))},
			{Key: HeaderContentType, Value: []byte("application/json")},
		},
	}, nil
}

// SchemaURI names the JSON Schema of an outcome type (see topics/schemas/).
func SchemaURI(t OutcomeType) string {
	return "https://ultimate-ticket.dev/schemas/v" + strconv.Itoa(SchemaVersion) + "/" + string(t) + ".json"
}

// DecodeOutcome parses an outcome record's body.
func DecodeOutcome(r *kgo.Record) (Outcome, error) {
	var e Outcome
	if err := json.Unmarshal(r.Value, &e); err != nil {
		return e, fmt.Errorf("undecodable event: %w", err)
	}
	if e.Version != SchemaVersion {
		return e, fmt.Errorf("event version %d, want %d", e.Version, SchemaVersion)
	}
	return e, nil
}

// DeadLetter wraps a record that could not be processed, with the reason, for the
// dead-letter topic named topic.
func DeadLetter(topic string, r *kgo.Record, reason string) *kgo.Record {
	headers := append([]kgo.RecordHeader{
		{Key: HeaderDeadReason, Value: []byte(reason)},
		{Key: HeaderDeadSource, Value: []byte(fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset))},
	}, r.Headers...)
	return &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: headers}
}
