package e2e

import (
	"bufio"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer/buyertest"
	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
)

// roomSeed is the admission key of the rooms' systems, so that tests can sign
// tokens the API would (expired ones, other events').
var roomSeed = []byte("e2e waiting room admission seed!")

// roomSystem is a running ticketd whose buyers come from a test identity provider,
// with an easy proof of work.
type roomSystem struct {
	*system
	idp *buyertest.IdP
}

func startRoomSystem(t *testing.T) *roomSystem {
	t.Helper()
	idp := buyertest.New(t)
	jwks := idp.WriteJWKS()
	s := startSystem(t, func(c *app.Config) {
		c.AdmissionSigningKey = base64.StdEncoding.EncodeToString(roomSeed)
		c.PowDifficulty = 4
		c.BuyerJWKS, c.BuyerIssuer, c.BuyerAudience = jwks, buyertest.Issuer, buyertest.Audience
	})
	return &roomSystem{system: s, idp: idp}
}

// createRoomEvent creates an event of one zone behind a waiting room and waits
// until the read model has both.
func (s *roomSystem) createRoomEvent(capacity int, room map[string]any) (eventID, zoneID string) {
	s.t.Helper()
	r := s.expect(s.do("POST", "/events", map[string]any{"name": "Flash sale",
		"zones": []map[string]any{{"name": "GA", "capacity": capacity, "hold_quantity_max": 4}}, "waiting_room": room},
		"Authorization", "Bearer "+adminToken, "Prefer", "wait=20"), http.StatusCreated)
	m := r.json(s.t)
	eventID = m["event_id"].(string)
	zoneID = m["zones"].([]any)[0].(map[string]any)["id"].(string)
	if wr, _ := m["waiting_room"].(map[string]any); wr["status"] != "succeeded" {
		s.t.Fatalf("waiting room not configured: %s", r.body)
	}
	return eventID, zoneID
}

// solved is a join body with a solved challenge of the event.
func (s *roomSystem) solved(eventID string) map[string]any {
	s.t.Helper()
	c := s.expect(s.do("GET", "/events/"+eventID+"/challenge", nil), http.StatusOK).json(s.t)
	token, _ := c["token"].(string)
	return map[string]any{"challenge": token, "nonce": pow.Solve(token, int(c["difficulty"].(float64)))}
}

// join puts customer in the event's queue and returns the queue id.
func (s *roomSystem) join(eventID, customer string) string {
	s.t.Helper()
	r := s.do("POST", "/events/"+eventID+"/queue", s.solved(eventID), "Authorization", s.idp.Header(customer), "Prefer", "wait=10")
	if r.status != http.StatusCreated && r.status != http.StatusAccepted {
		s.t.Fatalf("join of %s: %d %s", customer, r.status, r.body)
	}
	return r.json(s.t)["queue_id"].(string)
}

// awaitStatus long-polls GET /queue/{id} until its status is want, and returns the
// place.
func (s *roomSystem) awaitStatus(queueID, want string) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := s.expect(s.do("GET", "/queue/"+queueID, nil, "Prefer", "wait=2"), http.StatusOK).json(s.t)
		if m["status"] == want {
			return m
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("place %s is %v after 30 s, want %s", queueID, m, want)
		}
	}
}

// hold places a hold of quantity in the zone for customer with the admission
// token (none when token is ""), waiting for the answer.
func (s *roomSystem) hold(eventID, zoneID, customer, token, key string, quantity int) response {
	s.t.Helper()
	return s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": zoneID, "quantity": quantity,
		"idempotency_key": key}, "Authorization", s.idp.Header(customer), "Admission-Token", token, "Prefer", "wait=10")
}

func (s *roomSystem) expectError(r response, status int, code, reason string) {
	s.t.Helper()
	s.expect(r, status)
	e, _ := r.json(s.t)["error"].(map[string]any)
	if e["code"] != code || reason != "" && e["reason"] != reason {
		s.t.Fatalf("error %v, want %s (%s)", e, code, reason)
	}
}

