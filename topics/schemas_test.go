package topics_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// compileSchemas compiles the embedded schema of every event type, asserting formats
// (uuid, date-time), keyed by type.
func compileSchemas(t *testing.T) map[topics.OutcomeType]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	out := make(map[topics.OutcomeType]*jsonschema.Schema)
	for _, typ := range topics.SchemaTypes() {
		raw, err := topics.Schema(typ)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: schema is not JSON: %v", typ, err)
		}
		var head struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		if head.ID != topics.SchemaURI(typ) {
			t.Errorf("%s: $id %q, want %q", typ, head.ID, topics.SchemaURI(typ))
		}
		if head.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema %q, want draft 2020-12", typ, head.Schema)
		}
		if err := c.AddResource(head.ID, doc); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		sch, err := c.Compile(head.ID)
		if err != nil {
			t.Fatalf("%s: schema does not compile: %v", typ, err)
		}
		out[typ] = sch
	}
	return out
}

// outcomeTypeConstants parses messages.go for every constant of type OutcomeType, so a
// type added there without a schema fails this test.
func outcomeTypeConstants(t *testing.T) []topics.OutcomeType {
	t.Helper()
	var out []topics.OutcomeType
	for _, name := range []string{"messages.go", "payment.go"} {
		out = append(out, outcomeTypeConstantsOf(t, name)...)
	}
	if len(out) == 0 {
		t.Fatal("no OutcomeType constants found in messages.go")
	}
	return out
}

// outcomeTypeConstantsOf parses one file of the package for OutcomeType constants.
func outcomeTypeConstantsOf(t *testing.T, name string) []topics.OutcomeType {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []topics.OutcomeType
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "OutcomeType" {
				continue
			}
			for _, val := range v.Values {
				lit := val.(*ast.BasicLit)
				out = append(out, topics.OutcomeType(strings.Trim(lit.Value, `"`)))
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no OutcomeType constants found in messages.go")
	}
	return out
}

// TestSchemasCoverEveryOutcomeType proves that every OutcomeType constant, and nothing
// else, has a schema that compiles, and that OutcomeTypes lists them all.
func TestSchemasCoverEveryOutcomeType(t *testing.T) {
	consts := outcomeTypeConstants(t)
	schemas := compileSchemas(t)
	for _, typ := range consts {
		if schemas[typ] == nil {
			t.Errorf("outcome type %s has no schema in topics/schemas/v%d/", typ, topics.SchemaVersion)
		}
		if !slices.Contains(topics.OutcomeTypes, typ) {
			t.Errorf("topics.OutcomeTypes misses %s", typ)
		}
	}
	for typ := range schemas {
		if !slices.Contains(consts, typ) {
			t.Errorf("schema %s names no OutcomeType constant", typ)
		}
	}
	if len(topics.OutcomeTypes) != len(consts) {
		t.Errorf("topics.OutcomeTypes has %d types, messages.go declares %d", len(topics.OutcomeTypes), len(consts))
	}
	if _, err := topics.Schema("no.such"); err == nil {
		t.Error("Schema(no.such) succeeded")
	}
	if _, err := topics.Schema("../v1/hold.placed"); err == nil {
		t.Error("Schema accepted a path")
	}
}

var (
	tZone  = uuid.MustParse("0195d1c0-0000-7000-8000-000000000001")
	tEvent = uuid.MustParse("0195d1c0-0000-7000-8000-000000000002")
	tReq   = uuid.MustParse("0195d1c0-0000-7000-8000-000000000003")
	tHold  = uuid.MustParse("0195d1c0-0000-7000-8000-000000000004")
	tOrder = uuid.MustParse("0195d1c0-0000-7000-8000-000000000005")
	t0     = time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
)

