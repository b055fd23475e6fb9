package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/processor"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Helpers of this file. The harness's system reports failures on the test that
// started it; on returns a view of it that reports on a subtest instead.

func (s *system) on(t *testing.T) *system {
	c := *s
	c.t = t
	return &c
}

var (
	bearer = []string{"Authorization", "Bearer " + adminToken}
	wait5  = []string{"Prefer", "wait=5"}
)

func hdrs(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// expectError checks an error answer: status, JSON content type, and a body
// {"error": {"code": code, "message": non-empty}}. It returns the error object.
func (s *system) expectError(r response, status int, code string) map[string]any {
	s.t.Helper()
	s.expect(r, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Errorf("error answer Content-Type %q, want application/json; body %s", ct, r.body)
	}
	e, _ := r.json(s.t)["error"].(map[string]any)
	if e == nil {
		s.t.Fatalf("body %s has no error object", r.body)
	}
	if e["code"] != code {
		s.t.Errorf("error code %v, want %s; body %s", e["code"], code, r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		s.t.Errorf("error without message: %s", r.body)
	}
	return e
}

// expectAccepted checks a 202 submit answer and returns its Location.
func (s *system) expectAccepted(r response) string {
	s.t.Helper()
	s.expect(r, http.StatusAccepted)
	m := r.json(s.t)
	id, _ := m["request_id"].(string)
	loc := r.header.Get("Location")
	if id == "" || m["status"] != "pending" || loc != "/requests/"+id {
		s.t.Fatalf("202 answer: Location %q, body %s", loc, r.body)
	}
	if r.header.Get("Retry-After") == "" {
		s.t.Errorf("202 answer without Retry-After")
	}
	if r.header.Get("Preference-Applied") != "" {
		s.t.Errorf("202 without a wait has Preference-Applied %q", r.header.Get("Preference-Applied"))
	}
	return loc
}

func (s *system) placeHold(eventID, zoneID string, qty int, key string, extra ...string) response {
	s.t.Helper()
	return s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": zoneID,
		"quantity": qty, "idempotency_key": key}, extra...)
}

func (s *system) patchZone(eventID, zoneID string, body any, extra ...string) response {
	s.t.Helper()
	return s.do("PATCH", "/events/"+eventID+"/zones/"+zoneID, body, hdrs(bearer, extra)...)
}

// zone returns one zone of GET /events/{id}/availability.
func (s *system) zone(eventID, zoneID string) map[string]any {
	s.t.Helper()
	m := s.expect(s.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK).json(s.t)
	for _, z := range m["zones"].([]any) {
		if z := z.(map[string]any); z["zone_id"] == zoneID {
			return z
		}
	}
	s.t.Fatalf("zone %s not in availability of event %s: %v", zoneID, eventID, m)
	return nil
}

// inventory is a zone's capacity, available, held and sold.
func (s *system) inventory(eventID, zoneID string) [4]float64 {
	s.t.Helper()
	z := s.zone(eventID, zoneID)
	return [4]float64{z["capacity"].(float64), z["available"].(float64), z["held"].(float64), z["sold"].(float64)}
}

func (s *system) eventuallyInventory(eventID, zoneID string, want [4]float64) {
	s.t.Helper()
	var got [4]float64
	s.eventually(func() bool {
		got = s.inventory(eventID, zoneID)
		return got == want
	}, "inventory (capacity, available, held, sold) %v, want %v", &got, want)
}

// commandLog counts the commands on the system's commands topic, to show that a
// rejected request published nothing. The processor's clock ticks (and the
// markers of the transactions that carry them) are on that topic too, so end
// offsets alone would count them: the log reads the records and skips ticks.
type commandLog struct {
	adm   *kadm.Client
	cl    *kgo.Client
	topic string
	next  map[int32]int64 // offset after the last record read, per partition
	tick  map[int32]bool  // whether that record was a tick
	n     int64           // commands read so far
}

func newCommandLog(t *testing.T, s *system) *commandLog {
	t.Helper()
	topic := topics.NamesWithPrefix(s.cfg.TopicPrefix).Commands
	adm, err := kgo.NewClient(kgo.SeedBrokers(testenv.Kafka(t)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(testenv.Kafka(t)...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &commandLog{adm: kadm.NewClient(adm), cl: cl, topic: topic, next: map[int32]int64{}, tick: map[int32]bool{}}
}

// count is how many commands (records other than ticks) the topic has had.
func (l *commandLog) count(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := l.adm.ListEndOffsets(ctx, l.topic)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", l.topic, err)
	}
	end := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	// Read up to the end offsets. A transaction's marker takes an offset but is
	// never returned: a partition whose last record is a tick one short of its end
	// is read; anything else left short is given up after a quiet 2 s.
	read := func() bool {
		for p, e := range end {
			if l.next[p] < e && !(l.tick[p] && l.next[p]+1 == e) {
				return false
			}
		}
		return true
	}
	quiet := time.Now().Add(2 * time.Second)
	for !read() && time.Now().Before(quiet) {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := l.cl.PollFetches(pctx)
		pcancel()
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v", l.topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			l.next[r.Partition] = r.Offset + 1
			l.tick[r.Partition] = isTickRecord(r)
			if !l.tick[r.Partition] {
				l.n++
			}
			quiet = time.Now().Add(2 * time.Second)
		})
	}
	return l.n
}

// isTickRecord is processor.isTick: a record with the tick header.
func isTickRecord(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == processor.TickHeader {
			return true
		}
	}
	return false
}

