package topics_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestQueueCommandKeys proves that queue commands and hold.place with an undebited
// admission are keyed by event, that the rest are keyed by zone, and that a record
// under the other key is refused.
func TestQueueCommandKeys(t *testing.T) {
	for _, c := range sampleCommands() {
		want := tZone
		if c.Type != topics.CmdConfigureZone && c.Type != topics.CmdConfirmHold && c.Type != topics.CmdReleaseHold &&
			(c.Place == nil || c.Place.Admission != nil && !c.Place.Admission.Debited) {
			want = tEvent
		}
		m, err := topics.EncodeCommand(&c)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != want.String() {
			t.Errorf("%s (place %+v): key %s, want %s", c.Type, c.Place, m.Key, want)
		}
		if _, err := topics.DecodeCommand(m.Key, m.Value); err != nil {
			t.Errorf("%s: %v", c.Type, err)
		}
		other := tZone
		if want == tZone {
			other = tEvent
		}
		if _, err := topics.DecodeCommand([]byte(other.String()), m.Value); err == nil {
			t.Errorf("%s: accepted under key %s", c.Type, other)
		}
	}
	bad := topics.Command{Version: topics.SchemaVersion, Type: topics.CmdPlaceHold, RequestID: tReq, EventID: tEvent,
		Place: &topics.PlaceHold{Quantity: 1}}
	if err := bad.Check(); err == nil {
		t.Error("hold.place without zone_id accepted")
	}
	bad.ZoneID = tZone
	bad.Place.Admission = &topics.AdmissionRef{}
	if err := bad.Check(); err == nil {
		t.Error("admission without queue_id accepted")
	}
}

// TestQueueOutcomeKeysAndIDs proves that queue outcomes are keyed by event and that
// notices about different entries, or sold-out notices at different times, get
// different ce_ids.
func TestQueueOutcomeKeysAndIDs(t *testing.T) {
	ids := map[uuid.UUID]topics.OutcomeType{}
	for _, e := range sampleQueueOutcomes() {
		if e.ZoneID == uuid.Nil || topics.IsQueueOutcome(e.Type) {
			if k := topics.OutcomeKey(&e); k != tEvent {
				t.Errorf("%s: key %s, want the event", e.Type, k)
			}
		}
		id := topics.OutcomeRecordID(&e)
		if prev, dup := ids[id]; dup && prev == e.Type {
			t.Errorf("%s: duplicate ce_id", e.Type)
		}
		ids[id] = e.Type
	}
	a := topics.Outcome{Type: topics.OutQueueSoldOut, EventID: tEvent, Time: t0}
	b := a
	b.Time = t0.Add(1)
	if topics.OutcomeRecordID(&a) == topics.OutcomeRecordID(&b) {
		t.Error("two sold-out notices share a ce_id")
	}
}
