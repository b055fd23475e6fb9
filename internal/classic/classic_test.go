package classic

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Proves that holds succeed until the zone's capacity is taken, then answer 409
// insufficient_capacity with what is left, and that availability adds up.
func TestHoldsUntilCapacity(t *testing.T) {
	f := newFixture(t)
	ev, zones := f.event(map[string]any{"capacity": 10, "hold_ttl_seconds": 60})
	for i := range 5 {
		code, out := f.do("POST", "/holds", f.hold(ev, zones[0], 2), map[string]string{"Prefer": "wait=5"})
		if code != http.StatusCreated || out["status"] != "active" || out["quantity"] != 2.0 ||
			out["id"] == nil || out["request_id"] == nil || out["expires_at"] == nil {
			t.Fatalf("hold %d: %d %v", i, code, out)
		}
		code, got := f.do("GET", "/holds/"+out["id"].(string), nil, nil)
		if code != http.StatusOK || got["id"] != out["id"] || got["request_id"] != out["request_id"] {
			t.Fatalf("GET hold %d: %d %v, want %v", i, code, got, out)
		}
	}
	code, out := f.do("POST", "/holds", f.hold(ev, zones[0], 1), nil)
	if code != http.StatusConflict || errCode(out) != "insufficient_capacity" {
		t.Fatalf("hold past capacity: %d %v", code, out)
	}
	if e := out["error"].(map[string]any); e["available"] != 0.0 {
		t.Errorf("available %v, want 0", e["available"])
	}
	z := f.zone(ev, zones[0])
	if z["capacity"] != 10.0 || z["available"] != 0.0 || z["held"] != 10.0 || z["sold"] != 0.0 || z["as_of"] == nil {
		t.Errorf("availability %v", z)
	}
}

// Proves that concurrent holds on one zone never take more than its capacity: 200
// holds of one ticket race for 100.
func TestConcurrentHoldsNeverOversell(t *testing.T) {
	f := newFixture(t)
	ev, zones := f.event(map[string]any{"capacity": 100})
	const buyers = 200
	codes := make([]int, buyers)
	bodies := make([]map[string]any, buyers)
	for i := range bodies {
		bodies[i] = f.hold(ev, zones[0], 1)
	}
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Go(func() { codes[i], _ = f.do("POST", "/holds", bodies[i], nil) })
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusCreated] != 100 || count[http.StatusConflict] != 100 {
		t.Errorf("answers %v, want 100 × 201 and 100 × 409", count)
	}
	if z := f.zone(ev, zones[0]); z["held"] != 100.0 || z["available"] != 0.0 {
		t.Errorf("availability %v", z)
	}
	var rows int
	if err := f.pool.QueryRow(t.Context(), `SELECT count(*) FROM classic.holds WHERE zone_id = $1`, zones[0]).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 100 {
		t.Errorf("%d hold rows, want 100", rows)
	}
}

// Proves that a retry of an idempotency key answers the first hold, also when the
// retries race and after the zone sold out, and that a retry asking for something
// else is an idempotency_conflict.
func TestIdempotentRetry(t *testing.T) {
	f := newFixture(t)
	ev, zones := f.event(map[string]any{"capacity": 3})
	body := f.hold(ev, zones[0], 2)
	body["customer_id"] = "alice"
	const retries = 20
	outs := make([]map[string]any, retries)
	codes := make([]int, retries)
	var wg sync.WaitGroup
	for i := range retries {
		wg.Go(func() { codes[i], outs[i] = f.do("POST", "/holds", body, nil) })
	}
	wg.Wait()
	for i := range retries {
		if codes[i] != http.StatusCreated || outs[i]["id"] != outs[0]["id"] || outs[i]["request_id"] != outs[0]["request_id"] {
			t.Fatalf("retry %d: %d %v, want the hold %v", i, codes[i], outs[i], outs[0])
		}
	}
	if z := f.zone(ev, zones[0]); z["held"] != 2.0 {
		t.Fatalf("held %v after %d retries of one hold of 2, want 2", z["held"], retries)
	}
	// Sell out the rest; the key still answers its hold.
	if code, out := f.do("POST", "/holds", f.hold(ev, zones[0], 1), nil); code != http.StatusCreated {
		t.Fatalf("last ticket: %d %v", code, out)
	}
	if code, out := f.do("POST", "/holds", body, nil); code != http.StatusCreated || out["id"] != outs[0]["id"] {
		t.Errorf("retry after sold out: %d %v", code, out)
	}
	other := map[string]any{}
	for k, v := range body {
		other[k] = v
	}
	other["customer_id"] = "bob"
	if code, out := f.do("POST", "/holds", other, nil); code != http.StatusConflict || errCode(out) != "idempotency_conflict" {
		t.Errorf("same key, other customer: %d %v", code, out)
	}
	other["customer_id"], other["quantity"] = "alice", 1
	if code, out := f.do("POST", "/holds", other, nil); code != http.StatusConflict || errCode(out) != "idempotency_conflict" {
		t.Errorf("same key, other quantity: %d %v", code, out)
	}
}