// v7At is a UUIDv7 with the timestamp at and, in its 12 rand_a bits, partition,
// the way the API mints request ids.
func v7At(at time.Time, partition int) string {
	var u uuid.UUID
	_, _ = rand.Read(u[:])
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(u[:6], ms[2:])
	u[6] = 0x70 | byte(partition>>8)&0x0f
	u[7] = byte(partition)
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// partitionOfRequest is the partition a request id (or hold id) names.
func partitionOfRequest(id string) int {
	u := uuid.MustParse(id)
	return int(u[6]&0x0f)<<8 | int(u[7])
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return ts
}

// TestAPIEndpoints proves, on one running system on real Kafka and Postgres, that
// every endpoint of the HTTP API answers as documented: submits (202 + poll, and
// Prefer: wait), reads, admin routes, ops routes, every processor rejection
// (insufficient capacity, limits, resolved and expired holds), and every bad input
// with its status and error code, publishing nothing.
func TestAPIEndpoints(t *testing.T) {
	start := time.Now()
	s := startSystem(t)
	t.Logf("system ready in %s", time.Since(start).Round(time.Millisecond))
	cmds := newCommandLog(t, s)

	// The expiry case waits for a 10 s TTL; its hold is placed first so that the
	// other subtests run during the wait.
	expEvent, expZones := s.createEvent(10)
	r := s.expect(s.patchZone(expEvent, expZones[0], map[string]any{"hold_ttl_seconds": 10}, wait5...), http.StatusOK)
	if m := r.json(t); m["status"] != "succeeded" || m["type"] != string(topics.CmdConfigureZone) {
		t.Fatalf("PATCH hold_ttl_seconds answer %s", r.body)
	}
	ev := s.expect(s.do("GET", "/events/"+expEvent, nil), http.StatusOK).json(t)
	if z := ev["zones"].([]any)[0].(map[string]any); z["hold_ttl_seconds"] != 10.0 {
		t.Errorf("after a waited PATCH, GET /events shows hold_ttl_seconds %v, want 10", z["hold_ttl_seconds"])
	}
	expHold := s.expect(s.placeHold(expEvent, expZones[0], 3, "expire-1", wait5...), http.StatusCreated).json(t)
	expCreated, expExpires := parseTime(t, expHold["created_at"]), parseTime(t, expHold["expires_at"])
	if d := expExpires.Sub(expCreated); d != 10*time.Second {
		t.Errorf("hold in a zone with TTL 10 s: expires_at - created_at = %s", d)
	}
	if got := s.inventory(expEvent, expZones[0]); got != [4]float64{10, 7, 3, 0} && time.Now().Before(expExpires) {
		t.Errorf("inventory after a waited hold of 3: %v, want [10 7 3 0]", got)
	}

	t.Run("ops", func(t *testing.T) {
		// GET /health, /ready and /openapi.yaml answer as documented.
		s := s.on(t)
		r := s.expect(s.do("GET", "/health", nil), http.StatusOK)
		if string(r.body) != "ok" {
			t.Errorf("GET /health body %q, want ok", r.body)
		}
		r = s.expect(s.do("GET", "/ready", nil), http.StatusOK)
		if r.json(t)["status"] != "ready" {
			t.Errorf("GET /ready body %s", r.body)
		}
		r = s.expect(s.do("GET", "/openapi.yaml", nil), http.StatusOK)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
			t.Errorf("GET /openapi.yaml Content-Type %q", ct)
		}
		for _, want := range []string{"openapi: 3", "/holds/{id}/confirm:", "/events/{id}/zones/{zone_id}:", "/requests/{id}:"} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("openapi.yaml lacks %q", want)
			}
		}
	})

	t.Run("admin", func(t *testing.T) {
		// The admin routes need the bearer token (401 otherwise, nothing published),
		// answer 202 (or 201/200 with Prefer: wait), and their effects show in reads.
		s := s.on(t)
		body := map[string]any{"name": "Admin", "zones": []map[string]any{{"name": "floor", "capacity": 10}}}
		patch := map[string]any{"capacity": 20}
		before := cmds.count(t)
		for _, auth := range [][]string{nil, {"Authorization", "Bearer wrong-token-0123456789"},
			{"Authorization", "Basic " + adminToken}, {"Authorization", adminToken},
			{"Authorization", "Bearer " + adminToken + "x"}, {"Authorization", "Bearer "}} {
			r := s.do("POST", "/events", body, auth...)
			s.expectError(r, http.StatusUnauthorized, "unauthorized")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			s.expectError(s.do("PATCH", "/events/"+expEvent+"/zones/"+expZones[0], patch, auth...),
				http.StatusUnauthorized, "unauthorized")
		}
		if after := cmds.count(t); after != before {
			t.Errorf("401 answers published %d commands", after-before)
		}

		// POST /events without waiting: 202, Location /events/{id}, every zone pending.
		r := s.expect(s.do("POST", "/events", map[string]any{"name": "Async", "zones": []map[string]any{
			{"name": "a", "capacity": 7}, {"name": "b", "capacity": 3, "hold_ttl_seconds": 30, "hold_quantity_max": 2, "customer_limit": 4},
		}}, bearer...), http.StatusAccepted)
		created := r.json(t)
		eventID, _ := created["event_id"].(string)
		if r.header.Get("Location") != "/events/"+eventID || r.header.Get("Retry-After") == "" || created["status"] != "pending" {
			t.Fatalf("POST /events 202: Location %q, Retry-After %q, body %s", r.header.Get("Location"), r.header.Get("Retry-After"), r.body)
		}
		zones := created["zones"].([]any)
		if len(zones) != 2 {
			t.Fatalf("POST /events answer has %d zones: %s", len(zones), r.body)
		}
		zoneIDs := map[string]string{}
		for _, z := range zones {
			z := z.(map[string]any)
			if z["status"] != "pending" || z["id"] == nil || z["request_id"] == nil {
				t.Fatalf("created zone %v", z)
			}
			zoneIDs[z["name"].(string)] = z["id"].(string)
			if res := s.poll("/requests/" + z["request_id"].(string)); res["status"] != "succeeded" || res["type"] != "zone.configure" {
				t.Fatalf("zone %s creation: %v", z["name"], res)
			}
		}
		s.eventually(func() bool { return s.do("GET", "/events/"+eventID, nil).status == http.StatusOK }, "event visible")
		e := s.expect(s.do("GET", "/events/"+eventID, nil), http.StatusOK).json(t)
		if e["id"] != eventID || e["name"] != "Async" || e["created_at"] == nil {
			t.Errorf("GET /events/{id}: %v", e)
		}
		want := map[string][6]float64{ // capacity, available, held, sold, hold_ttl_seconds, hold_quantity_max
			"a": {7, 7, 0, 0, 600, 10},
			"b": {3, 3, 0, 0, 30, 2},
		}
		for _, z := range e["zones"].([]any) {
			z := z.(map[string]any)
			w := want[z["name"].(string)]
			got := [6]float64{z["capacity"].(float64), z["available"].(float64), z["held"].(float64),
				z["sold"].(float64), z["hold_ttl_seconds"].(float64), z["hold_quantity_max"].(float64)}
			if got != w || z["id"] != zoneIDs[z["name"].(string)] || z["as_of"] == nil {
				t.Errorf("zone %v: got %v, want %v", z, got, w)
			}
			if wantLimit := map[string]float64{"a": 0, "b": 4}[z["name"].(string)]; z["customer_limit"] != wantLimit {
				t.Errorf("zone %s customer_limit %v, want %v", z["name"], z["customer_limit"], wantLimit)
			}
		}

		// POST /events with Prefer: wait: 201 once every zone is configured.
		r = s.expect(s.do("POST", "/events", map[string]any{"name": "Waited", "zones": []map[string]any{{"name": "x", "capacity": 1}}},
			hdrs(bearer, wait5)...), http.StatusCreated)
		m := r.json(t)
		if r.header.Get("Location") != "/events/"+m["event_id"].(string) || m["status"] != "succeeded" ||
			m["zones"].([]any)[0].(map[string]any)["status"] != "succeeded" || r.header.Get("Preference-Applied") != "wait=5" {
			t.Errorf("POST /events with wait: Location %q, Preference-Applied %q, body %s",
				r.header.Get("Location"), r.header.Get("Preference-Applied"), r.body)
		}
		s.expect(s.do("GET", "/events/"+m["event_id"].(string)+"/availability", nil), http.StatusOK)

		// PATCH without waiting: 202, then the effect shows.
		loc := s.expectAccepted(s.patchZone(eventID, zoneIDs["a"], map[string]any{"capacity": 9, "customer_limit": 5}))
		if res := s.poll(loc); res["status"] != "succeeded" || res["type"] != "zone.configure" || res["zone_id"] != zoneIDs["a"] {
			t.Fatalf("PATCH result %v", res)
		}
		s.eventuallyInventory(eventID, zoneIDs["a"], [4]float64{9, 9, 0, 0})
		// A TTL under the contract's 10 s minimum is refused at the edge.
		r = s.patchZone(eventID, zoneIDs["a"], map[string]any{"hold_ttl_seconds": 5}, wait5...)
		s.expectError(r, http.StatusBadRequest, "invalid_field")
		// An Idempotency-Key on PATCH: a retry replays the first answer.
		for range 2 {
			r = s.expect(s.patchZone(eventID, zoneIDs["a"], map[string]any{"hold_quantity_max": 3},
				hdrs(wait5, []string{"Idempotency-Key", "patch-a-1"})...), http.StatusOK)
		}
		if m := r.json(t); m["replayed"] != true || m["status"] != "succeeded" {
			t.Errorf("PATCH retry with the same Idempotency-Key: %s", r.body)
		}
		s.expectError(s.patchZone(eventID, zoneIDs["a"], map[string]any{"hold_quantity_max": 4},
			hdrs(wait5, []string{"Idempotency-Key", "patch-a-1"})...), http.StatusConflict, "idempotency_conflict")
		e = s.expect(s.do("GET", "/events/"+eventID, nil), http.StatusOK).json(t)
		for _, z := range e["zones"].([]any) {
			if z := z.(map[string]any); z["name"] == "a" && (z["hold_quantity_max"] != 3.0 || z["customer_limit"] != 5.0 || z["hold_ttl_seconds"] != 600.0) {
				t.Errorf("zone a after PATCHes: %v", z)
			}
		}
	})

	t.Run("submit_then_poll", func(t *testing.T) {
		// POST /holds, POST /holds/{id}/confirm and DELETE /holds/{id} answer 202 with
		// Location and Retry-After; polling shows the results, and GET /holds and
		// GET /orders show the hold and the order in their current state.
		s := s.on(t)
		eventID, zones := s.createEvent(10)
		loc := s.expectAccepted(s.placeHold(eventID, zones[0], 2, "poll-hold-1"))
		res := s.poll(loc)
		hold, _ := res["hold"].(map[string]any)
		holdID := strings.TrimPrefix(loc, "/requests/")
		if res["status"] != "succeeded" || res["type"] != "hold.place" || res["request_id"] != holdID ||
			res["event_id"] != eventID || res["zone_id"] != zones[0] || res["decided_at"] == nil || hold == nil ||
			hold["id"] != holdID || hold["status"] != "active" || hold["quantity"] != 2.0 {
			t.Fatalf("place result %v", res)
		}
		h := s.expect(s.do("GET", "/holds/"+holdID, nil), http.StatusOK).json(t)
		if h["id"] != holdID || h["event_id"] != eventID || h["zone_id"] != zones[0] || h["quantity"] != 2.0 ||
			h["status"] != "active" || h["resolved_at"] != nil || h["order_id"] != nil ||
			!parseTime(t, h["expires_at"]).After(parseTime(t, h["created_at"])) {
			t.Errorf("GET /holds/{id} active: %v", h)
		}
		s.eventuallyInventory(eventID, zones[0], [4]float64{10, 8, 2, 0})

		loc = s.expectAccepted(s.do("POST", "/holds/"+holdID+"/confirm", nil, "Idempotency-Key", "poll-confirm-1"))
		res = s.poll(loc)
		order, _ := res["order"].(map[string]any)
		orderID := strings.TrimPrefix(loc, "/requests/")
		if res["status"] != "succeeded" || res["type"] != "hold.confirm" || order == nil || order["id"] != orderID ||
			order["hold_id"] != holdID || order["status"] != "confirmed" {
			t.Fatalf("confirm result %v", res)
		}
		if rh, _ := res["hold"].(map[string]any); rh == nil || rh["status"] != "confirmed" {
			t.Errorf("confirm result's hold %v, want confirmed", res["hold"])
		}
		o := s.expect(s.do("GET", "/orders/"+orderID, nil), http.StatusOK).json(t)
		if o["id"] != orderID || o["hold_id"] != holdID || o["event_id"] != eventID || o["zone_id"] != zones[0] ||
			o["quantity"] != 2.0 || o["status"] != "confirmed" || o["created_at"] == nil {
			t.Errorf("GET /orders/{id}: %v", o)
		}
		h = s.expect(s.do("GET", "/holds/"+holdID, nil), http.StatusOK).json(t)
		if h["status"] != "confirmed" || h["order_id"] != orderID || h["resolved_at"] == nil {
			t.Errorf("GET /holds/{id} confirmed: %v", h)
		}

		// A charset parameter on the JSON content type is fine.
		loc = s.expectAccepted(s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": zones[0],
			"quantity": 3, "idempotency_key": "poll-hold-2", "customer_id": "carol"}, "Content-Type", "application/json; charset=utf-8"))
		hold2 := strings.TrimPrefix(loc, "/requests/")
		if res := s.poll(loc); res["status"] != "succeeded" || res["hold"].(map[string]any)["customer_id"] != "carol" {
			t.Fatalf("second hold %v", res)
		}
		loc = s.expectAccepted(s.do("DELETE", "/holds/"+hold2, nil))
		res = s.poll(loc)
		if res["status"] != "succeeded" || res["type"] != "hold.release" || res["hold"].(map[string]any)["status"] != "released" {
			t.Fatalf("release result %v", res)
		}
		h = s.expect(s.do("GET", "/holds/"+hold2, nil), http.StatusOK).json(t)
		if h["status"] != "released" || h["resolved_at"] == nil || h["order_id"] != nil || h["customer_id"] != "carol" {
			t.Errorf("GET /holds/{id} released: %v", h)
		}
		s.eventuallyInventory(eventID, zones[0], [4]float64{10, 8, 0, 2})

		// Boundaries that are accepted: a body of exactly 64 KiB, a 200-byte
		// idempotency key, a quantity equal to hold_quantity_max (10 by default).
		key200 := strings.Repeat("b", 200)
		body := `{"event_id":"` + eventID + `","zone_id":"` + zones[0] + `","quantity":8,"idempotency_key":"` + key200 + `"}`
		body += strings.Repeat(" ", 64<<10-len(body))
		loc = s.expectAccepted(s.do("POST", "/holds", body))
		if res := s.poll(loc); res["status"] != "succeeded" {
			t.Fatalf("hold with a 64 KiB body: %v", res)
		}
		loc = s.expectAccepted(s.do("POST", "/holds/"+strings.TrimPrefix(loc, "/requests/")+"/confirm", nil, "Idempotency-Key", strings.Repeat("c", 200)))
		if res := s.poll(loc); res["status"] != "succeeded" {
			t.Fatalf("confirm with a 200-byte key: %v", res)
		}
		ev2, zones2 := s.createEvent(10)
		if res := s.poll(s.expectAccepted(s.placeHold(ev2, zones2[0], 10, "max-qty"))); res["status"] != "succeeded" {
			t.Fatalf("hold of hold_quantity_max tickets: %v", res)
		}
	})

	t.Run("prefer_wait", func(t *testing.T) {
		// With Prefer: wait=N the submits answer like the seed (201/200/409) with
		// Preference-Applied; resolved holds cannot be resolved again.
		s := s.on(t)
		eventID, zones := s.createEvent(20)
		r := s.expect(s.placeHold(eventID, zones[0], 2, "wait-1", wait5...), http.StatusCreated)
		a := r.json(t)
		holdA, _ := a["id"].(string)
		if r.header.Get("Preference-Applied") != "wait=5" || a["request_id"] != holdA || a["status"] != "active" || a["quantity"] != 2.0 {
			t.Fatalf("waited hold: Preference-Applied %q, body %s", r.header.Get("Preference-Applied"), r.body)
		}
		// The wait is capped at the server's WaitMax (30 s) and says so.
		r = s.expect(s.placeHold(eventID, zones[0], 1, "wait-2", "Prefer", "wait=100"), http.StatusCreated)
		if got := r.header.Get("Preference-Applied"); got != "wait=30" {
			t.Errorf("Prefer: wait=100: Preference-Applied %q, want wait=30", got)
		}
		holdB := r.json(t)["id"].(string)
		// Among other preferences; and wait=0 is no wait at all.
		r = s.expect(s.placeHold(eventID, zones[0], 1, "wait-3", "Prefer", "respond-async, wait=5"), http.StatusCreated)
		holdC := r.json(t)["id"].(string)
		s.expectAccepted(s.placeHold(eventID, zones[0], 1, "wait-4", "Prefer", "wait=0"))
		// A malformed wait is ignored (RFC 7240): 202; its retry with a wait answers.
		s.expectAccepted(s.placeHold(eventID, zones[0], 1, "wait-5", "Prefer", "wait=soon"))
		s.expect(s.placeHold(eventID, zones[0], 1, "wait-5", wait5...), http.StatusCreated)

		// Release, release again (same default key: replayed), then confirm: 409.
		r = s.expect(s.do("DELETE", "/holds/"+holdA, nil, wait5...), http.StatusOK)
		if m := r.json(t); m["id"] != holdA || m["status"] != "released" || m["resolved_at"] == nil || r.header.Get("Preference-Applied") != "wait=5" {
			t.Errorf("waited release: %s", r.body)
		}
		r = s.expect(s.do("DELETE", "/holds/"+holdA, nil, wait5...), http.StatusOK)
		if m := r.json(t); m["id"] != holdA || m["status"] != "released" {
			t.Errorf("release retry: %s", r.body)
		}
		r = s.do("POST", "/holds/"+holdA+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "wait-confirm-a"})...)
		s.expectError(r, http.StatusConflict, "hold_already_released")
		rejectedID, _ := r.json(t)["request_id"].(string)
		if rejectedID == "" {
			t.Errorf("waited rejection without request_id: %s", r.body)
		}
		// An idempotent retry of the hold shows it in its current state.
		r = s.expect(s.placeHold(eventID, zones[0], 2, "wait-1", wait5...), http.StatusCreated)
		if m := r.json(t); m["id"] != holdA || m["status"] != "released" {
			t.Errorf("hold retry after its release: %s, want hold %s released", r.body, holdA)
		}
		// A release with another key is a new request: rejected too.
		s.expectError(s.do("DELETE", "/holds/"+holdA, nil, hdrs(wait5, []string{"Idempotency-Key", "release-again"})...),
			http.StatusConflict, "hold_already_released")

		// Confirm, retry (200, same order), confirm with another key (409), release (409).
		r = s.expect(s.do("POST", "/holds/"+holdB+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "wait-confirm-b"})...), http.StatusCreated)
		order := r.json(t)
		orderID, _ := order["id"].(string)
		if order["hold_id"] != holdB || order["status"] != "confirmed" || order["request_id"] != orderID || r.header.Get("Preference-Applied") != "wait=5" {
			t.Fatalf("waited confirm: %s", r.body)
		}
		r = s.expect(s.do("POST", "/holds/"+holdB+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "wait-confirm-b"})...), http.StatusOK)
		retry := r.json(t)
		if retry["id"] != orderID {
			t.Errorf("confirm retry: %s, want order %s", r.body, orderID)
		}
		// The read model has the key's decision: the retry is answered from it,
		// naming the original request, and publishes nothing.
		if retry["request_id"] != orderID {
			t.Errorf("confirm retry names request %v, want the original %s", retry["request_id"], orderID)
		}
		s.expectError(s.do("POST", "/holds/"+holdB+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "wait-confirm-b2"})...),
			http.StatusConflict, "hold_already_confirmed")
		s.expectError(s.do("DELETE", "/holds/"+holdB, nil, wait5...), http.StatusConflict, "hold_already_confirmed")
		// The same key for another hold's confirm is an idempotency conflict.
		r = s.do("POST", "/holds/"+holdC+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "wait-confirm-b"})...)
		if e := s.expectError(r, http.StatusConflict, "idempotency_conflict"); e["message"] != "idempotency conflict" {
			t.Errorf("idempotency conflict message %q", e["message"])
		}
		// Same hold key, other quantity: idempotency conflict (the seed's message).
		r = s.placeHold(eventID, zones[0], 5, "wait-1", wait5...)
		if e := s.expectError(r, http.StatusConflict, "idempotency_conflict"); e["message"] != "idempotency conflict" {
			t.Errorf("idempotency conflict message %q", e["message"])
		}

		// GET /requests/{id} shows a decided rejection.
		res := s.expect(s.do("GET", "/requests/"+rejectedID, nil), http.StatusOK).json(t)
		if e, _ := res["error"].(map[string]any); res["status"] != "rejected" || res["reason"] != "hold_already_released" ||
			res["type"] != "hold.confirm" || e == nil || e["code"] != "hold_already_released" {
			t.Errorf("GET /requests/{rejected}: %v", res)
		}
		h := s.expect(s.do("GET", "/holds/"+holdA, nil), http.StatusOK).json(t)
		if h["status"] != "released" {
			t.Errorf("hold A after a rejected confirm: %v", h)
		}
		// A: released; B: confirmed (1); C, wait-4, wait-5: held (1 each).
		s.eventuallyInventory(eventID, zones[0], [4]float64{20, 16, 3, 1})
	})

	t.Run("limits", func(t *testing.T) {
		// Capacity, the per-hold quantity limit and the per-customer limit reject
		// holds; a capacity below held+sold is refused.
		s := s.on(t)
		eventID, zones := s.createEvent(5)
		s.expect(s.patchZone(eventID, zones[0], map[string]any{"customer_limit": 3}, wait5...), http.StatusOK)
		alice := func(key string, qty int, customer string) response {
			return s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": zones[0], "quantity": qty,
				"idempotency_key": key, "customer_id": customer}, wait5...)
		}
		aliceHold := s.expect(alice("lim-1", 2, "alice"), http.StatusCreated).json(t)["id"].(string)
		s.expectError(alice("lim-2", 2, "alice"), http.StatusConflict, "customer_limit_exceeded")
		bobHold := s.expect(alice("lim-3", 2, "bob"), http.StatusCreated).json(t)["id"].(string)

		// Over the zone's hold_quantity_max (default 10, then 2): 422 from the API,
		// nothing published.
		before := cmds.count(t)
		e := s.expectError(s.placeHold(eventID, zones[0], 11, "lim-4", wait5...), http.StatusUnprocessableEntity, "quantity_over_limit")
		if !strings.Contains(e["message"].(string), "10") {
			t.Errorf("quantity_over_limit message %q does not name the limit 10", e["message"])
		}
		if after := cmds.count(t); after != before {
			t.Errorf("quantity over the limit published %d commands", after-before)
		}
		s.expect(s.patchZone(eventID, zones[0], map[string]any{"hold_quantity_max": 2}, wait5...), http.StatusOK)
		before = cmds.count(t)
		s.expectError(s.placeHold(eventID, zones[0], 3, "lim-5", wait5...), http.StatusUnprocessableEntity, "quantity_over_limit")
		if after := cmds.count(t); after != before {
			t.Errorf("quantity over hold_quantity_max published %d commands", after-before)
		}

		// Capacity: 1 left, a hold of 2 is rejected with available 1 (waited and polled).
		e = s.expectError(alice("lim-6", 2, "carol"), http.StatusConflict, "insufficient_capacity")
		if e["available"] != 1.0 {
			t.Errorf("insufficient_capacity available %v, want 1", e["available"])
		}
		res := s.poll(s.expectAccepted(s.placeHold(eventID, zones[0], 2, "lim-7")))
		if e, _ := res["error"].(map[string]any); res["status"] != "rejected" || res["reason"] != "insufficient_capacity" ||
			e == nil || e["available"] != 1.0 {
			t.Errorf("polled insufficient_capacity: %v", res)
		}

		// Capacity 3 < 4 held: capacity_below_taken, nothing changes.
		r := s.patchZone(eventID, zones[0], map[string]any{"capacity": 3}, wait5...)
		s.expectError(r, http.StatusConflict, "capacity_below_taken")
		res = s.poll("/requests/" + r.json(t)["request_id"].(string))
		if res["status"] != "rejected" || res["reason"] != "capacity_below_taken" {
			t.Errorf("polled capacity_below_taken: %v", res)
		}
		if got := s.inventory(eventID, zones[0]); got != [4]float64{5, 1, 4, 0} {
			t.Errorf("inventory after a refused capacity change %v, want [5 1 4 0]", got)
		}
		// Capacity 8: 4 more available.
		s.expect(s.patchZone(eventID, zones[0], map[string]any{"capacity": 8}, wait5...), http.StatusOK)
		if got := s.inventory(eventID, zones[0]); got != [4]float64{8, 4, 4, 0} {
			t.Errorf("inventory after capacity 8: %v, want [8 4 4 0]", got)
		}

		// The customer limit counts ordered tickets too: alice has an order of 2,
		// so 2 more are over her limit of 3, 1 more is not.
		s.expect(s.do("POST", "/holds/"+aliceHold+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "lim-confirm"})...), http.StatusCreated)
		s.expectError(alice("lim-8", 2, "alice"), http.StatusConflict, "customer_limit_exceeded")
		s.expect(alice("lim-9", 1, "alice"), http.StatusCreated)
		// Sold out: insufficient_capacity says available 0.
		s.expect(s.patchZone(eventID, zones[0], map[string]any{"hold_quantity_max": 10}, wait5...), http.StatusOK)
		s.expect(alice("lim-10", 3, "dave"), http.StatusCreated)
		if got := s.inventory(eventID, zones[0]); got != [4]float64{8, 0, 6, 2} {
			t.Errorf("inventory when sold out: %v, want [8 0 6 2]", got)
		}
		e = s.expectError(alice("lim-11", 1, "eve"), http.StatusConflict, "insufficient_capacity")
		if e["available"] != 0.0 {
			t.Errorf("sold out: insufficient_capacity available %v, want 0", e["available"])
		}
		// Released tickets are on sale again.
		s.expect(s.do("DELETE", "/holds/"+bobHold, nil, wait5...), http.StatusOK)
		s.expect(alice("lim-12", 2, "eve"), http.StatusCreated)
		if got := s.inventory(eventID, zones[0]); got != [4]float64{8, 0, 6, 2} {
			t.Errorf("inventory after a release and a hold: %v, want [8 0 6 2]", got)
		}
	})

	t.Run("reads", func(t *testing.T) {
		// GET /requests answers pending for an unknown request id its partition has
		// not moved past (a fresh one, or one from the future), and 404 for one it
		// has moved past, one naming no partition, or another version; unknown
		// holds, orders and events are 404; availability's as_of moves forward.
		s := s.on(t)
		busy := partitionOfRequest(expHold["id"].(string)) // decided through now, give or take
		for _, id := range []string{v7At(time.Now(), busy), v7At(time.Now().Add(time.Hour), busy)} {
			r := s.expect(s.do("GET", "/requests/"+id, nil), http.StatusOK)
			if m := r.json(t); m["request_id"] != id || m["status"] != "pending" || r.header.Get("Retry-After") == "" {
				t.Errorf("undecided request id: Retry-After %q, body %s", r.header.Get("Retry-After"), r.body)
			}
		}
		for _, id := range []string{uuid.NewString(), v7At(time.Now().Add(-time.Hour), busy), v7At(time.Now(), 4095)} {
			s.expectError(s.do("GET", "/requests/"+id, nil), http.StatusNotFound, "request_not_found")
		}
		unknown := uuid.NewString()
		s.expectError(s.do("GET", "/holds/"+unknown, nil), http.StatusNotFound, "hold_not_found")
		s.expectError(s.do("GET", "/orders/"+unknown, nil), http.StatusNotFound, "order_not_found")
		s.expectError(s.do("GET", "/events/"+unknown, nil), http.StatusNotFound, "event_not_found")
		s.expectError(s.do("GET", "/events/"+unknown+"/availability", nil), http.StatusNotFound, "event_not_found")
		// A hold's id is not an order's.
		s.expectError(s.do("GET", "/orders/"+expHold["id"].(string), nil), http.StatusNotFound, "order_not_found")

		eventID, zones := s.createEvent(4, 6)
		m := s.expect(s.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK).json(t)
		if m["event_id"] != eventID || len(m["zones"].([]any)) != 2 {
			t.Fatalf("availability %v", m)
		}
		z0 := s.zone(eventID, zones[0])
		if z0["name"] != "zone-0" || z0["capacity"] != 4.0 || z0["available"] != 4.0 || z0["held"] != 0.0 || z0["sold"] != 0.0 {
			t.Errorf("availability zone %v", z0)
		}
		asOf := parseTime(t, z0["as_of"])
		time.Sleep(5 * time.Millisecond)
		s.expect(s.placeHold(eventID, zones[0], 1, "reads-1", wait5...), http.StatusCreated)
		z0 = s.zone(eventID, zones[0])
		if got := parseTime(t, z0["as_of"]); !got.After(asOf) || z0["held"] != 1.0 || z0["available"] != 3.0 {
			t.Errorf("after a hold: as_of %s (before %s), zone %v", got, asOf, z0)
		}
		if z1 := s.zone(eventID, zones[1]); z1["capacity"] != 6.0 || z1["available"] != 6.0 {
			t.Errorf("other zone %v", z1)
		}
	})

	t.Run("bad_input", func(t *testing.T) {
		// Every bad input answers its status and JSON error code and publishes
		// nothing: the commands topic and the availability are unchanged.
		s := s.on(t)
		eventID, zones := s.createEvent(10, 10)
		otherEvent, otherZones := s.createEvent(10)
		holdID := s.expect(s.placeHold(eventID, zones[0], 1, "bad-hold", wait5...), http.StatusCreated).json(t)["id"].(string)
		availBefore := string(s.expect(s.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK).body)
		otherBefore := string(s.expect(s.do("GET", "/events/"+otherEvent+"/availability", nil), http.StatusOK).body)

		hold := func(kv ...any) map[string]any {
			m := map[string]any{"event_id": eventID, "zone_id": zones[0], "quantity": 1, "idempotency_key": "bad-1"}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
			return m
		}
		big := `{"event_id":"` + eventID + `","zone_id":"` + zones[0] + `","quantity":1,"idempotency_key":"` +
			strings.Repeat("k", 65<<10) + `"}`
		event := func(zones ...map[string]any) map[string]any { return map[string]any{"name": "Bad", "zones": zones} }
		unknown := uuid.NewString()
		nilID := uuid.Nil.String()
		ct := func(v string) []string { return []string{"Content-Type", v} }
		key := func(v string) []string { return []string{"Idempotency-Key", v} }
		longKey := strings.Repeat("k", 201)
		zonePath := "/events/" + eventID + "/zones/" + zones[0]

		cases := []struct {
			name, method, path string
			body               any
			headers            []string
			status             int
			code               string
		}{
			// POST /holds: fields.
			{"missing event_id", "POST", "/holds", hold("event_id", nil), nil, 400, "missing_field"},
			{"missing zone_id", "POST", "/holds", hold("zone_id", nil), nil, 400, "missing_field"},
			{"missing quantity", "POST", "/holds", hold("quantity", nil), nil, 400, "missing_field"},
			{"missing idempotency_key", "POST", "/holds", hold("idempotency_key", nil), nil, 400, "missing_field"},
			{"null event_id", "POST", "/holds", `{"event_id":null,"zone_id":"` + zones[0] + `","quantity":1,"idempotency_key":"k"}`, nil, 400, "missing_field"},
			{"empty object", "POST", "/holds", `{}`, nil, 400, "missing_field"},
			{"unknown field", "POST", "/holds", hold("seat", "A1"), nil, 400, "unknown_field"},
			{"quantity 0", "POST", "/holds", hold("quantity", 0), nil, 400, "invalid_quantity"},
			{"quantity negative", "POST", "/holds", hold("quantity", -3), nil, 400, "invalid_quantity"},
			{"quantity over hold_quantity_max", "POST", "/holds", hold("quantity", 11), nil, 422, "quantity_over_limit"},
			{"quantity over zone max", "POST", "/holds", hold("quantity", 10_000_001), nil, 422, "quantity_over_limit"},
			{"quantity a string", "POST", "/holds", hold("quantity", "2"), nil, 400, "invalid_field"},
			{"quantity a fraction", "POST", "/holds", hold("quantity", 1.5), nil, 400, "invalid_field"},
			{"quantity over int64", "POST", "/holds", `{"event_id":"` + eventID + `","zone_id":"` + zones[0] + `","quantity":99999999999999999999,"idempotency_key":"k"}`, nil, 400, "invalid_field"},
			{"empty idempotency_key", "POST", "/holds", hold("idempotency_key", ""), nil, 400, "invalid_field"},
			{"idempotency_key too long", "POST", "/holds", hold("idempotency_key", longKey), nil, 400, "invalid_field"},
			{"empty customer_id", "POST", "/holds", hold("customer_id", ""), nil, 400, "invalid_field"},
			{"customer_id too long", "POST", "/holds", hold("customer_id", longKey), nil, 400, "invalid_field"},
			{"event_id a number", "POST", "/holds", hold("event_id", 5), nil, 400, "invalid_field"},
			// POST /holds: ids.
			{"malformed event_id", "POST", "/holds", hold("event_id", "not-a-uuid"), nil, 400, "invalid_id"},
			{"malformed zone_id", "POST", "/holds", hold("zone_id", "1234"), nil, 400, "invalid_id"},
			{"nil zone_id", "POST", "/holds", hold("zone_id", nilID), nil, 400, "invalid_id"},
			{"braced event_id", "POST", "/holds", hold("event_id", "{"+eventID+"}"), nil, 400, "invalid_id"},
			{"urn zone_id", "POST", "/holds", hold("zone_id", "urn:uuid:"+zones[0]), nil, 400, "invalid_id"},
			{"unknown event and zone", "POST", "/holds", hold("event_id", unknown, "zone_id", uuid.NewString()), nil, 404, "event_not_found"},
			{"unknown event, known zone", "POST", "/holds", hold("event_id", unknown), nil, 404, "event_not_found"},
			{"unknown zone", "POST", "/holds", hold("zone_id", unknown), nil, 404, "zone_not_found"},
			{"zone of another event", "POST", "/holds", hold("zone_id", otherZones[0]), nil, 404, "zone_not_found"},
			// POST /holds: the body itself.
			{"body over 64 KiB", "POST", "/holds", big, nil, 413, "body_too_large"},
			{"body 1 byte over 64 KiB", "POST", "/holds", fmt.Sprintf("%-65537s", `{"quantity":1}`), nil, 413, "body_too_large"},
			{"body over 64 KiB, chunked", "POST", "/holds", chunked(big), nil, 413, "body_too_large"},
			{"text/plain", "POST", "/holds", hold(), ct("text/plain"), 415, "unsupported_media_type"},
			{"no content type", "POST", "/holds", hold(), ct(""), 415, "unsupported_media_type"},
			{"form content type", "POST", "/holds", "event_id=" + eventID, ct("application/x-www-form-urlencoded"), 415, "unsupported_media_type"},
			{"malformed JSON", "POST", "/holds", `{"event_id":`, nil, 400, "invalid_json"},
			{"not JSON", "POST", "/holds", `hello`, nil, 400, "invalid_json"},
			{"empty body", "POST", "/holds", ``, nil, 400, "invalid_json"},
			{"no body", "POST", "/holds", nil, ct("application/json"), 400, "invalid_json"},
			{"two JSON values", "POST", "/holds", `{"quantity":1} {"quantity":2}`, nil, 400, "invalid_json"},
			{"JSON array", "POST", "/holds", `[1,2]`, nil, 400, "invalid_field"},
			// Confirm and release.
			{"confirm unknown hold", "POST", "/holds/" + unknown + "/confirm", nil, key("c-1"), 404, "hold_not_found"},
			{"confirm malformed hold id", "POST", "/holds/xyz/confirm", nil, key("c-1"), 400, "invalid_id"},
			{"confirm without Idempotency-Key", "POST", "/holds/" + holdID + "/confirm", nil, nil, 400, "missing_idempotency_key"},
			{"confirm with an empty Idempotency-Key", "POST", "/holds/" + holdID + "/confirm", nil, key(""), 400, "missing_idempotency_key"},
			{"confirm with a long Idempotency-Key", "POST", "/holds/" + holdID + "/confirm", nil, key(longKey), 400, "invalid_field"},
			{"release unknown hold", "DELETE", "/holds/" + unknown, nil, nil, 404, "hold_not_found"},
			{"release malformed hold id", "DELETE", "/holds/" + holdID + "0", nil, nil, 400, "invalid_id"},
			{"release with a long Idempotency-Key", "DELETE", "/holds/" + holdID, nil, key(longKey), 400, "invalid_field"},
			// Reads with malformed ids.
			{"GET hold malformed id", "GET", "/holds/not-a-uuid", nil, nil, 400, "invalid_id"},
			{"GET hold nil id", "GET", "/holds/" + nilID, nil, nil, 400, "invalid_id"},
			{"GET order malformed id", "GET", "/orders/42", nil, nil, 400, "invalid_id"},
			{"GET request malformed id", "GET", "/requests/abc", nil, nil, 400, "invalid_id"},
			{"GET event malformed id", "GET", "/events/abc", nil, nil, 400, "invalid_id"},
			{"GET availability malformed id", "GET", "/events/abc/availability", nil, nil, 400, "invalid_id"},
			// POST /events.
			{"event missing name", "POST", "/events", map[string]any{"zones": []map[string]any{{"name": "a", "capacity": 1}}}, bearer, 400, "missing_field"},
			{"event name too long", "POST", "/events", map[string]any{"name": strings.Repeat("n", 201), "zones": []map[string]any{{"name": "a", "capacity": 1}}}, bearer, 400, "invalid_field"},
			{"zone name too long", "POST", "/events", event(map[string]any{"name": strings.Repeat("n", 201), "capacity": 1}), bearer, 400, "invalid_field"},
			{"event empty name", "POST", "/events", map[string]any{"name": "", "zones": []map[string]any{{"name": "a", "capacity": 1}}}, bearer, 400, "invalid_field"},
			{"event without zones", "POST", "/events", map[string]any{"name": "Bad"}, bearer, 400, "invalid_field"},
			{"event with no zone", "POST", "/events", event(), bearer, 400, "invalid_field"},
			{"event with 65 zones", "POST", "/events", event(manyZones(65)...), bearer, 400, "invalid_field"},
			{"zone missing name", "POST", "/events", event(map[string]any{"capacity": 1}), bearer, 400, "missing_field"},
			{"zone missing capacity", "POST", "/events", event(map[string]any{"name": "a"}), bearer, 400, "missing_field"},
			{"duplicate zone name", "POST", "/events", event(map[string]any{"name": "a", "capacity": 1}, map[string]any{"name": "a", "capacity": 2}), bearer, 400, "duplicate_zone_name"},
			{"negative capacity", "POST", "/events", event(map[string]any{"name": "a", "capacity": -1}), bearer, 400, "invalid_field"},
			{"capacity over the max", "POST", "/events", event(map[string]any{"name": "a", "capacity": 10_000_001}), bearer, 400, "invalid_field"},
			{"hold_ttl_seconds 0", "POST", "/events", event(map[string]any{"name": "a", "capacity": 1, "hold_ttl_seconds": 0}), bearer, 400, "invalid_field"},
			{"hold_quantity_max 0", "POST", "/events", event(map[string]any{"name": "a", "capacity": 1, "hold_quantity_max": 0}), bearer, 400, "invalid_field"},
			{"negative customer_limit", "POST", "/events", event(map[string]any{"name": "a", "capacity": 1, "customer_limit": -1}), bearer, 400, "invalid_field"},
			{"event unknown field", "POST", "/events", map[string]any{"name": "Bad", "venue": "x", "zones": []map[string]any{{"name": "a", "capacity": 1}}}, bearer, 400, "unknown_field"},
			{"zone unknown field", "POST", "/events", event(map[string]any{"name": "a", "capacity": 1, "price": 5}), bearer, 400, "unknown_field"},
			{"event text/plain", "POST", "/events", event(map[string]any{"name": "a", "capacity": 1}), hdrs(bearer, ct("text/plain")), 415, "unsupported_media_type"},
			{"event body over 64 KiB", "POST", "/events", `{"name":"` + strings.Repeat("n", 65<<10) + `","zones":[]}`, bearer, 413, "body_too_large"},
			{"event malformed JSON", "POST", "/events", `{"name":`, bearer, 400, "invalid_json"},
			// PATCH /events/{id}/zones/{zone_id}.
			{"empty patch", "PATCH", zonePath, map[string]any{}, bearer, 400, "empty_patch"},
			{"patch negative capacity", "PATCH", zonePath, map[string]any{"capacity": -1}, bearer, 400, "invalid_field"},
			{"patch hold_ttl_seconds over a day", "PATCH", zonePath, map[string]any{"hold_ttl_seconds": 86401}, bearer, 400, "invalid_field"},
			{"patch name", "PATCH", zonePath, map[string]any{"name": "renamed"}, bearer, 400, "unknown_field"},
			{"patch text/plain", "PATCH", zonePath, map[string]any{"capacity": 5}, hdrs(bearer, ct("text/plain")), 415, "unsupported_media_type"},
			{"patch malformed JSON", "PATCH", zonePath, `{"capacity":`, bearer, 400, "invalid_json"},
			{"patch long Idempotency-Key", "PATCH", zonePath, map[string]any{"capacity": 5}, hdrs(bearer, key(longKey)), 400, "invalid_field"},
			{"patch malformed event id", "PATCH", "/events/abc/zones/" + zones[0], map[string]any{"capacity": 5}, bearer, 400, "invalid_id"},
			{"patch malformed zone id", "PATCH", "/events/" + eventID + "/zones/abc", map[string]any{"capacity": 5}, bearer, 400, "invalid_id"},
			{"patch unknown event", "PATCH", "/events/" + unknown + "/zones/" + uuid.NewString(), map[string]any{"capacity": 5}, bearer, 404, "event_not_found"},
			{"patch unknown zone", "PATCH", "/events/" + eventID + "/zones/" + unknown, map[string]any{"capacity": 5}, bearer, 404, "zone_not_found"},
			{"patch zone of another event", "PATCH", "/events/" + eventID + "/zones/" + otherZones[0], map[string]any{"capacity": 5}, bearer, 404, "zone_not_found"},
			// Routing.
			{"unknown route", "GET", "/tickets", nil, nil, 404, "route_not_found"},
			{"trailing slash", "GET", "/events/" + eventID + "/", nil, nil, 404, "route_not_found"},
			{"unknown nested route", "GET", "/holds/" + holdID + "/order", nil, nil, 404, "route_not_found"},
			{"GET /holds", "GET", "/holds", nil, nil, 405, "method_not_allowed"},
			{"PUT /holds", "PUT", "/holds", hold(), nil, 405, "method_not_allowed"},
			{"PATCH /holds/{id}", "PATCH", "/holds/" + holdID, hold(), nil, 405, "method_not_allowed"},
			{"GET confirm", "GET", "/holds/" + holdID + "/confirm", nil, nil, 405, "method_not_allowed"},
			{"DELETE /events/{id}", "DELETE", "/events/" + eventID, nil, bearer, 405, "method_not_allowed"},
			{"GET /events", "GET", "/events", nil, nil, 405, "method_not_allowed"},
			{"POST /health", "POST", "/health", nil, nil, 405, "method_not_allowed"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := s.on(t)
				before := cmds.count(t)
				var r response
				if cb, ok := c.body.(chunkedBody); ok {
					r = s.doReader(c.method, c.path, cb, c.headers...)
				} else {
					r = s.do(c.method, c.path, c.body, c.headers...)
				}
				s.expectError(r, c.status, c.code)
				if c.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
					t.Errorf("405 without Allow")
				}
				if after := cmds.count(t); after != before {
					t.Errorf("%s %s published %d commands", c.method, c.path, after-before)
				}
			})
		}
		if got := string(s.expect(s.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK).body); got != availBefore {
			t.Errorf("availability changed by bad inputs:\n%s\n%s", availBefore, got)
		}
		if got := string(s.expect(s.do("GET", "/events/"+otherEvent+"/availability", nil), http.StatusOK).body); got != otherBefore {
			t.Errorf("other event's availability changed by bad inputs:\n%s\n%s", otherBefore, got)
		}
		if h := s.expect(s.do("GET", "/holds/"+holdID, nil), http.StatusOK).json(t); h["status"] != "active" {
			t.Errorf("hold after bad confirms and releases: %v", h)
		}
	})

	t.Run("hold_expired", func(t *testing.T) {
		// A hold left past its zone's 10 s TTL cannot be confirmed (hold_expired),
		// shows as expired, and its tickets are back on sale.
		s := s.on(t)
		holdID := expHold["id"].(string)
		if d := time.Until(expExpires) + 300*time.Millisecond; d > 0 {
			t.Logf("waiting %s for the hold to expire", d.Round(time.Millisecond))
			time.Sleep(d)
		}
		r := s.do("POST", "/holds/"+holdID+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "expire-confirm"})...)
		s.expectError(r, http.StatusConflict, "hold_expired")
		s.expectError(s.do("DELETE", "/holds/"+holdID, nil, wait5...), http.StatusConflict, "hold_expired")
		h := s.expect(s.do("GET", "/holds/"+holdID, nil), http.StatusOK).json(t)
		if h["status"] != "expired" || h["resolved_at"] == nil {
			t.Errorf("expired hold: %v", h)
		}
		res := s.expect(s.do("GET", "/requests/"+holdID, nil), http.StatusOK).json(t)
		if h, _ := res["hold"].(map[string]any); res["status"] != "succeeded" || h == nil || h["status"] != "expired" {
			t.Errorf("GET /requests/{place of an expired hold}: %v", res)
		}
		s.eventuallyInventory(expEvent, expZones[0], [4]float64{10, 10, 0, 0})
	})

	t.Run("metrics", func(t *testing.T) {
		// GET /metrics exposes the api's, the processor's and the sink's metrics.
		s := s.on(t)
		r := s.expect(s.do("GET", "/metrics", nil), http.StatusOK)
		body := string(r.body)
		for _, name := range []string{
			`ticket_api_http_requests_total{method="POST",route="/holds",status="202"}`,
			`ticket_api_http_requests_total{method="GET",route="unmatched",status="404"}`,
			`ticket_api_commands_published_total{type="hold.place"}`,
			"ticket_processor_commands_total ",
			"ticket_processor_transactions_total ",
			"ticket_sink_events_applied_total",
			"ticket_sink_batches_total",
		} {
			if !strings.Contains(body, name) {
				t.Errorf("GET /metrics lacks %s", name)
			}
		}
		if strings.Contains(body, expEvent) || strings.Contains(body, expHold["id"].(string)) {
			t.Errorf("GET /metrics has ids in its labels")
		}
		if v := metricValue(body, "ticket_processor_commands_total"); v <= 0 {
			t.Errorf("ticket_processor_commands_total = %v, want > 0", v)
		}
	})
	t.Logf("TestAPIEndpoints took %s", time.Since(start).Round(time.Millisecond))
}

