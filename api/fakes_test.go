package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func init() { gin.SetMode(gin.TestMode) }

const testAdminToken = "test-admin-token-0123456789"

// fakePublisher records the commands it is given; onPublish, when set, plays the
// processor and sink.
type fakePublisher struct {
	mu        sync.Mutex
	cmds      []*topics.Command
	err       error
	onPublish func(*topics.Command)
}

func (p *fakePublisher) Publish(_ context.Context, cmd *topics.Command) error {
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return p.err
	}
	p.cmds = append(p.cmds, cmd)
	on := p.onPublish
	p.mu.Unlock()
	if on != nil {
		on(cmd)
	}
	return nil
}

func (p *fakePublisher) PublishAll(ctx context.Context, cmds []*topics.Command) []error {
	errs := make([]error, len(cmds))
	for i, cmd := range cmds {
		errs[i] = p.Publish(ctx, cmd)
	}
	return errs
}

func (p *fakePublisher) published() []*topics.Command {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*topics.Command(nil), p.cmds...)
}

// fakeReads is an in-memory read model. RequestResults joins the current hold and
// order like the Store's query does.
type fakeReads struct {
	mu      sync.Mutex
	zones   map[uuid.UUID]Zone
	events  map[uuid.UUID]Event
	holds   map[uuid.UUID]Hold
	orders  map[uuid.UUID]Order
	results map[uuid.UUID]RequestResult
	err     error
	// keys maps a zone's idempotency key to the request that decided it;
	// through is each partition's decided-through time.
	keys    map[zoneKey]uuid.UUID
	through map[int32]time.Time
	// resultQueries counts RequestResults calls; maxIDs is the most ids in one.
	resultQueries int
	maxIDs        int
	// keyQueries counts KeyDecisions calls.
	keyQueries int
}

func newFakeReads() *fakeReads {
	return &fakeReads{zones: map[uuid.UUID]Zone{}, events: map[uuid.UUID]Event{},
		holds: map[uuid.UUID]Hold{}, orders: map[uuid.UUID]Order{}, results: map[uuid.UUID]RequestResult{},
		keys: map[zoneKey]uuid.UUID{}, through: map[int32]time.Time{}}
}

type zoneKey struct {
	zone uuid.UUID
	key  string
}

func (f *fakeReads) KeyDecisions(_ context.Context, keys []ZoneKey, since time.Time) ([]*RequestResult, error) {
	f.mu.Lock()
	err := f.err
	f.keyQueries++
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]*RequestResult, len(keys))
	for i, k := range keys {
		out[i] = f.decision(k.Zone, k.Key, since)
	}
	return out, nil
}

func (f *fakeReads) HoldAndKey(ctx context.Context, hold uuid.UUID, key string, since time.Time) (Hold, *RequestResult, error) {
	h, err := f.Hold(ctx, hold)
	if err != nil {
		return Hold{}, nil, err
	}
	return h, f.decision(h.ZoneID, key, since), nil
}

// decision is the result that decided key in zone after since, with its hold.
func (f *fakeReads) decision(zone uuid.UUID, key string, since time.Time) *RequestResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.results[f.keys[zoneKey{zone, key}]]
	if !ok || !r.DecidedAt.After(since) {
		return nil
	}
	if h, ok := f.holds[r.HoldID]; ok {
		r.Hold = &h
	}
	return &r
}

func (f *fakeReads) DecidedThrough(_ context.Context, partition int32) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.through[partition], f.err
}

func (f *fakeReads) Zone(_ context.Context, id uuid.UUID) (Zone, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Zone{}, f.err
	}
	z, ok := f.zones[id]
	if !ok {
		return Zone{}, ErrNotFound
	}
	return z, nil
}

func (f *fakeReads) Event(_ context.Context, id uuid.UUID) (Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Event{}, f.err
	}
	e, ok := f.events[id]
	if !ok {
		return Event{}, ErrNotFound
	}
	for _, z := range f.zones {
		if z.EventID == id {
			e.Zones = append(e.Zones, z)
		}
	}
	return e, nil
}