// Proves that a batch decides every item on its own: a failing item rolls back no
// other, and each answers succeeded, rejected or invalid in order.
func TestBatch(t *testing.T) {
	f := newFixture(t)
	ev, zones := f.event(map[string]any{"capacity": 5, "hold_quantity_max": 3}, map[string]any{"capacity": 100})
	first := f.hold(ev, zones[0], 3)
	items := []any{
		first,                   // 0 succeeded
		f.hold(ev, zones[0], 3), // 1 rejected: 2 left
		f.hold(ev, zones[1], 4), // 2 succeeded
		f.hold(ev, zones[0], 0), // 3 invalid_quantity
		f.hold(ev, zones[0], 4), // 4 over hold_quantity_max
		f.hold(ev, zones[1], 1), // 5 succeeded
		map[string]any{"zone_id": zones[0], "quantity": 1, "idempotency_key": "k"},                     // 6 no event_id
		f.hold(ev, "01890a5d-ac96-774b-bcce-b302099a8057", 1),                                          // 7 unknown zone
		map[string]any{"event_id": ev, "zone_id": zones[1], "quantity": "one", "idempotency_key": "k"}, // 8 type
		f.hold(ev, zones[0], 2), // 9 succeeded: the last 2
	}
	code, out := f.do("POST", "/holds/batch", map[string]any{"holds": items}, nil)
	if code != http.StatusOK {
		t.Fatalf("batch: %d %v", code, out)
	}
	want := []struct{ status, code string }{
		{"succeeded", ""}, {"rejected", "insufficient_capacity"}, {"succeeded", ""},
		{"invalid", "invalid_quantity"}, {"invalid", "quantity_over_limit"}, {"succeeded", ""},
		{"invalid", "missing_field"}, {"invalid", "zone_not_found"}, {"invalid", "invalid_field"},
		{"succeeded", ""},
	}
	results := out["results"].([]any)
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, w := range want {
		r := results[i].(map[string]any)
		if r["index"] != float64(i) || r["status"] != w.status || errCode(r) != w.code {
			t.Errorf("item %d: %v, want %s %s", i, r, w.status, w.code)
		}
		if w.status == "succeeded" && (r["hold"] == nil || r["request_id"] != r["hold"].(map[string]any)["request_id"]) {
			t.Errorf("item %d: succeeded without its hold: %v", i, r)
		}
		if w.status == "invalid" && r["request_id"] != nil {
			t.Errorf("item %d: invalid with a request_id: %v", i, r)
		}
	}
	// The same key again, in a batch: the first hold, replayed.
	code, out = f.do("POST", "/holds/batch", map[string]any{"holds": []any{first}}, nil)
	r := out["results"].([]any)[0].(map[string]any)
	if code != http.StatusOK || r["status"] != "succeeded" || r["replayed"] != true ||
		r["hold"].(map[string]any)["id"] != results[0].(map[string]any)["hold"].(map[string]any)["id"] {
		t.Errorf("batch retry: %d %v", code, r)
	}
	if z := f.zone(ev, zones[0]); z["held"] != 5.0 || z["available"] != 0.0 {
		t.Errorf("zone 0 %v", z)
	}
	if z := f.zone(ev, zones[1]); z["held"] != 5.0 {
		t.Errorf("zone 1 %v", z)
	}
}