// TestWaitingRoomJourney proves the buyer's journey on real Kafka and Postgres:
// challenge, join, wait, admitted with a token, hold with it, confirm; and each
// rejection: a hold with no token, a forged, expired or other event's token, a
// second hold over the admission's allowance (the same key still replays), a bad
// or replayed proof of work, an unverified buyer, a body customer_id not the
// buyer's.
func TestWaitingRoomJourney(t *testing.T) {
	s := startRoomSystem(t)
	eventID, zoneID := s.createRoomEvent(10, map[string]any{"rate_per_second": 5, "allowance": 2, "shop_seconds": 120})
	queuePath := "/events/" + eventID + "/queue"

	// Joins refused before anything is queued.
	bad := s.solved(eventID)
	bad["nonce"] = "not-a-solution-" + strings.Repeat("x", 8)
	if pow.LeadingZeroBits(bad["challenge"].(string), bad["nonce"].(string)) < 4 {
		s.expectError(s.do("POST", queuePath, bad, "Authorization", s.idp.Header("ann")), http.StatusForbidden, "challenge_invalid", "insufficient_work")
	}
	s.expectError(s.do("POST", queuePath, s.solved(eventID)), http.StatusUnauthorized, "buyer_unverified", "missing")
	stranger := buyertest.New(t)
	s.expectError(s.do("POST", queuePath, s.solved(eventID), "Authorization", stranger.Header("ann")),
		http.StatusUnauthorized, "buyer_unverified", "")
	mismatch := s.solved(eventID)
	mismatch["customer_id"] = "bob"
	s.expectError(s.do("POST", queuePath, mismatch, "Authorization", s.idp.Header("ann")), http.StatusForbidden, "customer_mismatch", "")

	// Join, with a challenge that cannot be spent twice.
	body := s.solved(eventID)
	r := s.do("POST", queuePath, body, "Authorization", s.idp.Header("ann"), "Prefer", "wait=10")
	if r.status != http.StatusCreated && r.status != http.StatusAccepted {
		t.Fatalf("join: %d %s", r.status, r.body)
	}
	queueID := r.json(t)["queue_id"].(string)
	s.expectError(s.do("POST", queuePath, body, "Authorization", s.idp.Header("ann")), http.StatusForbidden, "challenge_invalid", "replayed")

	place := s.awaitStatus(queueID, "admitted")
	token, _ := place["admission_token"].(string)
	if token == "" || place["allowance"].(float64) != 2 {
		t.Fatalf("admitted place %v, want a token for 2 tickets", place)
	}
	// Joining again gives the same place back.
	again := s.expect(s.do("POST", queuePath, s.solved(eventID), "Authorization", s.idp.Header("ann"), "Prefer", "wait=10"), http.StatusCreated).json(t)
	if again["queue_id"] != queueID || again["replayed"] != true {
		t.Errorf("second join %v, want place %s replayed", again, queueID)
	}

	// Holds refused for their token.
	signer, err := admittoken.NewSigner(roomSeed)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(event uuid.UUID, customer string, exp time.Time) string {
		tok, err := signer.Sign(admittoken.Claims{EventID: event, QueueID: uuid.MustParse(queueID), CustomerID: customer,
			Allowance: 2, IssuedAt: exp.Add(-time.Hour), ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	forger, _ := admittoken.NewSigner([]byte("another key, not the API's own!!"))
	forged, _ := forger.Sign(admittoken.Claims{EventID: uuid.MustParse(eventID), QueueID: uuid.MustParse(queueID),
		CustomerID: "ann", Allowance: 2, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	s.expectError(s.hold(eventID, zoneID, "ann", "", "h0", 1), http.StatusUnauthorized, "admission_required", "missing")
	s.expectError(s.hold(eventID, zoneID, "ann", forged, "h0", 1), http.StatusForbidden, "admission_invalid", "forged")
	s.expectError(s.hold(eventID, zoneID, "ann", sign(uuid.MustParse(eventID), "ann", time.Now().Add(-time.Minute)), "h0", 1),
		http.StatusForbidden, "admission_invalid", "expired")
	s.expectError(s.hold(eventID, zoneID, "ann", sign(uuid.New(), "ann", time.Now().Add(time.Hour)), "h0", 1),
		http.StatusForbidden, "admission_invalid", "wrong_event")
	s.expectError(s.hold(eventID, zoneID, "bob", token, "h0", 1), http.StatusForbidden, "admission_invalid", "wrong_buyer")

	// The hold with the token, its confirm, and the allowance spent once.
	held := s.expect(s.hold(eventID, zoneID, "ann", token, "h1", 2), http.StatusCreated).json(t)
	holdID := held["id"].(string)
	replay := s.expect(s.hold(eventID, zoneID, "ann", token, "h1", 2), http.StatusCreated).json(t)
	if replay["id"] != holdID {
		t.Errorf("retried hold %v, want hold %s again", replay, holdID)
	}
	s.expectError(s.hold(eventID, zoneID, "ann", token, "h2", 1), http.StatusForbidden, "admission_allowance_exceeded", "")
	s.expect(s.do("POST", "/holds/"+holdID+"/confirm", nil, "Idempotency-Key", "c1", "Prefer", "wait=10"), http.StatusCreated)
	s.eventuallyInventory(eventID, zoneID, [4]float64{10, 8, 0, 2})
}

// TestWaitingRoomSoldOut proves that buyers waiting in a room whose tickets are
// all sold are told sold_out, by a long poll and on the stream. Automatic rate: the
// first buyer's admission covers every ticket, so the others wait (one more may be
// admitted while the first one's hold travels to the zone, before the zone
// reports its stock: the last two still wait).
func TestWaitingRoomSoldOut(t *testing.T) {
	s := startRoomSystem(t)
	eventID, zoneID := s.createRoomEvent(2, map[string]any{"rate_per_second": "automatic", "allowance": 2, "shop_seconds": 120})
	first := s.join(eventID, "ann")
	token := s.awaitStatus(first, "admitted")["admission_token"].(string)
	var waiting []string
	for _, c := range []string{"bob", "cid", "dee"} {
		waiting = append(waiting, s.join(eventID, c))
	}
	for _, id := range waiting {
		if m := s.expect(s.do("GET", "/queue/"+id, nil), http.StatusOK).json(t); m["status"] != "waiting" {
			t.Fatalf("later buyer %v, want waiting while the first may buy every ticket", m)
		}
	}
	holdID := s.expect(s.hold(eventID, zoneID, "ann", token, "all", 2), http.StatusCreated).json(t)["id"].(string)
	s.expect(s.do("POST", "/holds/"+holdID+"/confirm", nil, "Idempotency-Key", "c", "Prefer", "wait=10"), http.StatusCreated)
	second := waiting[len(waiting)-1]
	s.awaitStatus(waiting[len(waiting)-2], "sold_out")
	s.awaitStatus(second, "sold_out")

	// The stream's first event says it too (the stream stays open: read one event).
	req, err := http.NewRequest("GET", s.url+"/queue/"+second, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if !strings.Contains(data, `"status":"sold_out"`) {
				t.Errorf("stream's first event %s, want sold_out", data)
			}
			return
		}
	}
	t.Errorf("stream ended without an event: %v", sc.Err())
}

// driveRoomTraffic gives the waiting-room dashboard its series (TestDashboards):
// a challenge solved, bad ones refused, joins, an admission spent on a hold and a
// confirm, refused admission tokens, and a waiting buyer told sold_out. Buyers are
// self-declared (customer_id), as the dashboards' system has no identity provider.
func driveRoomTraffic(t *testing.T, s *system) {
	t.Helper()
	rs := &roomSystem{system: s}
	eventID, zoneID := rs.createRoomEvent(2, map[string]any{"rate_per_second": "automatic", "allowance": 2, "shop_seconds": 60})
	join := func(customer string) string {
		body := rs.solved(eventID)
		body["customer_id"] = customer
		r := s.do("POST", "/events/"+eventID+"/queue", body, "Prefer", "wait=10")
		if r.status != http.StatusCreated && r.status != http.StatusAccepted {
			t.Fatalf("join of %s: %d %s", customer, r.status, r.body)
		}
		return r.json(t)["queue_id"].(string)
	}
	bad := rs.solved(eventID)
	bad["customer_id"], bad["nonce"] = "bot", "0"
	if s.do("POST", "/events/"+eventID+"/queue", bad).status == http.StatusCreated {
		t.Log("a random nonce solved the challenge")
	}
	first := join("dash-ann")
	token := rs.awaitStatus(first, "admitted")["admission_token"].(string)
	// One more may be admitted before the zone reports the first hold (see
	// TestWaitingRoomSoldOut); the last of three still waits.
	join("dash-bob")
	join("dash-cid")
	last := join("dash-dee")
	place := func(key, tok string, status int) map[string]any {
		return s.expect(s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": zoneID, "quantity": 2,
			"idempotency_key": key, "customer_id": "dash-ann"}, "Admission-Token", tok, "Prefer", "wait=10"), status).json(t)
	}
	place("dash-room-none", "", http.StatusUnauthorized)
	place("dash-room-forged", token[:len(token)-4]+"AAAA", http.StatusForbidden)
	holdID := place("dash-room", token, http.StatusCreated)["id"].(string)
	// Past the allowance: refused by the queue writer, not the API.
	s.expectError(s.do("POST", "/holds", map[string]any{"event_id": eventID, "zone_id": zoneID, "quantity": 1,
		"idempotency_key": "dash-room-over", "customer_id": "dash-ann"}, "Admission-Token", token, "Prefer", "wait=10"),
		http.StatusForbidden, "admission_allowance_exceeded")
	s.expect(s.do("POST", "/holds/"+holdID+"/confirm", nil, "Idempotency-Key", "dash-room-c", "Prefer", "wait=10"), http.StatusCreated)
	rs.awaitStatus(last, "sold_out")
}

// TestWaitingRoomPatch proves PATCH /events/{id}: a waiting room set on an event
// already selling puts its zones behind it (a hold then needs a token), and
// closing it takes them out again.
func TestWaitingRoomPatch(t *testing.T) {
	s := startRoomSystem(t)
	eventID, zones := s.createEvent(10)
	hold := func(key string) response { return s.hold(eventID, zones[0], "ann", "", key, 1) }
	s.expect(hold("before"), http.StatusCreated)
	patch := func(room map[string]any) {
		r := s.expect(s.do("PATCH", "/events/"+eventID, map[string]any{"waiting_room": room},
			"Authorization", "Bearer "+adminToken, "Prefer", "wait=20"), http.StatusOK)
		if m := r.json(t); m["status"] != "succeeded" {
			t.Fatalf("patch: %s", r.body)
		}
	}
	patch(map[string]any{"rate_per_second": 10})
	// The API's copy of the zone is refreshed within a second.
	s.eventually(func() bool { return hold("during").status == http.StatusUnauthorized }, "holds need an admission")
	s.expect(s.do("POST", "/events/"+eventID+"/queue", s.solved(eventID), "Authorization", s.idp.Header("ann"), "Prefer", "wait=10"),
		http.StatusCreated)
	patch(map[string]any{"enabled": false})
	s.eventually(func() bool { return hold("after").status == http.StatusCreated }, "holds without an admission again")
	s.expectError(s.do("POST", "/events/"+eventID+"/queue", s.solved(eventID), "Authorization", s.idp.Header("bob")),
		http.StatusConflict, "queue_not_open", "")
}
