package topics_test

import (
	"bytes"
	"encoding/json"
	"github.com/google/uuid"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// The fuzz targets here read whatever a record may hold. Their seeds (f.Add and
// testdata/fuzz) run in every plain `go test`; `make fuzz` explores from them.

// FuzzDecodeCommand proves that any record key and value decode without a panic,
// and that a command DecodeCommand accepts survives a round trip: encoding it gives a
// record that decodes to a command encoding to the same bytes, so the processor,
// the changelog and a dead letter all see one command, whichever copy they read.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands() {
		rec, err := topics.EncodeCommand(&c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec.Key, rec.Value)
	}
	f.Add([]byte(tZone.String()), []byte(`{"v":1,"type":"hold.place"}`))
	f.Add([]byte("k"), []byte(`null`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c, err := topics.DecodeCommand(key, value)
		if err != nil {
			return
		}
		first := encodeCommand(t, c)
		again, err := topics.DecodeCommand(first.Key, first.Value)
		if err != nil {
			t.Fatalf("an accepted command does not decode after encoding: %v\nbody %s", err, first.Value)
		}
		if second := encodeCommand(t, again); !bytes.Equal(first.Value, second.Value) || !bytes.Equal(first.Key, second.Key) {
			t.Fatalf("encoding is not stable:\nfirst  %s %s\nsecond %s %s", first.Key, first.Value, second.Key, second.Value)
		}
		if !again.SubmittedAt.Equal(c.SubmittedAt) {
			t.Fatalf("submitted_at %s became %s", c.SubmittedAt, again.SubmittedAt)
		}
	})
}

// FuzzDecodeOutcome proves the same of outcomes: any body decodes without a panic,
// and an outcome DecodeOutcome accepts encodes to a record whose body decodes again
// and encodes to the same bytes, with the same ce_id.
func FuzzDecodeOutcome(f *testing.F) {
	for _, e := range sampleOutcomes() {
		rec, err := topics.EncodeOutcome(&e, topics.OutcomeRecordID(&e))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec.Value)
	}
	f.Add([]byte(`{"v":1,"type":"hold.placed","rejection":{"reason":"hold_expired","message":"m","available":3}}`))
	f.Add([]byte(`{"v":1,"time":"2026-01-02T03:04:05.999999999+23:59"}`))
	f.Add([]byte(`{"v":2}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		e, err := topics.DecodeOutcome(value)
		if err != nil {
			return
		}
		first := encodeOutcome(t, e)
		again, err := topics.DecodeOutcome(first.Value)
		if err != nil {
			t.Fatalf("an accepted outcome does not decode after encoding: %v\nbody %s", err, first.Value)
		}
		second := encodeOutcome(t, again)
		if !bytes.Equal(first.Value, second.Value) {
			t.Fatalf("encoding is not stable:\nfirst  %s\nsecond %s", first.Value, second.Value)
		}
		if topics.OutcomeRecordID(&e) != topics.OutcomeRecordID(&again) {
			t.Fatalf("ce_id changed in a round trip: %s", first.Value)
		}
	})
}

// encodeCommand encodes a decoded command. Encoding may refuse only what JSON cannot
// carry, and a decoded command holds nothing of that kind.
func encodeCommand(t *testing.T, c topics.Command) topics.Message {
	t.Helper()
	rec, err := topics.EncodeCommand(&c)
	if err != nil {
		t.Fatalf("a decoded command does not encode: %v", err)
	}
	return rec
}

func encodeOutcome(t *testing.T, e topics.Outcome) topics.Message {
	t.Helper()
	rec, err := topics.EncodeOutcome(&e, topics.OutcomeRecordID(&e))
	if err != nil {
		t.Fatalf("a decoded outcome does not encode: %v", err)
	}
	return rec
}

// sampleCommands is one command of each type, with every optional field set in one
// of them.
func sampleCommands() []topics.Command {
	n := func(v int64) *int64 { return &v }
	base := func(typ topics.CommandType, key string) topics.Command {
		return topics.Command{Version: topics.SchemaVersion, Type: typ, RequestID: tReq, EventID: tEvent,
			ZoneID: tZone, IdempotencyKey: key, SubmittedAt: t0.Add(123456789 * time.Nanosecond)}
	}
	configure := base(topics.CmdConfigureZone, "")
	configure.Configure = &topics.ConfigureZone{EventName: "Concert", ZoneName: "Floor", Capacity: n(100),
		HoldTTLSeconds: n(600), HoldQuantityMax: n(4), CustomerLimit: n(0)}
	place := base(topics.CmdPlaceHold, "k1")
	place.Place = &topics.PlaceHold{Quantity: 2, CustomerID: "c-1"}
	confirm := base(topics.CmdConfirmHold, "confirm-1")
	confirm.Confirm = &topics.ConfirmHold{HoldID: tHold}
	release := base(topics.CmdReleaseHold, "release:"+tHold.String())
	release.Release = &topics.ReleaseHold{HoldID: tHold}
	wr := true
	configure.Configure.WaitingRoom = &wr
	admitted := base(topics.CmdPlaceHold, "k2")
	admitted.Place = &topics.PlaceHold{Quantity: 2, CustomerID: "c-1", Admission: &topics.AdmissionRef{QueueID: tHold}}
	debited := admitted
	debited.Place = &topics.PlaceHold{Quantity: 2, CustomerID: "c-1", Admission: &topics.AdmissionRef{QueueID: tHold, Debited: true}}
	queue := base(topics.CmdConfigureQueue, "")
	queue.ZoneID = uuid.Nil
	queue.Queue = &topics.ConfigureQueue{Enabled: true, OpensAt: t0, StartsAt: t0.Add(time.Hour), RatePerSecond: 5,
		RateMax: 50, ShopSeconds: 600, Allowance: 4, CustomerLimit: 6, Zones: []uuid.UUID{tZone}}
	join := base(topics.CmdJoinQueue, "")
	join.ZoneID = uuid.Nil
	join.Join = &topics.JoinQueue{CustomerID: "c-1"}
	credit := base(topics.CmdCreditAdmission, "")
	credit.ZoneID = uuid.Nil
	credit.Credit = &topics.CreditAdmission{QueueID: tHold, Quantity: 2, HoldID: tOrder}
	stock := base(topics.CmdZoneStock, "")
	stock.ZoneID = uuid.Nil
	stock.Stock = &topics.ZoneStock{ZoneID: tZone, Available: 3, Held: 1}
	return []topics.Command{configure, place, confirm, release, admitted, debited, queue, join, credit, stock}
}

// TestSampleCommandsDecode keeps the command seeds honest: each is accepted, so the
// fuzzer starts from commands that reach the round trip.
func TestSampleCommandsDecode(t *testing.T) {
	for _, c := range sampleCommands() {
		rec, err := topics.EncodeCommand(&c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := topics.DecodeCommand(rec.Key, rec.Value)
		if err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
		want, _ := json.Marshal(c)
		if back, _ := json.Marshal(got); !bytes.Equal(back, want) {
			t.Fatalf("%s: decoded %s, want %s", c.Type, back, want)
		}
	}
}
