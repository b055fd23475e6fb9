package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

// reqKind is what a request asked.
type reqKind string

const (
	kindHold     reqKind = "hold"
	kindConfirm  reqKind = "confirm"
	kindRelease  reqKind = "release"
	kindCapacity reqKind = "capacity"
)

// Load bounds and odds.
const (
	httpTimeout      = 5 * time.Second
	inFlightMax      = 32
	pollEvery        = time.Second
	pollBatchMax     = 5000
	retryOdds        = 0.15 // a hold or confirm is sent again with the same key
	retryDelayMax    = 20 * time.Second
	failedRetriesMax = 3 // a request that got no 202 is retried with its key up to this many times
	confirmOdds      = 0.45
	releaseOdds      = 0.20 // the rest of the holds expire
	capacityEvery    = 97   // every so many actions one tops up a small zone
	capacityStep     = 10   // tickets added to a small zone at a time
	quantityMax      = 3
)

// zoneInfo is one zone of the run.
type zoneInfo struct {
	event, id uuid.UUID
	capacity  int64 // the newest capacity asked for
	small     bool
}

// accepted is one request answered 202.
type accepted struct {
	id   uuid.UUID
	kind reqKind
	key  string
	zone uuid.UUID
	hold uuid.UUID // for confirms and releases
	// answer is the final GET /requests/{id} status, once checked.
	answer string
}

// action is one request to send at a time.
type action struct {
	at      time.Time
	kind    reqKind
	key     string
	zone    int
	qty     int64
	hold    uuid.UUID
	attempt int
	retry   bool
}

// load sends a steady stream of holds, confirms, releases, retries and capacity
// changes, and records every answer.
type load struct {
	url, adminToken string
	client          *http.Client
	db              *pgxpool.Pool

	mu       sync.Mutex
	r        *rand.Rand
	zones    []zoneInfo
	due      []action // sorted by at
	accepted []accepted
	fates    map[uuid.UUID]int // hold requests waiting for a decision, by zone index
	seq      int

	sent, ok202, failed, skipped, retries atomic.Int64
}

func newLoad(url, adminToken string, db *pgxpool.Pool, seed int64, zones []zoneInfo) *load {
	return &load{
		url: url, adminToken: adminToken, db: db, zones: zones,
		client: &http.Client{Timeout: httpTimeout},
		r:      rand.New(rand.NewPCG(uint64(seed), 0x6c6f6164)), // "load"
		fates:  make(map[uuid.UUID]int),
	}
}

// run sends rate requests a second until ctx is done.
func (l *load) run(ctx context.Context, rate float64) {
	sem := make(chan struct{}, inFlightMax)
	var wg sync.WaitGroup
	defer wg.Wait()
	every(ctx, time.Duration(float64(time.Second)/rate), func() {
		a := l.next(time.Now())
		select {
		case sem <- struct{}{}:
		default:
			l.skipped.Add(1)
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			l.send(ctx, a)
		})
	})
}

// next returns the first due action, or a new hold (now and then a capacity top-up).
func (l *load) next(now time.Time) action {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.due) > 0 && !l.due[0].at.After(now) {
		a := l.due[0]
		l.due = l.due[1:]
		return a
	}
	l.seq++
	if l.seq%capacityEvery == 0 {
		return action{kind: kindCapacity, zone: l.smallZone()}
	}
	z := l.r.IntN(len(l.zones))
	a := action{kind: kindHold, key: fmt.Sprintf("hold-%d", l.seq), zone: z, qty: 1 + l.r.Int64N(quantityMax)}
	if l.r.Float64() < retryOdds {
		l.schedule(a, now.Add(l.delay(retryDelayMax)), true)
	}
	return a
}

func (l *load) smallZone() int {
	var small []int
	for i, z := range l.zones {
		if z.small {
			small = append(small, i)
		}
	}
	return small[l.r.IntN(len(small))]
}

// delay draws a duration in [0, max) from the load's random source (l.mu held).
func (l *load) delay(max time.Duration) time.Duration {
	return time.Duration(l.r.Int64N(int64(max)))
}

// schedule queues a (l.mu held).
func (l *load) schedule(a action, at time.Time, retry bool) {
	a.at, a.retry = at, retry
	i := sort.Search(len(l.due), func(i int) bool { return l.due[i].at.After(at) })
	l.due = append(l.due, action{})
	copy(l.due[i+1:], l.due[i:])
	l.due[i] = a
}

