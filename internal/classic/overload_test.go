package classic

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Proves that past InFlightMax requests a request answers 503 overloaded with
// Retry-After at once, and that the request in flight completes when the zone's row
// lock is released.
func TestOverloaded(t *testing.T) {
	f := newFixture(t)
	h, err := New(Config{AdminTokens: []string{testToken}, InFlightMax: 1}, f.pool)
	if err != nil {
		t.Fatal(err)
	}
	ev, zones := f.event(map[string]any{"capacity": 10})
	limited := &fixture{t: t, h: h, pool: f.pool}
	// An open transaction holds the zone's row lock, so the first hold waits in
	// its UPDATE.
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT 1 FROM classic.zones WHERE id = $1 FOR UPDATE`, zones[0]); err != nil {
		t.Fatal(err)
	}
	first := make(chan int, 1)
	go func() {
		code, _ := limited.do("POST", "/holds", f.hold(ev, zones[0], 1), nil)
		first <- code
	}()
	waitForLockWaiter(t, f.pool)
	req := httptest.NewRequest("GET", "/events/"+ev+"/availability", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("second request: %d %q (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if code := <-first; code != http.StatusCreated {
		t.Errorf("first request: %d, want 201", code)
	}
	if code, _ := limited.do("GET", "/events/"+ev+"/availability", nil, nil); code != http.StatusOK {
		t.Errorf("after the first: %d, want 200", code)
	}
}

// waitForLockWaiter returns once a session of the database waits for a lock.
func waitForLockWaiter(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Proves that a hold answers 503 database_unavailable with Retry-After when
// Postgres cannot be reached, and that /ready says so.
func TestDatabaseDown(t *testing.T) {
	f := newOfflineFixture(t)
	body := map[string]any{"event_id": "01890a5d-ac96-774b-bcce-b302099a8057",
		"zone_id": "01890a5d-ac96-774b-bcce-b302099a8058", "quantity": 1, "idempotency_key": "k"}
	if code, out := f.do("POST", "/holds", body, nil); code != http.StatusServiceUnavailable || errCode(out) != "database_unavailable" {
		t.Errorf("hold: %d %v", code, out)
	}
	if code, out := f.do("POST", "/holds/batch", map[string]any{"holds": []any{body}}, nil); code != http.StatusServiceUnavailable || errCode(out) != "database_unavailable" {
		t.Errorf("batch: %d %v", code, out)
	}
	if code, out := f.do("GET", "/ready", nil, nil); code != http.StatusServiceUnavailable || errCode(out) != "not_ready" {
		t.Errorf("ready: %d %v", code, out)
	}
}
