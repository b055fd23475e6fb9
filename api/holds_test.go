package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func decodeBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", w.Body.String(), err)
	}
	return m
}

// errorCode returns error.code of an error body, failing if the body is not one.
func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	e, ok := decodeBody(t, w)["error"].(map[string]any)
	if !ok {
		t.Fatalf("body %q has no error object", w.Body.String())
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error %v has no message", e)
	}
	code, _ := e["code"].(string)
	return code
}

func (f *fixture) holdBody(quantity any) string {
	return fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":%v,"idempotency_key":"k1"}`,
		f.eventID, f.zone.ID, quantity)
}

func TestPlaceHoldPublishesAndAccepts(t *testing.T) {
	// A valid POST /holds publishes one hold.place command and answers 202 pending
	// with Location and Retry-After.
	f := newFixture(t, Config{})
	body := fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":2,"idempotency_key":"k1","customer_id":"c-7"}`,
		f.eventID, f.zone.ID)
	w := f.do(http.MethodPost, "/holds", body)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", w.Code, w.Body)
	}
	cmds := f.pub.published()
	if len(cmds) != 1 {
		t.Fatalf("published %d commands, want 1", len(cmds))
	}
	c := cmds[0]
	if c.Type != topics.CmdPlaceHold || c.EventID != f.eventID || c.ZoneID != f.zone.ID ||
		c.IdempotencyKey != "k1" || c.Place.Quantity != 2 || c.Place.CustomerID != "c-7" ||
		c.RequestID.Version() != 7 || c.SubmittedAt.IsZero() || c.Version != topics.SchemaVersion {
		t.Fatalf("command %+v (place %+v) does not match the request", c, c.Place)
	}
	m := decodeBody(t, w)
	if m["request_id"] != c.RequestID.String() || m["status"] != "pending" {
		t.Fatalf("body %v, want request_id %s and status pending", m, c.RequestID)
	}
	if loc := w.Header().Get("Location"); loc != "/requests/"+c.RequestID.String() {
		t.Fatalf("Location %q", loc)
	}
	if w.Header().Get("Retry-After") != "1" || w.Header().Get("Preference-Applied") != "" {
		t.Fatalf("headers %v: want Retry-After 1 and no Preference-Applied", w.Header())
	}
}

func TestPlaceHoldRejectsBadInputWithoutPublishing(t *testing.T) {
	// Every kind of bad POST /holds answers its status and error code, and publishes
	// nothing.
	f := newFixture(t, Config{BodyBytesMax: 1024})
	ev, zone := f.eventID.String(), f.zone.ID.String()
	body := func(event, zone string, q any) string {
		return fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":%v,"idempotency_key":"k"}`, event, zone, q)
	}
	cases := []struct {
		name, body string
		headers    []string
		status     int
		code       string
	}{
		{"missing quantity", fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"idempotency_key":"k"}`, ev, zone), nil, 400, "missing_field"},
		{"missing idempotency key", fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1}`, ev, zone), nil, 400, "missing_field"},
		{"missing event id", fmt.Sprintf(`{"zone_id":%q,"quantity":1,"idempotency_key":"k"}`, zone), nil, 400, "missing_field"},
		{"empty idempotency key", fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1,"idempotency_key":""}`, ev, zone), nil, 400, "invalid_field"},
		{"unknown field", fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1,"idempotency_key":"k","seat":"A1"}`, ev, zone), nil, 400, "unknown_field"},
		{"zero quantity", body(ev, zone, 0), nil, 400, "invalid_quantity"},
		{"negative quantity", body(ev, zone, -3), nil, 400, "invalid_quantity"},
		{"fractional quantity", body(ev, zone, 1.5), nil, 400, "invalid_field"},
		{"quantity as string", body(ev, zone, `"2"`), nil, 400, "invalid_field"},
		{"quantity over the zone's limit", body(ev, zone, 5), nil, 422, "quantity_over_limit"},
		{"malformed event id", body("not-a-uuid", zone, 1), nil, 400, "invalid_id"},
		{"malformed zone id", body(ev, "123", 1), nil, 400, "invalid_id"},
		{"unknown event", body(uuid.NewString(), zone, 1), nil, 404, "event_not_found"},
		{"unknown zone", body(ev, uuid.NewString(), 1), nil, 404, "zone_not_found"},
		{"zone of another event", body(ev, f.other.ID.String(), 1), nil, 404, "zone_not_found"},
		{"body over the limit", fmt.Sprintf(`{"event_id":%q,"idempotency_key":%q}`, ev, strings.Repeat("x", 2000)), nil, 413, "body_too_large"},
		{"wrong content type", body(ev, zone, 1), []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"no content type", body(ev, zone, 1), []string{"Content-Type", ""}, 415, "unsupported_media_type"},
		{"invalid JSON", `{"event_id":`, nil, 400, "invalid_json"},
		{"two JSON values", body(ev, zone, 1) + `{}`, nil, 400, "invalid_json"},
		{"JSON array", `[]`, nil, 400, "invalid_field"},
		{"empty body", " ", nil, 400, "invalid_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(http.MethodPost, "/holds", tc.body, tc.headers...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if code := errorCode(t, w); code != tc.code {
				t.Fatalf("code %q, want %q: %s", code, tc.code, w.Body)
			}
			f.assertNothingPublished()
		})
	}
}