// send sends one action and records its answer.
func (l *load) send(ctx context.Context, a action) {
	l.sent.Add(1)
	if a.retry {
		l.retries.Add(1)
	}
	z := l.zones[a.zone]
	var method, path string
	var body any
	headers := map[string]string{}
	switch a.kind {
	case kindHold:
		method, path = http.MethodPost, "/holds"
		body = map[string]any{"event_id": z.event, "zone_id": z.id, "quantity": a.qty, "idempotency_key": a.key}
	case kindConfirm:
		method, path = http.MethodPost, "/holds/"+a.hold.String()+"/confirm"
		headers["Idempotency-Key"] = a.key
	case kindRelease:
		method, path = http.MethodDelete, "/holds/"+a.hold.String()
	case kindCapacity:
		l.mu.Lock()
		l.zones[a.zone].capacity += capacityStep
		c := l.zones[a.zone].capacity
		l.mu.Unlock()
		method, path = http.MethodPatch, fmt.Sprintf("/events/%s/zones/%s", z.event, z.id)
		body = map[string]any{"capacity": c}
		headers["Authorization"] = "Bearer " + l.adminToken
	}
	status, raw, err := l.do(ctx, method, path, body, headers)
	if err != nil || status != http.StatusAccepted {
		l.failed.Add(1)
		l.retryFailed(a)
		return
	}
	var resp struct {
		RequestID uuid.UUID `json:"request_id"`
	}
	if json.Unmarshal(raw, &resp) != nil || resp.RequestID == uuid.Nil {
		l.failed.Add(1)
		return
	}
	l.ok202.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted = append(l.accepted, accepted{id: resp.RequestID, kind: a.kind, key: a.key, zone: z.id, hold: a.hold})
	if a.kind == kindHold && !a.retry {
		l.fates[resp.RequestID] = a.zone
	}
}

// retryFailed sends a failed hold or confirm again with its key, like a client
// whose request timed out or was refused.
func (l *load) retryFailed(a action) {
	if (a.kind != kindHold && a.kind != kindConfirm) || a.attempt >= failedRetriesMax {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	a.attempt++
	l.schedule(a, time.Now().Add(time.Second+l.delay(4*time.Second)), a.retry)
}

func (l *load) do(ctx context.Context, method, path string, body any, headers map[string]string) (int, []byte, error) {
	return loadgen.Send(ctx, l.client, method, l.url+path, body, headers)
}

// follow learns the holds' decisions from the read model until ctx is done, and
// gives every hold placed a fate: confirmed, released, or left to expire, at a random
// time (a confirm may come after its hold expired).
func (l *load) follow(ctx context.Context, ttl time.Duration) {
	every(ctx, pollEvery, func() {
		ids := l.undecided()
		if len(ids) == 0 {
			return
		}
		ds, err := l.decisions(ctx, ids)
		if err != nil {
			return // tried again at the next tick
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, d := range ds {
			zone, ok := l.fates[d.id]
			delete(l.fates, d.id)
			if ok && d.ok && d.hold != uuid.Nil {
				l.fate(d.hold, zone, ttl)
			}
		}
	})
}

// undecided returns up to pollBatchMax hold requests still waiting for a decision.
func (l *load) undecided() []uuid.UUID {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]uuid.UUID, 0, min(len(l.fates), pollBatchMax))
	for id := range l.fates {
		if len(ids) == pollBatchMax {
			break
		}
		ids = append(ids, id)
	}
	return ids
}

// decided is a hold request's decision in the read model.
type decided struct {
	id, hold uuid.UUID
	ok       bool
}

// decisions reads the decisions of those of the requests that are decided.
func (l *load) decisions(ctx context.Context, ids []uuid.UUID) ([]decided, error) {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	rows, err := l.db.Query(ctx, `SELECT id, status = 'succeeded', coalesce(hold_id, '00000000-0000-0000-0000-000000000000'::uuid) FROM requests WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []decided
	for rows.Next() {
		var d decided
		if rows.Scan(&d.id, &d.ok, &d.hold) == nil {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// fate plans what happens to a hold (l.mu held).
func (l *load) fate(hold uuid.UUID, zone int, ttl time.Duration) {
	now := time.Now()
	switch x := l.r.Float64(); {
	case x < confirmOdds:
		a := action{kind: kindConfirm, key: "confirm-" + hold.String(), zone: zone, hold: hold}
		at := now.Add(l.delay(ttl + ttl/3))
		l.schedule(a, at, false)
		if l.r.Float64() < retryOdds {
			l.schedule(a, at.Add(l.delay(retryDelayMax)), true)
		}
	case x < confirmOdds+releaseOdds:
		l.schedule(action{kind: kindRelease, zone: zone, hold: hold}, now.Add(l.delay(ttl)), false)
	}
}

// snapshot returns the accepted requests so far.
func (l *load) snapshot() []accepted {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]accepted(nil), l.accepted...)
}
