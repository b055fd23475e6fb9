package hotbench

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// CommandRecordBytes is the size of a representative command record of a hold as
// the API publishes it, value and headers as topics.EncodeCommand makes them
// (the probe keys its records itself): the record size of Kafka's ceiling probe.
// The idempotency key is as long as the load generator's.
func CommandRecordBytes() (int, error) {
	c := &topics.Command{
		Type:           topics.CmdPlaceHold,
		RequestID:      uuid.Must(uuid.NewV7()),
		EventID:        uuid.Must(uuid.NewV7()),
		ZoneID:         uuid.Must(uuid.NewV7()),
		IdempotencyKey: "ff1767225600000000000-1234567",
		SubmittedAt:    time.Now().UTC(),
		Place:          &topics.PlaceHold{Quantity: 1},
	}
	m, err := topics.EncodeCommand(c)
	if err != nil {
		return 0, fmt.Errorf("command record size: %w", err)
	}
	n := len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n, nil
}