func TestConfirmAndReleaseRejectBadInputWithoutPublishing(t *testing.T) {
	// Confirm needs an Idempotency-Key and both need a well-formed id of a hold the
	// read model knows; otherwise they answer 400/404 and publish nothing.
	f := newFixture(t, Config{})
	cases := []struct {
		name, method, path string
		headers            []string
		status             int
		code               string
	}{
		{"confirm without key", "POST", "/holds/" + f.hold.ID.String() + "/confirm", nil, 400, "missing_idempotency_key"},
		{"confirm malformed id", "POST", "/holds/xyz/confirm", []string{"Idempotency-Key", "c1"}, 400, "invalid_id"},
		{"confirm unknown hold", "POST", "/holds/" + uuid.NewString() + "/confirm", []string{"Idempotency-Key", "c1"}, 404, "hold_not_found"},
		{"confirm key too long", "POST", "/holds/" + f.hold.ID.String() + "/confirm", []string{"Idempotency-Key", strings.Repeat("k", 201)}, 400, "invalid_field"},
		{"release malformed id", "DELETE", "/holds/xyz", nil, 400, "invalid_id"},
		{"release unknown hold", "DELETE", "/holds/" + uuid.NewString(), nil, 404, "hold_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(tc.method, tc.path, "", tc.headers...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if code := errorCode(t, w); code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
			f.assertNothingPublished()
		})
	}
}

func TestConfirmAndReleaseRouteToTheHoldsZone(t *testing.T) {
	// Confirm and release publish commands for the hold's event and zone as the read
	// model knows them; release defaults its key to release:<hold id>.
	f := newFixture(t, Config{})
	if w := f.do("POST", "/holds/"+f.hold.ID.String()+"/confirm", "", "Idempotency-Key", "c1"); w.Code != 202 {
		t.Fatalf("confirm: status %d: %s", w.Code, w.Body)
	}
	if w := f.do("DELETE", "/holds/"+f.hold.ID.String(), ""); w.Code != 202 {
		t.Fatalf("release: status %d: %s", w.Code, w.Body)
	}
	cmds := f.pub.published()
	if len(cmds) != 2 {
		t.Fatalf("published %d, want 2", len(cmds))
	}
	confirm, release := cmds[0], cmds[1]
	if confirm.Type != topics.CmdConfirmHold || confirm.Confirm.HoldID != f.hold.ID ||
		confirm.ZoneID != f.zone.ID || confirm.EventID != f.eventID || confirm.IdempotencyKey != "c1" {
		t.Fatalf("confirm command %+v", confirm)
	}
	if release.Type != topics.CmdReleaseHold || release.Release.HoldID != f.hold.ID ||
		release.ZoneID != f.zone.ID || release.IdempotencyKey != "release:"+f.hold.ID.String() {
		t.Fatalf("release command %+v", release)
	}
}

func TestSubmitAnswers503WhenPublishFails(t *testing.T) {
	// A command Kafka did not take answers 503 publish_failed, so that the client
	// retries with the same idempotency key.
	f := newFixture(t, Config{})
	f.pub.err = errDown
	w := f.do("POST", "/holds", f.holdBody(1))
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "publish_failed" {
		t.Fatalf("status %d body %s, want 503 publish_failed", w.Code, w.Body)
	}
}

func TestReadModelDownAnswers503(t *testing.T) {
	// When the read model cannot be reached, a submit answers 503 and publishes
	// nothing rather than guessing that the zone exists.
	f := newFixture(t, Config{})
	f.reads.err = errDown
	w := f.do("POST", "/holds", f.holdBody(1))
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "read_model_unavailable" {
		t.Fatalf("status %d body %s", w.Code, w.Body)
	}
	f.assertNothingPublished()
}
