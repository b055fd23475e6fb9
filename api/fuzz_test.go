package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// The fuzz targets here send the real handlers hostile bodies and headers. The
// property, for every route that submits a command: the answer is a JSON error with
// a 4xx status and nothing was published, or it is 202 and every command published
// passes Check and holds only storable text, so that no request the API accepts can
// stop the processor or the sink further down. Their seeds (f.Add and
// testdata/fuzz) run in every plain `go test`; `make fuzz` explores from them.
// testdata/fuzz/*/defect1-* keep the hostile inputs of defect 1 (a NUL byte in a
// JSON text field, a header that is not UTF-8, which net/http lets through).

// textBytesMax is the most bytes of any text field (openapi.yaml's maxLength).
const textBytesMax = 200

// Fixed ids, so that seeds in testdata/fuzz can name the fakes' event, zone and hold.
var (
	fuzzEventID = uuid.MustParse("0195d1c0-0000-7000-8000-00000000f001")
	fuzzZoneID  = uuid.MustParse("0195d1c0-0000-7000-8000-00000000f002")
	fuzzHoldID  = uuid.MustParse("0195d1c0-0000-7000-8000-00000000f003")
)

// fuzzAPI is the API over fakes, built once per target: one event with one zone
// and one active hold.
type fuzzAPI struct {
	h   http.Handler
	pub *fakePublisher
}

func newFuzzAPI(tb testing.TB) *fuzzAPI {
	tb.Helper()
	now := time.Now().UTC()
	reads := newFakeReads()
	reads.events[fuzzEventID] = Event{ID: fuzzEventID, Name: "concert", CreatedAt: now}
	reads.zones[fuzzZoneID] = Zone{ID: fuzzZoneID, EventID: fuzzEventID, Name: "floor", Capacity: 100,
		Available: 98, Held: 2, HoldTTLSeconds: 600, HoldQuantityMax: 4, AsOf: now}
	reads.holds[fuzzHoldID] = Hold{ID: fuzzHoldID, EventID: fuzzEventID, ZoneID: fuzzZoneID, Quantity: 2,
		Status: topics.HoldActive, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	a := &fuzzAPI{pub: &fakePublisher{}}
	h, err := New(Config{AdminTokens: []string{testAdminToken}, BodyBytesMax: 4096, Partitions: testPartitions},
		Deps{Publisher: a.pub, Reads: reads, Registry: prometheus.NewRegistry(),
			Ready: func(context.Context) error { return nil }})
	if err != nil {
		tb.Fatal(err)
	}
	a.h = h
	return a
}

// serve sends one request and returns the answer and the commands it published.
// headers are pairs of name and value; an empty value is left out. ok is false when
// a header value is one net/http's server refuses (400) before any handler runs.
func (a *fuzzAPI) serve(method, path, contentType string, body []byte, headers ...string) (w *httptest.ResponseRecorder, cmds []*topics.Command, ok bool) {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		v := headers[i+1]
		if !headerValueValid(v) {
			return nil, nil, false
		}
		// The server trims a value's surrounding spaces and tabs as it reads it.
		if v = textproto.TrimString(v); v != "" {
			r.Header.Set(headers[i], v)
		}
	}
	a.pub.mu.Lock()
	a.pub.cmds = nil
	a.pub.mu.Unlock()
	w = httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w, a.pub.published(), true
}

// headerValueValid is net/http's server check of a header value: no control byte
// but the tab. Bytes of 0x80 and above pass, whether UTF-8 or not.
func headerValueValid(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// checkAnswer asserts the property: a 4xx JSON error with nothing published, or a
// 202 with want commands (0: any number, at least one), each sound and storable.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, cmds []*topics.Command, want int) {
	t.Helper()
	switch {
	case w.Code >= 400 && w.Code < 500:
		checkErrorBody(t, w)
		if len(cmds) != 0 {
			t.Fatalf("status %d, yet %d commands were published", w.Code, len(cmds))
		}
	case w.Code == http.StatusAccepted:
		if len(cmds) == 0 || (want > 0 && len(cmds) != want) {
			t.Fatalf("202 with %d commands published, want %d", len(cmds), want)
		}
		for _, c := range cmds {
			checkCommand(t, c)
		}
	default:
		t.Fatalf("status %d, want a 4xx error or 202: %s", w.Code, w.Body)
	}
}

