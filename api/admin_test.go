package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

const eventBody = `{"name":"Concert","zones":[{"name":"floor","capacity":100,"hold_ttl_seconds":300,"hold_quantity_max":6,"customer_limit":8},{"name":"balcony","capacity":20}]}`

func TestAdminRoutesNeedABearerToken(t *testing.T) {
	// Admin routes answer 401 without a configured bearer token and publish nothing;
	// with one they go through.
	f := newFixture(t, Config{})
	patch := fmt.Sprintf("/events/%s/zones/%s", f.eventID, f.zone.ID)
	for name, auth := range map[string]string{
		"no header":     "",
		"wrong token":   "Bearer not-the-admin-token-at-all",
		"basic scheme":  "Basic " + testAdminToken,
		"bare token":    testAdminToken,
		"token prefix":  "Bearer " + testAdminToken[:10],
		"token + extra": "Bearer " + testAdminToken + "x",
	} {
		t.Run(name, func(t *testing.T) {
			for _, w := range []interface{ Result() *http.Response }{
				f.do("POST", "/events", eventBody, "Authorization", auth),
				f.do("PATCH", patch, `{"capacity":5}`, "Authorization", auth),
			} {
				rec := w.Result()
				if rec.StatusCode != http.StatusUnauthorized || rec.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("status %d, want 401 with WWW-Authenticate", rec.StatusCode)
				}
			}
			f.assertNothingPublished()
		})
	}
	if w := f.admin("POST", "/events", eventBody); w.Code != http.StatusAccepted {
		t.Fatalf("with the token: status %d: %s", w.Code, w.Body)
	}
}

func TestNoAdminTokensLocksAdminRoutes(t *testing.T) {
	// With no admin tokens configured, even an empty bearer token is refused.
	f := newFixture(t, Config{AdminTokens: []string{}})
	if w := f.do("POST", "/events", eventBody, "Authorization", "Bearer "); w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", w.Code)
	}
	f.assertNothingPublished()
}

func TestCreateEventPublishesOneCommandPerZone(t *testing.T) {
	// POST /events makes an event id and a zone id per zone and publishes one
	// zone.configure per zone carrying the names and settings.
	f := newFixture(t, Config{})
	w := f.admin("POST", "/events", eventBody)
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	m := decodeBody(t, w)
	eventID, _ := m["event_id"].(string)
	if w.Header().Get("Location") != "/events/"+eventID {
		t.Fatalf("Location %q for event %q", w.Header().Get("Location"), eventID)
	}
	zones, _ := m["zones"].([]any)
	cmds := f.pub.published()
	if len(zones) != 2 || len(cmds) != 2 {
		t.Fatalf("%d zones in body, %d commands, want 2 and 2", len(zones), len(cmds))
	}
	for i, c := range cmds {
		z := zones[i].(map[string]any)
		if c.Type != topics.CmdConfigureZone || c.EventID.String() != eventID || c.ZoneID.String() != z["id"] ||
			c.RequestID.String() != z["request_id"] || c.Configure.EventName != "Concert" ||
			c.Configure.ZoneName != z["name"] || c.ZoneID.Version() != 7 {
			t.Fatalf("command %d %+v (configure %+v) does not match zone %v", i, c, c.Configure, z)
		}
	}
	first := cmds[0].Configure
	if *first.Capacity != 100 || *first.HoldTTLSeconds != 300 || *first.HoldQuantityMax != 6 || *first.CustomerLimit != 8 {
		t.Fatalf("first zone settings %+v", first)
	}
	if second := cmds[1].Configure; *second.Capacity != 20 || second.HoldTTLSeconds != nil || second.HoldQuantityMax != nil {
		t.Fatalf("second zone settings %+v: unset fields must stay nil", second)
	}
}