// TestAPIRateLimit proves that with a rate limit a client over its budget gets 429
// with Retry-After and publishes nothing, while /health stays unlimited and the
// client is served again after Retry-After.
func TestAPIRateLimit(t *testing.T) {
	s := startSystem(t, func(c *app.Config) { c.RateLimit, c.RateBurst = 5, 5 })
	cmds := newCommandLog(t, s)
	eventID, zones := s.createEvent(10)
	time.Sleep(1200 * time.Millisecond) // a full bucket again

	var limited response
	for i := range 30 {
		r := s.do("GET", "/holds/"+uuid.NewString(), nil)
		if r.status == http.StatusTooManyRequests {
			limited = r
			if i < 5 {
				t.Errorf("limited after %d requests, want a burst of 5", i)
			}
			break
		}
		s.expectError(r, http.StatusNotFound, "hold_not_found")
	}
	if limited.status != http.StatusTooManyRequests {
		t.Fatal("30 requests at once were never limited")
	}
	s.expectError(limited, http.StatusTooManyRequests, "rate_limited")
	ra, err := strconv.Atoi(limited.header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Errorf("429 Retry-After %q, want whole seconds >= 1", limited.header.Get("Retry-After"))
	}
	// A limited submit publishes nothing. The bucket refills one token per 200 ms:
	// on a slow machine the submit may find one, so empty it and try again.
	for attempt := 1; ; attempt++ {
		before := cmds.count(t)
		r := s.placeHold(eventID, zones[0], 1, fmt.Sprintf("limited-%d", attempt))
		if r.status == http.StatusTooManyRequests {
			s.expectError(r, http.StatusTooManyRequests, "rate_limited")
			if after := cmds.count(t); after != before {
				t.Errorf("a rate-limited POST /holds published %d commands", after-before)
			}
			break
		}
		s.expectAccepted(r)
		if attempt == 5 {
			t.Fatal("POST /holds never limited after emptying the bucket")
		}
		for s.do("GET", "/holds/"+uuid.NewString(), nil).status != http.StatusTooManyRequests {
		}
	}
	// The admin routes are limited too (unlimited, this body would be a 400).
	for attempt := 1; ; attempt++ {
		for s.do("GET", "/holds/"+uuid.NewString(), nil).status != http.StatusTooManyRequests {
		}
		r := s.do("POST", "/events", map[string]any{"name": "x"}, bearer...)
		if r.status == http.StatusTooManyRequests || attempt == 5 {
			s.expectError(r, http.StatusTooManyRequests, "rate_limited")
			break
		}
	}
	s.expect(s.do("GET", "/health", nil), http.StatusOK)
	s.expect(s.do("GET", "/ready", nil), http.StatusOK)
	m := s.expect(s.do("GET", "/metrics", nil), http.StatusOK)
	if v := metricValue(string(m.body), "ticket_api_rate_limited_total"); v < 3 {
		t.Errorf("ticket_api_rate_limited_total = %v, want >= 3", v)
	}

	time.Sleep(time.Duration(ra) * time.Second)
	s.expectAccepted(s.placeHold(eventID, zones[0], 1, "limited-after"))
}

// chunked hides a body's length, so that it is sent chunked and the server finds
// out its size only by reading it.
type chunkedBody struct{ io.Reader }

func chunked(s string) chunkedBody { return chunkedBody{strings.NewReader(s)} }

// doReader is do with a JSON body read from body, of unknown length.
func (s *system) doReader(method, path string, body io.Reader, headers ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if req.ContentLength != 0 {
		s.t.Fatalf("body of known length %d", req.ContentLength)
	}
	req.Header.Set("Content-Type", "application/json")
	return s.send(req, headers)
}

func manyZones(n int) []map[string]any {
	zs := make([]map[string]any, n)
	for i := range zs {
		zs[i] = map[string]any{"name": fmt.Sprintf("z%d", i), "capacity": 1}
	}
	return zs
}

// metricValue is the value of an unlabelled metric in the Prometheus text format,
// or -1.
func metricValue(body, name string) float64 {
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
