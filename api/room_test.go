package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer"
	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer/buyertest"
	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// fakeQueues is an in-memory QueueReadModel over the fixture's fakeReads.
type fakeQueues struct {
	mu      sync.Mutex
	rooms   map[uuid.UUID]Room
	entries map[uuid.UUID]QueueEntry
}

func (q *fakeQueues) Room(_ context.Context, id uuid.UUID) (Room, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.rooms[id]
	if !ok {
		return Room{}, ErrNotFound
	}
	return r, nil
}

func (q *fakeQueues) QueueViews(_ context.Context, ids []uuid.UUID) ([]QueueView, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []QueueView
	for _, id := range ids {
		if e, ok := q.entries[id]; ok {
			out = append(out, QueueView{Entry: e, Room: q.rooms[e.EventID]})
		}
	}
	return out, nil
}

func (q *fakeQueues) CustomerEntry(_ context.Context, eventID uuid.UUID, customer string) (QueueView, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.entries {
		if e.EventID == eventID && e.CustomerID == customer {
			return QueueView{Entry: e, Room: q.rooms[eventID]}, nil
		}
	}
	return QueueView{}, ErrNotFound
}

func (q *fakeQueues) set(e QueueEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.entries[e.QueueID] = e
}

// roomFixture is the fixture's API with a waiting room on its event: the zone is
// behind it, joins need a proof of work of difficulty 4, and buyers come from a
// test identity provider.
type roomFixture struct {
	*fixture
	queues *fakeQueues
	signer *admittoken.Signer
	pow    *pow.Issuer
	idp    *buyertest.IdP
	reg    *prometheus.Registry
}

