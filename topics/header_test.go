package topics_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestRequestIDHeader proves that a command and the outcome answering it carry the
// request id in the request_id header, and an outcome that answers no request
// (an expiry) carries none.
func TestRequestIDHeader(t *testing.T) {
	id := uuid.Must(uuid.NewV7())
	cmd := topics.Command{Type: topics.CmdPlaceHold, RequestID: id, EventID: uuid.New(), ZoneID: uuid.New(),
		IdempotencyKey: "k", Place: &topics.PlaceHold{Quantity: 1}}
	m, err := topics.EncodeCommand(&cmd)
	if err != nil {
		t.Fatal(err)
	}
	if got := header(m, topics.HeaderRequestID); got != id.String() {
		t.Errorf("command request_id header %q, want %s", got, id)
	}
	answer := topics.Outcome{Type: topics.OutHoldPlaced, RequestID: id, ZoneID: cmd.ZoneID}
	if m, err = topics.EncodeOutcome(&answer, uuid.New()); err != nil {
		t.Fatal(err)
	}
	if got := header(m, topics.HeaderRequestID); got != id.String() {
		t.Errorf("outcome request_id header %q, want %s", got, id)
	}
	expiry := topics.Outcome{Type: topics.OutHoldExpired, ZoneID: cmd.ZoneID}
	if m, err = topics.EncodeOutcome(&expiry, uuid.New()); err != nil {
		t.Fatal(err)
	}
	if got := header(m, topics.HeaderRequestID); got != "" {
		t.Errorf("expiry request_id header %q, want none", got)
	}
}

func header(m topics.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