func (f *fakeReads) Hold(_ context.Context, id uuid.UUID) (Hold, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[id]
	if !ok {
		return Hold{}, ErrNotFound
	}
	return h, nil
}

func (f *fakeReads) Order(_ context.Context, id uuid.UUID) (Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[id]
	if !ok {
		return Order{}, ErrNotFound
	}
	return o, nil
}

func (f *fakeReads) RequestResults(_ context.Context, ids []uuid.UUID) ([]RequestResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resultQueries++
	f.maxIDs = max(f.maxIDs, len(ids))
	if f.err != nil {
		return nil, f.err
	}
	var out []RequestResult
	for _, id := range ids {
		r, ok := f.results[id]
		if !ok {
			continue
		}
		if h, ok := f.holds[r.HoldID]; ok {
			r.Hold = &h
		}
		if o, ok := f.orders[r.OrderID]; ok {
			r.Order = &o
		}
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeReads) setResult(r RequestResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[r.ID] = r
}

func (f *fakeReads) queries() (n, maxIDs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resultQueries, f.maxIDs
}

// fixture is an API over fakes with one event, two zones (zone with a hold limit of
// 4), and one active hold in zone.
type fixture struct {
	t       *testing.T
	srv     *server // to set its clock
	h       http.Handler
	pub     *fakePublisher
	reads   *fakeReads
	eventID uuid.UUID
	zone    Zone
	other   Zone // a zone of another event
	hold    Hold
	ready   error
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{t: t, pub: &fakePublisher{}, reads: newFakeReads(), eventID: uuid.Must(uuid.NewV7())}
	now := time.Now().UTC()
	f.zone = Zone{ID: uuid.Must(uuid.NewV7()), EventID: f.eventID, Name: "floor", Capacity: 100,
		Available: 98, Held: 2, HoldTTLSeconds: 600, HoldQuantityMax: 4, AsOf: now}
	otherEvent := uuid.Must(uuid.NewV7())
	f.other = Zone{ID: uuid.Must(uuid.NewV7()), EventID: otherEvent, Name: "balcony", Capacity: 10,
		Available: 10, HoldQuantityMax: 4, AsOf: now}
	f.reads.events[f.eventID] = Event{ID: f.eventID, Name: "concert", CreatedAt: now}
	f.reads.events[otherEvent] = Event{ID: otherEvent, Name: "match", CreatedAt: now}
	f.reads.zones[f.zone.ID], f.reads.zones[f.other.ID] = f.zone, f.other
	f.hold = Hold{ID: uuid.Must(uuid.NewV7()), EventID: f.eventID, ZoneID: f.zone.ID, Quantity: 2,
		Status: topics.HoldActive, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	f.reads.holds[f.hold.ID] = f.hold
	if cfg.AdminTokens == nil {
		cfg.AdminTokens = []string{testAdminToken}
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = testPartitions
	}
	srv, err := newServer(cfg, Deps{Publisher: f.pub, Reads: f.reads, Registry: prometheus.NewRegistry(),
		Ready: func(context.Context) error { return f.ready }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.srv, f.h = srv, srv.routes()
	return f
}

// do sends a request; a string body is sent as application/json unless headers
// say otherwise (pairs of name, value).
func (f *fixture) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, bytes.NewBufferString(body))
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			r.Header.Del(headers[i])
		} else {
			r.Header.Set(headers[i], headers[i+1])
		}
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func (f *fixture) admin(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.do(method, path, body, append([]string{"Authorization", "Bearer " + testAdminToken}, headers...)...)
}

func (f *fixture) assertNothingPublished() {
	f.t.Helper()
	if cmds := f.pub.published(); len(cmds) != 0 {
		f.t.Fatalf("published %d commands, want none: first %+v", len(cmds), cmds[0])
	}
}

var errDown = errors.New("connection refused")

// testPartitions is the commands topic's partition count in the fixture's Config.
const testPartitions = 3