func sampleHold(status topics.HoldStatus) *topics.Hold {
	return &topics.Hold{ID: tHold, Status: status, Quantity: 2, CustomerID: "c-1", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

// sampleOutcomes builds one or more outcomes of every type with the Go types.
func sampleOutcomes() []topics.Outcome {
	base := func(typ topics.OutcomeType, cmd topics.CommandType, key string) topics.Outcome {
		return topics.Outcome{Type: typ, Time: t0, EventID: tEvent, ZoneID: tZone, RequestID: tReq,
			IdempotencyKey: key, CommandType: cmd, Zone: topics.Inventory{Capacity: 100, Available: 98, Held: 2}}
	}
	var out []topics.Outcome
	e := base(topics.OutZoneConfigured, topics.CmdConfigureZone, "")
	e.Zone = topics.Inventory{Capacity: 100, Available: 100}
	e.Config = &topics.ZoneConfig{EventName: "Concert", ZoneName: "Floor", Capacity: 100, HoldTTLSeconds: 600, HoldQuantityMax: 10, Created: true}
	out = append(out, e)

	e = base(topics.OutHoldPlaced, topics.CmdPlaceHold, "k1")
	e.Hold = sampleHold(topics.HoldActive)
	out = append(out, e)
	e = base(topics.OutHoldPlaced, topics.CmdPlaceHold, "")
	e.Hold = sampleHold(topics.HoldActive)
	e.Hold.CustomerID = ""
	out = append(out, e)

	e = base(topics.OutHoldConfirmed, topics.CmdConfirmHold, "confirm-1")
	e.Zone = topics.Inventory{Capacity: 100, Available: 98, Sold: 2}
	e.Hold = sampleHold(topics.HoldConfirmed)
	e.Order = &topics.Order{ID: tOrder, HoldID: tHold, Quantity: 2, CustomerID: "c-1", CreatedAt: t0}
	out = append(out, e)

	e = base(topics.OutHoldReleased, topics.CmdReleaseHold, "release-1")
	e.Hold = sampleHold(topics.HoldReleased)
	out = append(out, e)

	e = base(topics.OutHoldExpired, "", "")
	e.RequestID = uuid.Nil
	e.Hold = sampleHold(topics.HoldExpired)
	out = append(out, e)

	e = base(topics.OutRequestRejected, topics.CmdPlaceHold, "k2")
	e.Rejection = &topics.Rejection{Reason: topics.ReasonInsufficientCapacity, Message: "not enough", Available: 1}
	out = append(out, e)
	e = base(topics.OutRequestRejected, topics.CmdConfigureZone, "")
	e.Zone = topics.Inventory{}
	e.Rejection = &topics.Rejection{Reason: topics.ReasonZoneNotFound, Message: "zone not found"}
	out = append(out, e)

	for _, r := range []topics.Replay{
		{OriginalRequestID: tReq, OriginalType: topics.OutHoldPlaced, HoldID: tHold},
		{OriginalRequestID: tReq, OriginalType: topics.OutHoldConfirmed, HoldID: tHold, OrderID: tOrder},
		{OriginalRequestID: tReq, OriginalType: topics.OutHoldReleased, HoldID: tHold},
		{OriginalRequestID: tReq, OriginalType: topics.OutZoneConfigured},
		{OriginalRequestID: tReq, OriginalType: topics.OutRequestRejected,
			Rejection: &topics.Rejection{Reason: topics.ReasonIdempotencyConflict, Message: "used"}},
	} {
		e = base(topics.OutRequestReplayed, topics.CmdPlaceHold, "k1")
		e.Replay = &r
		out = append(out, e)
	}
	out = append(out, samplePaymentOutcomes(base)...)
	return append(out, sampleQueueOutcomes()...)
}

// sampleQueueOutcomes builds the waiting room's outcomes and its answers.
func sampleQueueOutcomes() []topics.Outcome {
	base := func(typ topics.OutcomeType, cmd topics.CommandType) topics.Outcome {
		e := topics.Outcome{Type: typ, Time: t0, EventID: tEvent, CommandType: cmd}
		if cmd != "" {
			e.RequestID = tReq
		}
		return e
	}
	entry := &topics.QueueEntry{QueueID: tReq, CustomerID: "c-1", JoinedAt: t0, PreQueue: true, Position: 0}
	progress := &topics.QueueProgress{AdmittedThrough: 10, Waiting: 90, RatePerSecond: 2.5}
	var out []topics.Outcome
	e := base(topics.OutQueueConfigured, topics.CmdConfigureQueue)
	e.Queue = &topics.QueueConfig{Enabled: true, OpensAt: t0, StartsAt: t0.Add(time.Hour), RateMax: 50, ShopSeconds: 600,
		Allowance: 4, CustomerLimit: 4, Zones: []uuid.UUID{tZone}, Created: true}
	out = append(out, e)
	e = base(topics.OutQueueJoined, topics.CmdJoinQueue)
	e.Entry, e.Progress = entry, progress
	out = append(out, e)
	e = base(topics.OutQueueOpened, "")
	e.Opened = &topics.QueueOpened{Seed: strings.Repeat("ab", 32), PreQueueSize: 10, StartedAt: t0}
	e.Progress = progress
	out = append(out, e)
	positioned := *entry
	positioned.Position = 7
	e = base(topics.OutQueuePositioned, "")
	e.Entry = &positioned
	out = append(out, e)
	e = base(topics.OutQueueAdmitted, "")
	e.Entry, e.Progress = &positioned, progress
	e.Admission = &topics.QueueAdmission{AdmittedAt: t0, ExpiresAt: t0.Add(10 * time.Minute), Allowance: 4}
	out = append(out, e)
	e = base(topics.OutQueueAdmissionExpired, "")
	e.Entry = &positioned
	out = append(out, e)
	e = base(topics.OutQueueSoldOut, "")
	e.Progress = progress
	out = append(out, e)
	e = base(topics.OutQueueResumed, "")
	e.Progress = progress
	out = append(out, e)
	e = base(topics.OutRequestRejected, topics.CmdJoinQueue)
	e.Rejection = &topics.Rejection{Reason: topics.ReasonQueueNotOpen, Message: "not open"}
	out = append(out, e)
	e = base(topics.OutRequestRejected, topics.CmdPlaceHold)
	e.ZoneID, e.IdempotencyKey, e.RequestID = tZone, "k9", tOrder
	e.Rejection = &topics.Rejection{Reason: topics.ReasonAdmissionAllowanceExceeded, Message: "over"}
	out = append(out, e)
	e = base(topics.OutRequestReplayed, topics.CmdJoinQueue)
	e.Replay = &topics.Replay{OriginalRequestID: tHold, OriginalType: topics.OutQueueJoined}
	e.Entry = &positioned
	out = append(out, e)
	return out
}

// samplePaymentOutcomes builds the payment outcomes (topics/payment.go).
func samplePaymentOutcomes(base func(topics.OutcomeType, topics.CommandType, string) topics.Outcome) []topics.Outcome {
	pay := &topics.Payment{IntentID: "pi_1", Amount: 5000, Currency: "eur"}
	var out []topics.Outcome
	e := base(topics.OutHoldPaymentStarted, topics.CmdStartPayment, "start-1")
	e.Hold, e.Payment = sampleHold(topics.HoldActive), pay
	out = append(out, e)
	e = base(topics.OutPaymentRefundRequired, topics.CmdConfirmHold, "pay-pi_1")
	e.Hold, e.Payment = sampleHold(topics.HoldExpired), pay
	e.Rejection = &topics.Rejection{Reason: topics.ReasonHoldExpired, Message: "hold expired"}
	out = append(out, e)
	e = base(topics.OutOrderRefunded, topics.CmdRefundOrder, "refund-re_1")
	e.Refund = &topics.Refund{OrderID: tOrder, HoldID: tHold, Quantity: 2, RefundID: "re_1", Amount: 5000}
	out = append(out, e)
	e = base(topics.OutHoldConfirmed, topics.CmdConfirmHold, "pay-pi_1")
	e.Zone = topics.Inventory{Capacity: 100, Available: 98, Sold: 2}
	e.Hold, e.Payment = sampleHold(topics.HoldConfirmed), pay
	e.Order = &topics.Order{ID: tOrder, HoldID: tHold, Quantity: 2, CreatedAt: t0}
	out = append(out, e)
	e = base(topics.OutZoneConfigured, topics.CmdConfigureZone, "")
	e.Zone = topics.Inventory{Capacity: 100, Available: 100}
	e.Config = &topics.ZoneConfig{EventName: "Concert", ZoneName: "Floor", Capacity: 100, HoldTTLSeconds: 600,
		HoldQuantityMax: 10, Created: true, PriceMinor: 2500, Currency: "eur"}
	out = append(out, e)
	e = base(topics.OutRequestReplayed, topics.CmdConfirmHold, "pay-pi_1")
	e.Replay = &topics.Replay{OriginalRequestID: tReq, OriginalType: topics.OutPaymentRefundRequired, HoldID: tHold,
		Rejection: &topics.Rejection{Reason: topics.ReasonHoldExpired, Message: "hold expired"}}
	out = append(out, e)
	return out
}

// body encodes an event as the processor does and returns its body decoded for the
// validator.
func body(t *testing.T, e topics.Outcome) any {
	t.Helper()
	rec, err := topics.EncodeOutcome(&e, topics.OutcomeRecordID(&e))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range rec.Headers {
		if h.Key == topics.HeaderDataSchema && string(h.Value) != topics.SchemaURI(e.Type) {
			t.Fatalf("ce_dataschema %q", h.Value)
		}
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec.Value))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSampleEventsValidate proves that events built with the Go types and encoded
// with EncodeEvent validate against the schema of their type, and only that one.
func TestSampleEventsValidate(t *testing.T) {
	schemas := compileSchemas(t)
	seen := map[topics.OutcomeType]bool{}
	for _, e := range sampleOutcomes() {
		v := body(t, e)
		seen[e.Type] = true
		if err := schemas[e.Type].Validate(v); err != nil {
			t.Errorf("%s: valid event rejected: %v", e.Type, err)
		}
		for typ, sch := range schemas {
			if typ != e.Type && sch.Validate(v) == nil {
				t.Errorf("%s event validates against the %s schema", e.Type, typ)
			}
		}
	}
	for _, typ := range topics.OutcomeTypes {
		if !seen[typ] {
			t.Errorf("no sample of %s", typ)
		}
	}
}

// TestBrokenEventsFail proves the schemas are precise: each mutation of a valid body
// is rejected, while an unknown top-level field (forward compatibility) is not.
func TestBrokenEventsFail(t *testing.T) {
	schemas := compileSchemas(t)
	samples := map[topics.OutcomeType]topics.Outcome{}
	for _, e := range sampleOutcomes() {
		if _, ok := samples[e.Type]; !ok {
			samples[e.Type] = e
		}
	}
	asMap := func(e topics.Outcome) map[string]any {
		return body(t, e).(map[string]any)
	}
	nested := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	cases := []struct {
		name   string
		typ    topics.OutcomeType
		mutate func(m map[string]any)
	}{
		{"missing zone_id", topics.OutHoldPlaced, func(m map[string]any) { delete(m, "zone_id") }},
		{"zone_id not a uuid", topics.OutHoldPlaced, func(m map[string]any) { m["zone_id"] = "zone-1" }},
		{"time not a date-time", topics.OutHoldPlaced, func(m map[string]any) { m["time"] = "yesterday" }},
		{"wrong version", topics.OutHoldPlaced, func(m map[string]any) { m["v"] = json.Number("2") }},
		{"wrong type", topics.OutHoldPlaced, func(m map[string]any) { m["type"] = "hold.confirmed" }},
		{"hold status not active", topics.OutHoldPlaced, func(m map[string]any) { nested(m, "hold")["status"] = "expired" }},
		{"hold status unknown", topics.OutHoldReleased, func(m map[string]any) { nested(m, "hold")["status"] = "gone" }},
		{"unknown field in hold", topics.OutHoldPlaced, func(m map[string]any) { nested(m, "hold")["price"] = json.Number("3") }},
		{"negative available", topics.OutHoldPlaced, func(m map[string]any) { nested(m, "zone")["available"] = json.Number("-1") }},
		{"zero quantity", topics.OutHoldPlaced, func(m map[string]any) { nested(m, "hold")["quantity"] = json.Number("0") }},
		{"missing hold", topics.OutHoldPlaced, func(m map[string]any) { delete(m, "hold") }},
		{"order on a placed hold", topics.OutHoldPlaced, func(m map[string]any) { m["order"] = map[string]any{} }},
		{"missing order", topics.OutHoldConfirmed, func(m map[string]any) { delete(m, "order") }},
		{"confirm without key", topics.OutHoldConfirmed, func(m map[string]any) { delete(m, "idempotency_key") }},
		{"expiry with a request id", topics.OutHoldExpired, func(m map[string]any) { m["request_id"] = tReq.String() }},
		{"missing config field", topics.OutZoneConfigured, func(m map[string]any) { delete(nested(m, "config"), "hold_ttl_seconds") }},
		{"unknown reason", topics.OutRequestRejected, func(m map[string]any) { nested(m, "rejection")["reason"] = "because" }},
		{"wrong command", topics.OutRequestRejected, func(m map[string]any) { m["command"] = "hold.steal" }},
		{"missing request id", topics.OutRequestRejected, func(m map[string]any) { delete(m, "request_id") }},
		{"replay of a placed hold without hold_id", topics.OutRequestReplayed, func(m map[string]any) { delete(nested(m, "replay"), "hold_id") }},
		{"replay of an unknown type", topics.OutRequestReplayed, func(m map[string]any) { nested(m, "replay")["original_type"] = "hold.expired" }},
	}
	for _, c := range cases {
		m := asMap(samples[c.typ])
		c.mutate(m)
		if err := schemas[c.typ].Validate(m); err == nil {
			t.Errorf("%s: %s: broken body validates", c.typ, c.name)
		}
	}
	for _, typ := range topics.OutcomeTypes {
		m := asMap(samples[typ])
		m["added_in_a_later_v1"] = "ok"
		if err := schemas[typ].Validate(m); err != nil {
			t.Errorf("%s: unknown top-level field rejected: %v", typ, err)
		}
	}
}

// TestProcessorEventsValidate proves that what the real state machine emits, for a
// session that produces every event type, validates against the schemas.
func TestProcessorEventsValidate(t *testing.T) {
	schemas := compileSchemas(t)
	s := zone.NewState(zone.DefaultConfig())
	now := t0
	var outcomes []topics.Outcome
	n := 0
	apply := func(typ topics.CommandType, key string, set func(*topics.Command)) uuid.UUID {
		n++
		c := &topics.Command{Version: topics.SchemaVersion, Type: typ, RequestID: uuid.New(), EventID: tEvent,
			ZoneID: tZone, IdempotencyKey: key, SubmittedAt: now}
		set(c)
		now = now.Add(time.Second)
		outcomes = s.Apply(outcomes, c, now)
		return c.RequestID
	}
	i64 := func(v int64) *int64 { return &v }
	apply(topics.CmdConfigureZone, "", func(c *topics.Command) {
		c.Configure = &topics.ConfigureZone{EventName: "Concert", ZoneName: "Floor", Capacity: i64(5), HoldTTLSeconds: i64(10)}
	})
	place := func(c *topics.Command) { c.Place = &topics.PlaceHold{Quantity: 2, CustomerID: "c-1"} }
	h1 := apply(topics.CmdPlaceHold, "p1", place)
	apply(topics.CmdPlaceHold, "p1", place) // replayed
	apply(topics.CmdPlaceHold, "p1", func(c *topics.Command) { c.Place = &topics.PlaceHold{Quantity: 1} })
	apply(topics.CmdPlaceHold, "p2", func(c *topics.Command) { c.Place = &topics.PlaceHold{Quantity: 9} }) // over limit
	apply(topics.CmdConfirmHold, "c1", func(c *topics.Command) { c.Confirm = &topics.ConfirmHold{HoldID: h1} })
	h2 := apply(topics.CmdPlaceHold, "p3", place)
	apply(topics.CmdReleaseHold, "r1", func(c *topics.Command) { c.Release = &topics.ReleaseHold{HoldID: h2} })
	apply(topics.CmdPlaceHold, "p4", func(c *topics.Command) { c.Place = &topics.PlaceHold{Quantity: 1} })
	outcomes = s.Advance(outcomes, now.Add(time.Minute)) // expired
	now = now.Add(time.Minute)
	apply(topics.CmdConfigureZone, "", func(c *topics.Command) {
		c.Configure = &topics.ConfigureZone{PriceMinor: i64(2500), Currency: "eur"}
	})
	h3 := apply(topics.CmdPlaceHold, "p5", func(c *topics.Command) { c.Place = &topics.PlaceHold{Quantity: 1} })
	apply(topics.CmdStartPayment, "s1", func(c *topics.Command) {
		c.StartPayment = &topics.StartPayment{HoldID: h3, Payment: topics.Payment{IntentID: "pi_3", Amount: 2500, Currency: "eur"}}
	})
	o3 := apply(topics.CmdConfirmHold, "pay-pi_3", func(c *topics.Command) {
		c.Confirm = &topics.ConfirmHold{HoldID: h3, Payment: &topics.Payment{IntentID: "pi_3", Amount: 2500, Currency: "eur"}}
	})
	apply(topics.CmdRefundOrder, "re-1", func(c *topics.Command) {
		c.Refund = &topics.Refund{OrderID: o3, HoldID: h3, Quantity: 1, RefundID: "re_1", Amount: 2500}
	})
	apply(topics.CmdConfirmHold, "pay-pi_1", func(c *topics.Command) {
		c.Confirm = &topics.ConfirmHold{HoldID: h1, Payment: &topics.Payment{IntentID: "pi_1", Amount: 5000, Currency: "eur"}}
	})
	h4 := apply(topics.CmdPlaceHold, "p6", func(c *topics.Command) { c.Place = &topics.PlaceHold{Quantity: 1} })
	apply(topics.CmdStartPayment, "s2", func(c *topics.Command) {
		c.StartPayment = &topics.StartPayment{HoldID: h4, Payment: topics.Payment{IntentID: "pi_4", Amount: 2500, Currency: "eur"}}
	})
	outcomes = s.Advance(outcomes, now.Add(time.Hour)) // expired with a payment
	seen := map[topics.OutcomeType]int{}
	for _, e := range outcomes {
		seen[e.Type]++
		if err := schemas[e.Type].Validate(body(t, e)); err != nil {
			t.Errorf("%s from the processor: %v", e.Type, err)
		}
	}
	for _, typ := range topics.OutcomeTypes {
		if seen[typ] == 0 && !topics.IsQueueOutcome(typ) {
			t.Errorf("session emitted no %s", typ)
		}
	}
}

// TestQueueEventsValidate proves that what the waiting room's state machine emits,
// for a session that produces every queue outcome type and its rejections and
// replays, validates against the schemas.
func TestQueueEventsValidate(t *testing.T) {
	schemas := compileSchemas(t)
	s := queue.NewState(queue.DefaultConfig())
	now := t0
	var outcomes []topics.Outcome
	var fwd []topics.Command
	n := uint64(0)
	apply := func(typ topics.CommandType, set func(*topics.Command)) uuid.UUID {
		n++
		c := &topics.Command{Version: topics.SchemaVersion, Type: typ, RequestID: uuid.NewSHA1(tEvent, []byte{byte(n)}),
			EventID: tEvent, SubmittedAt: now}
		set(c)
		outcomes, fwd = s.Apply(outcomes, fwd, c, now)
		return c.RequestID
	}
	join := func(customer string) func(*topics.Command) {
		return func(c *topics.Command) { c.Join = &topics.JoinQueue{CustomerID: customer} }
	}
	apply(topics.CmdJoinQueue, join("early")) // no room
	apply(topics.CmdConfigureQueue, func(c *topics.Command) {
		c.Queue = &topics.ConfigureQueue{Enabled: true, OpensAt: t0, StartsAt: t0.Add(time.Minute), RatePerSecond: 1,
			ShopSeconds: 60, Zones: []uuid.UUID{tZone}}
	})
	apply(topics.CmdJoinQueue, join("a"))
	apply(topics.CmdJoinQueue, join("a")) // replayed
	apply(topics.CmdJoinQueue, join(""))
	now = now.Add(time.Minute)
	outcomes = s.Advance(outcomes, now) // opened, positioned, admitted
	apply(topics.CmdPlaceHold, func(c *topics.Command) {
		c.ZoneID, c.IdempotencyKey = tZone, "k"
		c.Place = &topics.PlaceHold{Quantity: 9, CustomerID: "a", Admission: &topics.AdmissionRef{QueueID: tReq}}
	})
	apply(topics.CmdZoneStock, func(c *topics.Command) { c.Stock = &topics.ZoneStock{ZoneID: tZone} })
	apply(topics.CmdZoneStock, func(c *topics.Command) { c.Stock = &topics.ZoneStock{ZoneID: tZone, Available: 1} })
	outcomes = s.Advance(outcomes, now.Add(time.Hour)) // expired
	seen := map[topics.OutcomeType]int{}
	for _, e := range outcomes {
		seen[e.Type]++
		if err := schemas[e.Type].Validate(body(t, e)); err != nil {
			raw, _ := json.Marshal(e)
			t.Errorf("%s from the queue: %v\n%s", e.Type, err, raw)
		}
	}
	for _, typ := range topics.OutcomeTypes {
		if topics.IsQueueOutcome(typ) && seen[typ] == 0 {
			t.Errorf("session emitted no %s", typ)
		}
	}
	if seen[topics.OutRequestRejected] < 2 || seen[topics.OutRequestReplayed] != 1 {
		t.Errorf("rejections %d, replays %d", seen[topics.OutRequestRejected], seen[topics.OutRequestReplayed])
	}
}
