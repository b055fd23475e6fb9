package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const adminToken = "e2e-admin-token-0123456789"

// system is one running ticketd (api, processor and sink in one process) on the
// shared test Kafka and a fresh database.
type system struct {
	t   testing.TB
	url string
	cfg app.Config
	td  *devstack.Ticketd // nil when the test runs ticketd itself
}

// startSystem runs `ticketd all` in-process with its own topics and database.
func startSystem(t testing.TB, mutate ...func(*app.Config)) *system {
	t.Helper()
	brokers := testenv.Kafka(t)
	dbURL := testenv.Postgres(t)
	cfg, err := app.ParseConfig("all", []string{
		"-kafka-brokers", strings.Join(brokers, ","),
		"-database-url", dbURL,
		"-http-addr", freeAddr(t),
		"-admin-token", adminToken,
		"-partitions", "3",
		"-topic-prefix", fmt.Sprintf("e2e%d-", time.Now().UnixNano()),
		"-instance", fmt.Sprintf("e2e-%d", time.Now().UnixNano()),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mutate {
		f(&cfg)
	}
	return runSystem(t, cfg)
}

func runSystem(t testing.TB, cfg app.Config) *system {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	td := devstack.RunTicketd(cfg.HTTPAddr, func(ctx context.Context) error { return app.Run(ctx, "all", cfg, log) })
	s := &system{t: t, url: td.URL, cfg: cfg, td: td}
	t.Cleanup(s.stop)
	if err := td.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *system) stop() {
	err := s.td.Stop()
	switch {
	case errors.Is(err, devstack.ErrStopTimeout):
		s.t.Error(err)
	case err != nil:
		s.t.Logf("ticketd stopped: %v", err)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// response is an HTTP answer with its JSON body decoded loosely.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func (r response) errorCode(t testing.TB) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	if e == nil {
		t.Fatalf("body %s has no error object", r.body)
	}
	code, _ := e["code"].(string)
	return code
}

// do sends a request; body may be nil, a string (sent as is) or a value (as JSON).
func (s *system) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.send(req, headers)
}

// send sets the headers (name, value, name, value, …), sends req and reads the
// answer whole.
func (s *system) send(req *http.Request, headers []string) response {
	s.t.Helper()
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (s *system) expect(r response, status int) response {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// createEvent creates an event with the given zone capacities and waits until the
// read model shows every zone. It returns the event id and zone ids.
func (s *system) createEvent(capacities ...int) (string, []string) {
	s.t.Helper()
	zones := make([]map[string]any, len(capacities))
	for i, c := range capacities {
		zones[i] = map[string]any{"name": fmt.Sprintf("zone-%d", i), "capacity": c}
	}
	r := s.expect(s.do("POST", "/events", map[string]any{"name": "Concert", "zones": zones},
		"Authorization", "Bearer "+adminToken), http.StatusAccepted)
	m := r.json(s.t)
	eventID, _ := m["event_id"].(string)
	var zoneIDs []string
	for _, z := range m["zones"].([]any) {
		zoneIDs = append(zoneIDs, z.(map[string]any)["id"].(string))
	}
	s.eventually(func() bool {
		r := s.do("GET", "/events/"+eventID+"/availability", nil)
		if r.status != http.StatusOK {
			return false
		}
		zs, _ := r.json(s.t)["zones"].([]any)
		return len(zs) == len(capacities)
	}, "event %s visible with %d zones", eventID, len(capacities))
	return eventID, zoneIDs
}

// eventually polls cond for up to 30 s.
func (s *system) eventually(cond func() bool, format string, args ...any) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("not after 30 s: "+format, args...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// poll follows a 202's Location until the request is decided and returns its body.
func (s *system) poll(location string) map[string]any {
	s.t.Helper()
	var out map[string]any
	s.eventually(func() bool {
		r := s.expect(s.do("GET", location, nil), http.StatusOK)
		out = r.json(s.t)
		return out["status"] != "pending"
	}, "request %s decided", location)
	return out
}
