package zone

import (
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// notices are the commands the zone writer owes the queue writer: credits of
// debited admissions whose holds did not sell, and the stock of waiting-room zones
// that changed. The loop produces them in the transaction of the change.
type notices struct {
	credits []topics.Command
	stock   []*zone
}

// noticeSpace is the namespace of the request ids of credit and stock commands.
var noticeSpace = uuid.MustParse("4b8a6e7c-2f1d-4c3e-9d5a-7e6f8a9b0c1d")

// admissionOf returns the debited admission a hold.place carries, or nil.
func admissionOf(cmd *topics.Command) *topics.AdmissionRef {
	if cmd.Type != topics.CmdPlaceHold || cmd.Place == nil || cmd.Place.Admission == nil || !cmd.Place.Admission.Debited {
		return nil
	}
	return cmd.Place.Admission
}

// credit owes the admission queueID of event the tickets of hold holdID.
func (s *State) credit(event, queueID, holdID uuid.UUID, qty int64) {
	s.notices.credits = append(s.notices.credits, topics.Command{
		Version: topics.SchemaVersion, Type: topics.CmdCreditAdmission,
		RequestID: uuid.NewSHA1(noticeSpace, append([]byte("credit"), holdID[:]...)),
		EventID:   event, SubmittedAt: unixTime(s.clock),
		Credit: &topics.CreditAdmission{QueueID: queueID, Quantity: qty, HoldID: holdID},
	})
}

// DrainQueueCommands emits the commands owed to the queue writer since the last
// drain, credits first, then one queue.stock per waiting-room zone that changed,
// and forgets them. Each is keyed by its event (topics.Command.Key).
func (s *State) DrainQueueCommands(emit func(*topics.Command)) {
	n := &s.notices
	for i := range n.credits {
		emit(&n.credits[i])
		n.credits[i] = topics.Command{}
	}
	for i, z := range n.stock {
		z.stockDirty = false
		n.stock[i] = nil
		if !z.waitingRoom {
			continue
		}
		var tag [16 + 8 + 8]byte
		copy(tag[:], z.id[:])
		binary.BigEndian.PutUint64(tag[16:], uint64(s.clock))
		binary.BigEndian.PutUint64(tag[24:], s.seq)
		emit(&topics.Command{
			Version: topics.SchemaVersion, Type: topics.CmdZoneStock,
			RequestID: uuid.NewSHA1(noticeSpace, append([]byte("stock"), tag[:]...)),
			EventID:   z.eventID, SubmittedAt: unixTime(s.clock),
			Stock: &topics.ZoneStock{ZoneID: z.id, Available: z.available(), Held: z.held},
		})
	}
	n.credits, n.stock = n.credits[:0], n.stock[:0]
}