func newRoomFixture(t *testing.T) *roomFixture {
	t.Helper()
	f := newFixture(t, Config{})
	f.zone.WaitingRoom = true
	f.reads.zones[f.zone.ID] = f.zone
	rf := &roomFixture{fixture: f, queues: &fakeQueues{rooms: map[uuid.UUID]Room{}, entries: map[uuid.UUID]QueueEntry{}},
		idp: buyertest.New(t), reg: prometheus.NewRegistry()}
	rf.queues.rooms[f.eventID] = Room{EventID: f.eventID, Enabled: true, RatePerSecond: 2, Allowance: 4,
		ZoneIDs: []uuid.UUID{f.zone.ID}, StartsAt: time.Now().Add(-time.Minute)}
	var err error
	seed := make([]byte, 32)
	if rf.signer, err = admittoken.NewSigner(seed); err != nil {
		t.Fatal(err)
	}
	if rf.pow, err = pow.NewIssuer([]byte(strings.Repeat("s", 32)), 4, time.Minute); err != nil {
		t.Fatal(err)
	}
	verifier, err := buyer.New(context.Background(), rf.idp.Config(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(Config{AdminTokens: []string{testAdminToken}, Partitions: testPartitions},
		Deps{Publisher: f.pub, Reads: f.reads, Registry: rf.reg, Ready: func(context.Context) error { return nil },
			Room: &RoomDeps{Signer: rf.signer, PoW: rf.pow, Buyers: verifier, Reads: rf.queues, PollInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, f.h = srv, srv.routes()
	return rf
}

// token signs an admission of customer to the fixture's event.
func (rf *roomFixture) token(customer string, event uuid.UUID, exp time.Time) string {
	rf.t.Helper()
	tok, err := rf.signer.Sign(admittoken.Claims{EventID: event, QueueID: uuid.New(), CustomerID: customer,
		Allowance: 4, IssuedAt: exp.Add(-time.Hour), ExpiresAt: exp})
	if err != nil {
		rf.t.Fatal(err)
	}
	return tok
}

// TestHoldAdmissionChecks proves that a hold in a zone behind a waiting room needs
// the buyer's admission token for this event: missing answers 401
// admission_required, forged, expired, other event and other buyer 403
// admission_invalid with the reason, each counted; a valid one is published keyed
// by the event with the admission named, for the verified buyer.
func TestHoldAdmissionChecks(t *testing.T) {
	rf := newRoomFixture(t)
	other, err := admittoken.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Sign(admittoken.Claims{EventID: rf.eventID, QueueID: uuid.New(), CustomerID: "ann",
		Allowance: 4, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	body := `{"event_id":"` + rf.eventID.String() + `","zone_id":"` + rf.zone.ID.String() + `","quantity":2,"idempotency_key":"k1"}`
	ann := rf.idp.Header("ann")
	for _, tc := range []struct {
		name, token, auth string
		status            int
		code, reason      string
	}{
		{"no token", "", ann, http.StatusUnauthorized, "admission_required", "missing"},
		{"forged", forged, ann, http.StatusForbidden, "admission_invalid", "forged"},
		{"expired", rf.token("ann", rf.eventID, time.Now().Add(-time.Minute)), ann, http.StatusForbidden, "admission_invalid", "expired"},
		{"other event", rf.token("ann", uuid.New(), time.Now().Add(time.Hour)), ann, http.StatusForbidden, "admission_invalid", "wrong_event"},
		{"other buyer", rf.token("bob", rf.eventID, time.Now().Add(time.Hour)), ann, http.StatusForbidden, "admission_invalid", "wrong_buyer"},
		{"unverified buyer", rf.token("ann", rf.eventID, time.Now().Add(time.Hour)), "", http.StatusUnauthorized, "buyer_unverified", "missing"},
	} {
		w := rf.do("POST", "/holds", body, "Authorization", tc.auth, AdmissionTokenHeader, tc.token)
		var e errorJSON
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != tc.status || e.Error.Code != tc.code || e.Error.Reason != tc.reason {
			t.Errorf("%s: %d %s/%s, want %d %s/%s", tc.name, w.Code, e.Error.Code, e.Error.Reason, tc.status, tc.code, tc.reason)
		}
	}
	rf.assertNothingPublished()
	var m dto.Metric
	if err := rf.srv.roomMetrics.admissionRejected.WithLabelValues("wrong_event").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("wrong_event rejections counted %v, want 1", got)
	}

	w := rf.do("POST", "/holds", body, "Authorization", ann, AdmissionTokenHeader, rf.token("ann", rf.eventID, time.Now().Add(time.Hour)))
	if w.Code != http.StatusAccepted {
		t.Fatalf("valid admission: %d %s", w.Code, w.Body)
	}
	cmds := rf.pub.published()
	if len(cmds) != 1 || cmds[0].Place.Admission == nil || cmds[0].Place.CustomerID != "ann" || cmds[0].Key() != rf.eventID {
		t.Fatalf("published %+v, want one hold for ann with the admission, keyed by the event", cmds[0])
	}

	// A batch: the header's token is checked for each hold; one in a zone of
	// another event is invalid on its own.
	batch := `{"holds":[` + body + `,{"event_id":"` + rf.other.EventID.String() + `","zone_id":"` + rf.other.ID.String() +
		`","quantity":1,"idempotency_key":"k2"}]}`
	batch = strings.Replace(batch, `"k1"`, `"k3"`, 1)
	w = rf.do("POST", "/holds/batch", batch, "Authorization", ann, AdmissionTokenHeader, rf.token("ann", rf.eventID, time.Now().Add(time.Hour)))
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), `"status":"pending"`) {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	cmds = rf.pub.published()
	if len(cmds) != 3 || cmds[1].Place.Admission == nil || cmds[2].Place.Admission != nil {
		t.Errorf("batch published %d commands; want the room's hold with its admission and the other without", len(cmds)-1)
	}
}

// TestJoinQueue proves the join: a missing or wrong proof of work is refused, a
// body customer_id other than the verified buyer's is refused, and a good join
// publishes queue.join keyed by the event and answers the place once decided.
func TestJoinQueue(t *testing.T) {
	rf := newRoomFixture(t)
	path := "/events/" + rf.eventID.String() + "/queue"
	ann := rf.idp.Header("ann")
	w := rf.do("POST", path, `{}`, "Authorization", ann)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "challenge_required") {
		t.Errorf("no proof of work: %d %s", w.Code, w.Body)
	}
	ch := rf.pow.Issue(rf.eventID, time.Now())
	nonce := "x"
	for pow.LeadingZeroBits(ch.Token, nonce) >= ch.Difficulty {
		nonce += "x" // a nonce that does not solve it
	}
	bad := `{"challenge":"` + ch.Token + `","nonce":"` + nonce + `"}`
	if w := rf.do("POST", path, bad, "Authorization", ann); w.Code != http.StatusForbidden {
		t.Errorf("bad nonce: %d %s", w.Code, w.Body)
	}
	ch = rf.pow.Issue(rf.eventID, time.Now())
	solved := func(c pow.Challenge, extra string) string {
		return `{"challenge":"` + c.Token + `","nonce":"` + pow.Solve(c.Token, c.Difficulty) + `"` + extra + `}`
	}
	if w := rf.do("POST", path, solved(ch, `,"customer_id":"bob"`), "Authorization", ann); w.Code != http.StatusForbidden ||
		!strings.Contains(w.Body.String(), "customer_mismatch") {
		t.Errorf("other customer_id: %d %s", w.Code, w.Body)
	}
	if w := rf.do("POST", path, solved(rf.pow.Issue(rf.eventID, time.Now()), ""), "Authorization", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("no buyer: %d %s", w.Code, w.Body)
	}
	rf.assertNothingPublished()

	// The processor and sink, played: the join is decided and the entry written.
	rf.pub.onPublish = func(cmd *topics.Command) {
		if cmd.Type != topics.CmdJoinQueue {
			return
		}
		rf.queues.set(QueueEntry{QueueID: cmd.RequestID, EventID: cmd.EventID, CustomerID: cmd.Join.CustomerID,
			Position: 7, Status: queueWaiting, JoinedAt: time.Now()})
		rf.reads.setResult(RequestResult{ID: cmd.RequestID, Type: cmd.Type, EventID: cmd.EventID,
			Status: RequestSucceeded, DecidedAt: time.Now()})
	}
	w = rf.do("POST", path, solved(rf.pow.Issue(rf.eventID, time.Now()), ""), "Authorization", ann)
	if w.Code != http.StatusCreated {
		t.Fatalf("join: %d %s", w.Code, w.Body)
	}
	var place queueJSON
	if err := json.Unmarshal(w.Body.Bytes(), &place); err != nil {
		t.Fatal(err)
	}
	if place.Status != queueWaiting || place.Position == nil || *place.Position != 7 || place.CustomerID != "ann" ||
		place.EstimatedWaitSeconds == nil || *place.EstimatedWaitSeconds != 3.5 {
		t.Errorf("place %+v, want waiting at 7 for ann, 3.5 s at 2/s", place)
	}
	cmds := rf.pub.published()
	if len(cmds) != 1 || cmds[0].Key() != rf.eventID || topics.PartitionOf(rf.eventID, testPartitions) != requestPartition(cmds[0].RequestID) {
		t.Errorf("published %+v, want one join keyed by the event, its id naming the event's partition", cmds)
	}
}

// TestGetQueue proves GET /queue/{id}: an admitted buyer gets a token that the
// hold check accepts; a long poll answers once the place changes; a room sold
// out tells its waiting buyers.
func TestGetQueue(t *testing.T) {
	rf := newRoomFixture(t)
	id := uuid.New()
	rf.queues.set(QueueEntry{QueueID: id, EventID: rf.eventID, CustomerID: "ann", Position: 3, Status: queueWaiting})
	done := make(chan *http.Response)
	go func() {
		w := rf.do("GET", "/queue/"+id.String(), "", "Prefer", "wait=10")
		done <- w.Result()
	}()
	// Change the place once the long poll follows it.
	for rf.srv.queueWatch.watching() == 0 {
		time.Sleep(time.Millisecond)
	}
	exp := time.Now().Add(10 * time.Minute)
	rf.queues.set(QueueEntry{QueueID: id, EventID: rf.eventID, CustomerID: "ann", Position: 3, Status: queueAdmitted,
		ExpiresAt: &exp, Allowance: 4})
	res := <-done
	var place queueJSON
	if err := json.NewDecoder(res.Body).Decode(&place); err != nil {
		t.Fatal(err)
	}
	if place.Status != queueAdmitted || place.AdmissionToken == "" {
		t.Fatalf("long poll answered %+v, want admitted with a token", place)
	}
	claims, err := rf.signer.Verifier().Verify(place.AdmissionToken, rf.eventID, "ann", time.Now())
	if err != nil || claims.QueueID != id || claims.Allowance != 4 {
		t.Errorf("token claims %+v, %v", claims, err)
	}

	waiting := uuid.New()
	rf.queues.set(QueueEntry{QueueID: waiting, EventID: rf.eventID, CustomerID: "bob", Position: 9, Status: queueWaiting})
	r := rf.queues.rooms[rf.eventID]
	r.SoldOut = true
	rf.queues.rooms[rf.eventID] = r
	w := rf.do("GET", "/queue/"+waiting.String(), "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"sold_out"`) {
		t.Errorf("sold out room: %d %s", w.Code, w.Body)
	}
	if w := rf.do("GET", "/queue/"+uuid.New().String(), ""); w.Code != http.StatusNotFound {
		t.Errorf("unknown queue id: %d %s", w.Code, w.Body)
	}
}

// TestWaitingRoomAdmin proves the admin side: waiting_room values out of range
// answer 400 naming the field; a good one on POST /events publishes each
// zone.configure with waiting_room set and a queue.configure keyed by the event
// listing the zones.
func TestWaitingRoomAdmin(t *testing.T) {
	rf := newRoomFixture(t)
	zones := `"zones":[{"name":"A","capacity":10},{"name":"B","capacity":5}]`
	for _, room := range []string{`{"rate_per_second":-1}`, `{"rate_per_second":"fast"}`, `{"allowance":0}`,
		`{"shop_seconds":1}`, `{"opens_at":"2026-12-03T10:00:00Z","starts_at":"2026-12-03T09:00:00Z"}`,
		`{"opens_at":"2099-01-01T00:00:00Z"}`, `{"allowance":4,"customer_limit":2}`, `{"colour":"red"}`} {
		w := rf.admin("POST", "/events", `{"name":"x",`+zones+`,"waiting_room":`+room+`}`)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "waiting_room") && !strings.Contains(w.Body.String(), "colour") {
			t.Errorf("%s: %d %s", room, w.Code, w.Body)
		}
	}
	rf.assertNothingPublished()
	w := rf.admin("POST", "/events", `{"name":"x",`+zones+`,"waiting_room":{"rate_per_second":"automatic","allowance":2}}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	cmds := rf.pub.published()
	if len(cmds) != 3 {
		t.Fatalf("published %d commands, want 2 zones and the room", len(cmds))
	}
	for _, c := range cmds[:2] {
		if c.Configure.WaitingRoom == nil || !*c.Configure.WaitingRoom {
			t.Errorf("zone.configure %+v without waiting_room", c.Configure)
		}
	}
	q := cmds[2]
	if q.Type != topics.CmdConfigureQueue || q.Key() != q.EventID || q.Queue.Allowance != 2 || q.Queue.RatePerSecond != 0 ||
		len(q.Queue.Zones) != 2 || q.Queue.Zones[0] != cmds[0].ZoneID {
		t.Errorf("queue.configure %+v", q.Queue)
	}
	if err := q.Check(); err != nil {
		t.Error(err)
	}
}

// TestQueueStream proves the server-sent events of GET /queue/{id}: the place at
// once, then each change, ending with a terminal one.
func TestQueueStream(t *testing.T) {
	rf := newRoomFixture(t)
	id := uuid.New()
	rf.queues.set(QueueEntry{QueueID: id, EventID: rf.eventID, CustomerID: "ann", Position: 3, Status: queueWaiting})
	srv := httptest.NewServer(rf.h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/queue/"+id.String(), nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var statuses []string
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var p queueJSON
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, p.Status)
		if len(statuses) == 1 {
			rf.queues.set(QueueEntry{QueueID: id, EventID: rf.eventID, CustomerID: "ann", Position: 3, Status: queueAdmissionExpired})
		}
	}
	if strings.Join(statuses, ",") != "waiting,admission_expired" {
		t.Errorf("stream events %v, want waiting then admission_expired (and the end)", statuses)
	}
}