func checkErrorBody(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == nil ||
		body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("status %d with body %q: want a JSON error with code and message (%v)", w.Code, w.Body, err)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error answered as %q", ct)
	}
}

// checkCommand asserts that a published command passes Check and that every text in
// it can be stored by the sink: valid UTF-8 (JSON would silently replace the rest),
// no NUL byte (Postgres text refuses it), within the documented length.
func checkCommand(t *testing.T, c *topics.Command) {
	t.Helper()
	if err := c.Check(); err != nil {
		t.Fatalf("published command fails Check: %v", err)
	}
	texts := map[string]string{"idempotency_key": c.IdempotencyKey}
	if c.Place != nil {
		texts["customer_id"] = c.Place.CustomerID
	}
	if c.Configure != nil {
		texts["event_name"], texts["zone_name"] = c.Configure.EventName, c.Configure.ZoneName
	}
	for field, s := range texts {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || len(s) > textBytesMax {
			t.Fatalf("published %s command with %s %q: not storable", c.Type, field, s)
		}
	}
}

// FuzzPlaceHold fuzzes the body and content type of POST /holds.
func FuzzPlaceHold(f *testing.F) {
	a := newFuzzAPI(f)
	body := func(key, customer string) []byte {
		b, _ := json.Marshal(map[string]any{"event_id": fuzzEventID, "zone_id": fuzzZoneID, "quantity": 2,
			"idempotency_key": key, "customer_id": customer})
		return b
	}
	f.Add("application/json", body("k1", "c-7"))
	f.Add("application/json; charset=utf-8", body(strings.Repeat("k", textBytesMax), "c"))
	f.Add("application/json", []byte(`{"event_id":"`+fuzzEventID.String()+`","zone_id":"`+fuzzZoneID.String()+
		`","quantity":9223372036854775807,"idempotency_key":"k"}`))
	f.Add("application/json", []byte(`{"event_id":"`+fuzzEventID.String()+`","zone_id":"`+fuzzZoneID.String()+
		`","quantity":1,"idempotency_key":"\ud800","customer_id":"\xff"}`))
	f.Add("text/plain", []byte(`{}`))
	f.Add("application/json", []byte(`{"quantity":"2"} {}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		w, cmds, ok := a.serve(http.MethodPost, "/holds", contentType, body)
		if ok {
			checkAnswer(t, w, cmds, 1)
		}
	})
}

// FuzzConfirmHold fuzzes the hold id and Idempotency-Key of POST /holds/{id}/confirm.
func FuzzConfirmHold(f *testing.F) {
	fuzzResolve(f, http.MethodPost, "/confirm")
}

// FuzzReleaseHold fuzzes the hold id and Idempotency-Key of DELETE /holds/{id}.
func FuzzReleaseHold(f *testing.F) {
	fuzzResolve(f, http.MethodDelete, "")
}

func fuzzResolve(f *testing.F, method, suffix string) {
	a := newFuzzAPI(f)
	f.Add(fuzzHoldID.String(), "confirm-1")
	f.Add(fuzzHoldID.String(), "")
	f.Add(strings.ToUpper(fuzzHoldID.String()), " \tk ")
	f.Add(fuzzHoldID.String(), strings.Repeat("é", textBytesMax/2))
	f.Add("{"+fuzzHoldID.String()+"}", "k")
	f.Add(uuid.Nil.String(), "k")
	f.Add("../events", "k")
	f.Fuzz(func(t *testing.T, holdID, key string) {
		path := "/holds/" + url.PathEscape(holdID) + suffix
		w, cmds, ok := a.serve(method, path, "", nil, "Idempotency-Key", key)
		if ok {
			checkAnswer(t, w, cmds, 1)
		}
	})
}

// FuzzCreateEvent fuzzes the body of the admin POST /events.
func FuzzCreateEvent(f *testing.F) {
	a := newFuzzAPI(f)
	f.Add([]byte(`{"name":"concert","zones":[{"name":"floor","capacity":100,"hold_ttl_seconds":600,` +
		`"hold_quantity_max":4,"customer_limit":0},{"name":"balcony","capacity":0}]}`))
	f.Add([]byte(`{"name":"concert","zones":[{"name":"a","capacity":1},{"name":"a","capacity":1}]}`))
	f.Add([]byte(`{"name":"` + strings.Repeat("n", textBytesMax+1) + `","zones":[{"name":"a","capacity":1}]}`))
	f.Add([]byte(`{"name":"x","zones":[{"name":"a","capacity":-1,"extra":1}]}`))
	f.Add([]byte(`{"name":"\u00e9\ud83c\udfab","zones":[{"name":"\u2028","capacity":10000000}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, cmds, ok := a.serve(http.MethodPost, "/events", "application/json", body,
			"Authorization", "Bearer "+testAdminToken)
		if ok {
			checkAnswer(t, w, cmds, 0)
		}
	})
}

// FuzzPatchZone fuzzes the body and Idempotency-Key of the admin
// PATCH /events/{id}/zones/{zone_id}.
func FuzzPatchZone(f *testing.F) {
	a := newFuzzAPI(f)
	path := "/events/" + fuzzEventID.String() + "/zones/" + fuzzZoneID.String()
	f.Add([]byte(`{"capacity":120}`), "patch-1")
	f.Add([]byte(`{"hold_ttl_seconds":86400,"hold_quantity_max":1,"customer_limit":0}`), "")
	f.Add([]byte(`{}`), "k")
	f.Add([]byte(`{"capacity":1e3}`), "k")
	f.Add([]byte(`{"capacity":null,"hold_ttl_seconds":0}`), "k")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		w, cmds, ok := a.serve(http.MethodPatch, path, "application/json", body,
			"Authorization", "Bearer "+testAdminToken, "Idempotency-Key", key)
		if ok {
			checkAnswer(t, w, cmds, 1)
		}
	})
}