// Proves that the decisions needing the database name what is missing or over a
// limit with the pipeline's codes.
func TestNotFoundAndLimits(t *testing.T) {
	f := newFixture(t)
	ev, zones := f.event(map[string]any{"capacity": 10, "hold_quantity_max": 2})
	other, otherZones := f.event(map[string]any{"capacity": 10})
	unknown := "01890a5d-ac96-774b-bcce-b302099a8057"
	cases := []struct {
		name string
		body map[string]any
		code int
		err  string
	}{
		{"unknown event", f.hold(unknown, zones[0], 1), http.StatusNotFound, "event_not_found"},
		{"unknown zone", f.hold(ev, unknown, 1), http.StatusNotFound, "zone_not_found"},
		{"zone of another event", f.hold(other, zones[0], 1), http.StatusNotFound, "zone_not_found"},
		{"over hold_quantity_max", f.hold(ev, zones[0], 3), http.StatusUnprocessableEntity, "quantity_over_limit"},
		{"over the capacity bound", f.hold(other, otherZones[0], 10_000_001), http.StatusUnprocessableEntity, "quantity_over_limit"},
	}
	for _, c := range cases {
		if code, out := f.do("POST", "/holds", c.body, nil); code != c.code || errCode(out) != c.err {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, out, c.code, c.err)
		}
	}
	if code, out := f.do("GET", "/events/"+unknown+"/availability", nil, nil); code != http.StatusNotFound || errCode(out) != "event_not_found" {
		t.Errorf("availability of an unknown event: %d %v", code, out)
	}
	if code, out := f.do("GET", "/holds/"+unknown, nil, nil); code != http.StatusNotFound || errCode(out) != "hold_not_found" {
		t.Errorf("unknown hold: %d %v", code, out)
	}
	if code, out := f.do("GET", "/ready", nil, nil); code != http.StatusOK {
		t.Errorf("ready: %d %v", code, out)
	}
}

