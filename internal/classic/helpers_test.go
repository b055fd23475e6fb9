package classic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const testToken = "test-admin-token"

// fixture is a classic server on its own database.
type fixture struct {
	t    *testing.T
	h    http.Handler
	pool *pgxpool.Pool
	keys atomic.Int64
}

// newFixture serves on a new migrated database of the shared Postgres.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testenv.Pool(t)
	if err := EnsureSchema(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	// A second call finds everything in place.
	if err := EnsureSchema(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return fixtureOn(t, pool)
}

// newOfflineFixture serves on a pool that never connects: for the checks a request
// fails before it reaches the database.
func newOfflineFixture(t *testing.T) *fixture {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return fixtureOn(t, pool)
}

func fixtureOn(t *testing.T, pool *pgxpool.Pool) *fixture {
	h, err := New(Config{AdminTokens: []string{testToken}, BatchConcurrency: 4}, pool)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, h: h, pool: pool}
}

// do sends a request with a JSON body (raw bytes when body is []byte) and returns
// the status and the decoded answer.
func (f *fixture) do(method, path string, body any, hdr map[string]string) (int, map[string]any) {
	f.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			f.t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			f.t.Fatalf("%s %s: answer %d is not a JSON object: %q", method, path, rec.Code, rec.Body.String())
		}
	}
	return rec.Code, out
}

// event creates an event with one zone per capacity and returns its id and the
// zones' ids.
func (f *fixture) event(zones ...map[string]any) (string, []string) {
	f.t.Helper()
	for i, z := range zones {
		z["name"] = fmt.Sprintf("zone-%d", i)
	}
	code, out := f.do("POST", "/events", map[string]any{"name": "concert", "zones": zones},
		map[string]string{"Authorization": "Bearer " + testToken})
	if code != http.StatusCreated || out["status"] != "succeeded" {
		f.f("POST /events: %d %v", code, out)
	}
	var ids []string
	for _, z := range out["zones"].([]any) {
		zm := z.(map[string]any)
		if zm["status"] != "succeeded" {
			f.f("zone not succeeded: %v", zm)
		}
		ids = append(ids, zm["id"].(string))
	}
	return out["event_id"].(string), ids
}

func (f *fixture) f(format string, args ...any) {
	f.t.Helper()
	f.t.Fatalf(format, args...)
}

// hold is a POST /holds body with a fresh idempotency key.
func (f *fixture) hold(eventID, zoneID string, quantity int) map[string]any {
	return map[string]any{"event_id": eventID, "zone_id": zoneID, "quantity": quantity,
		"idempotency_key": fmt.Sprintf("key-%d", f.keys.Add(1))}
}

// zone is the availability of the event's zone.
func (f *fixture) zone(eventID, zoneID string) map[string]any {
	f.t.Helper()
	code, out := f.do("GET", "/events/"+eventID+"/availability", nil, nil)
	if code != http.StatusOK {
		f.f("availability: %d %v", code, out)
	}
	for _, z := range out["zones"].([]any) {
		if zm := z.(map[string]any); zm["zone_id"] == zoneID {
			return zm
		}
	}
	f.f("zone %s not in %v", zoneID, out)
	return nil
}

// errCode is the error code of an error answer.
func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// doType posts body with the given Content-Type.
func (f *fixture) doType(path, body, contentType string) (int, map[string]any) {
	f.t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}