// TestFuzzFakesAccept keeps the fuzz targets meaningful: over their fakes, a valid
// request of each route is accepted and publishes, so the fuzzer reaches the checks
// of published commands and does not only meet errors.
func TestFuzzFakesAccept(t *testing.T) {
	a := newFuzzAPI(t)
	admin := []string{"Authorization", "Bearer " + testAdminToken}
	for _, tc := range []struct {
		method, path string
		body         string
		headers      []string
	}{
		{http.MethodPost, "/holds", `{"event_id":"` + fuzzEventID.String() + `","zone_id":"` + fuzzZoneID.String() +
			`","quantity":2,"idempotency_key":"k1"}`, nil},
		{http.MethodPost, "/holds/" + fuzzHoldID.String() + "/confirm", "", []string{"Idempotency-Key", "c1"}},
		{http.MethodDelete, "/holds/" + fuzzHoldID.String(), "", nil},
		{http.MethodPost, "/events", `{"name":"e","zones":[{"name":"a","capacity":1}]}`, admin},
		{http.MethodPatch, "/events/" + fuzzEventID.String() + "/zones/" + fuzzZoneID.String(), `{"capacity":3}`, admin},
	} {
		w, cmds, _ := a.serve(tc.method, tc.path, "application/json", []byte(tc.body), tc.headers...)
		if w.Code != http.StatusAccepted || len(cmds) != 1 {
			t.Errorf("%s %s: status %d, %d commands; want 202 and 1: %s", tc.method, tc.path, w.Code, len(cmds), w.Body)
		}
	}
}