// Proves that malformed requests answer 400 (or 401, 413, 415) with the pipeline's
// codes before the database is asked: the server here has none.
func TestBadInput(t *testing.T) {
	f := newOfflineFixture(t)
	ev, zone := "01890a5d-ac96-774b-bcce-b302099a8057", "01890a5d-ac96-774b-bcce-b302099a8058"
	hold := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"event_id": ev, "zone_id": zone, "quantity": 1, "idempotency_key": "k"}
		edit(b)
		return b
	}
	cases := []struct {
		name string
		path string
		body any
		code int
		err  string
	}{
		{"not JSON", "/holds", []byte("{"), 400, "invalid_json"},
		{"empty", "/holds", []byte(""), 400, "invalid_json"},
		{"two values", "/holds", []byte("{}{}"), 400, "invalid_json"},
		{"unknown field", "/holds", hold(func(b map[string]any) { b["seat"] = 1 }), 400, "unknown_field"},
		{"no event_id", "/holds", hold(func(b map[string]any) { delete(b, "event_id") }), 400, "missing_field"},
		{"bad zone_id", "/holds", hold(func(b map[string]any) { b["zone_id"] = "zone-1" }), 400, "invalid_id"},
		{"nil uuid", "/holds", hold(func(b map[string]any) { b["event_id"] = "00000000-0000-0000-0000-000000000000" }), 400, "invalid_id"},
		{"no quantity", "/holds", hold(func(b map[string]any) { delete(b, "quantity") }), 400, "missing_field"},
		{"quantity 0", "/holds", hold(func(b map[string]any) { b["quantity"] = 0 }), 400, "invalid_quantity"},
		{"quantity -1", "/holds", hold(func(b map[string]any) { b["quantity"] = -1 }), 400, "invalid_quantity"},
		{"quantity text", "/holds", hold(func(b map[string]any) { b["quantity"] = "1" }), 400, "invalid_field"},
		{"no key", "/holds", hold(func(b map[string]any) { delete(b, "idempotency_key") }), 400, "missing_field"},
		{"empty key", "/holds", hold(func(b map[string]any) { b["idempotency_key"] = "" }), 400, "invalid_field"},
		{"key of 201 bytes", "/holds", hold(func(b map[string]any) { b["idempotency_key"] = strings.Repeat("k", 201) }), 400, "invalid_field"},
		{"key with NUL", "/holds", hold(func(b map[string]any) { b["idempotency_key"] = "a\x00b" }), 400, "invalid_text"},
		{"customer with NUL", "/holds", hold(func(b map[string]any) { b["customer_id"] = "\x00" }), 400, "invalid_text"},
		{"empty customer", "/holds", hold(func(b map[string]any) { b["customer_id"] = "" }), 400, "invalid_field"},
		{"body not UTF-8", "/holds", []byte("{\"idempotency_key\":\"\xff\"}"), 400, "invalid_text"},
		{"batch of 0", "/holds/batch", map[string]any{"holds": []any{}}, 400, "invalid_batch"},
		{"batch without holds", "/holds/batch", map[string]any{}, 400, "invalid_batch"},
		{"batch of 1001", "/holds/batch", map[string]any{"holds": make([]any, 1001)}, 400, "invalid_batch"},
		{"batch not JSON", "/holds/batch", []byte("[1,"), 400, "invalid_json"},
		{"event without token", "/events", map[string]any{"name": "x", "zones": []any{map[string]any{"name": "A", "capacity": 1}}}, 401, "unauthorized"},
		{"body too large", "/holds", []byte(`{"idempotency_key":"` + strings.Repeat("k", 70<<10) + `"}`), 413, "body_too_large"},
	}
	for _, c := range cases {
		if code, out := f.do("POST", c.path, c.body, nil); code != c.code || errCode(out) != c.err {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, out, c.code, c.err)
		}
	}
	admin := map[string]string{"Authorization": "Bearer " + testToken}
	events := []struct {
		name string
		body map[string]any
		err  string
	}{
		{"no name", map[string]any{"zones": []any{map[string]any{"name": "A", "capacity": 1}}}, "missing_field"},
		{"no zones", map[string]any{"name": "x", "zones": []any{}}, "invalid_field"},
		{"no capacity", map[string]any{"name": "x", "zones": []any{map[string]any{"name": "A"}}}, "missing_field"},
		{"negative capacity", map[string]any{"name": "x", "zones": []any{map[string]any{"name": "A", "capacity": -1}}}, "invalid_field"},
		{"ttl too short", map[string]any{"name": "x", "zones": []any{map[string]any{"name": "A", "capacity": 1, "hold_ttl_seconds": 1}}}, "invalid_field"},
		{"customer limit", map[string]any{"name": "x", "zones": []any{map[string]any{"name": "A", "capacity": 1, "customer_limit": 2}}}, "invalid_field"},
		{"same zone twice", map[string]any{"name": "x", "zones": []any{map[string]any{"name": "A", "capacity": 1}, map[string]any{"name": "A", "capacity": 1}}}, "duplicate_zone_name"},
	}
	for _, c := range events {
		if code, out := f.do("POST", "/events", c.body, admin); code != 400 || errCode(out) != c.err {
			t.Errorf("event %s: %d %v, want 400 %s", c.name, code, out, c.err)
		}
	}
	if code, out := f.do("GET", "/events/nope/availability", nil, nil); code != 400 || errCode(out) != "invalid_id" {
		t.Errorf("availability of a bad id: %d %v", code, out)
	}
	req := fmt.Sprintf(`{"event_id":%q}`, ev)
	if code, out := f.doType("/holds", req, "text/plain"); code != 415 || errCode(out) != "unsupported_media_type" {
		t.Errorf("text/plain: %d %v", code, out)
	}
}