func TestAdminRoutesRejectBadInputWithoutPublishing(t *testing.T) {
	// Bad admin bodies and unknown zones answer 400/404/415 and publish nothing.
	f := newFixture(t, Config{})
	patch := fmt.Sprintf("/events/%s/zones/%s", f.eventID, f.zone.ID)
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     string
	}{
		{"no name", "POST", "/events", `{"zones":[{"name":"a","capacity":1}]}`, nil, 400, "missing_field"},
		{"no zones", "POST", "/events", `{"name":"x","zones":[]}`, nil, 400, "invalid_field"},
		{"zone without capacity", "POST", "/events", `{"name":"x","zones":[{"name":"a"}]}`, nil, 400, "missing_field"},
		{"negative capacity", "POST", "/events", `{"name":"x","zones":[{"name":"a","capacity":-1}]}`, nil, 400, "invalid_field"},
		{"zero ttl", "POST", "/events", `{"name":"x","zones":[{"name":"a","capacity":1,"hold_ttl_seconds":0}]}`, nil, 400, "invalid_field"},
		{"ttl under the contract minimum", "POST", "/events", `{"name":"x","zones":[{"name":"a","capacity":1,"hold_ttl_seconds":9}]}`, nil, 400, "invalid_field"},
		{"ttl over the contract maximum", "POST", "/events", `{"name":"x","zones":[{"name":"a","capacity":1,"hold_ttl_seconds":3601}]}`, nil, 400, "invalid_field"},
		{"duplicate zone names", "POST", "/events", `{"name":"x","zones":[{"name":"a","capacity":1},{"name":"a","capacity":2}]}`, nil, 400, "duplicate_zone_name"},
		{"unknown zone field", "POST", "/events", `{"name":"x","zones":[{"name":"a","capacity":1,"price":5}]}`, nil, 400, "unknown_field"},
		{"too many zones", "POST", "/events", `{"name":"x","zones":[` + strings.Repeat(`{"name":"a","capacity":1},`, 64) + `{"name":"b","capacity":1}]}`, nil, 400, "invalid_field"},
		{"event as text", "POST", "/events", eventBody, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"empty patch", "PATCH", patch, `{}`, nil, 400, "empty_patch"},
		{"unknown patch field", "PATCH", patch, `{"name":"x"}`, nil, 400, "unknown_field"},
		{"patch bad value", "PATCH", patch, `{"hold_quantity_max":0}`, nil, 400, "invalid_field"},
		{"patch malformed zone id", "PATCH", "/events/" + f.eventID.String() + "/zones/nope", `{"capacity":1}`, nil, 400, "invalid_id"},
		{"patch unknown zone", "PATCH", fmt.Sprintf("/events/%s/zones/%s", f.eventID, uuid.New()), `{"capacity":1}`, nil, 404, "zone_not_found"},
		{"patch zone of another event", "PATCH", fmt.Sprintf("/events/%s/zones/%s", f.eventID, f.other.ID), `{"capacity":1}`, nil, 404, "zone_not_found"},
		{"patch unknown event", "PATCH", fmt.Sprintf("/events/%s/zones/%s", uuid.New(), f.zone.ID), `{"capacity":1}`, nil, 404, "event_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := f.admin(tc.method, tc.path, tc.body, tc.headers...)
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

func TestPatchZonePublishesOnlyTheSetFields(t *testing.T) {
	// PATCH publishes a zone.configure for the zone with only the fields given and
	// the optional Idempotency-Key.
	f := newFixture(t, Config{})
	w := f.admin("PATCH", fmt.Sprintf("/events/%s/zones/%s", f.eventID, f.zone.ID), `{"capacity":150}`,
		"Idempotency-Key", "grow-1")
	if w.Code != http.StatusAccepted || decodeBody(t, w)["request_id"] == nil {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	c := f.pub.published()[0]
	if c.ZoneID != f.zone.ID || c.EventID != f.eventID || *c.Configure.Capacity != 150 ||
		c.Configure.HoldTTLSeconds != nil || c.Configure.EventName != "" || c.IdempotencyKey != "grow-1" {
		t.Fatalf("command %+v configure %+v", c, c.Configure)
	}
}
