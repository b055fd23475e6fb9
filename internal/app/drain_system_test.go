package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/processor"
	"github.com/ultimate-ticket/ultimate-ticket/sink"
)

const drainAdminToken = "drain-admin-token-0123456789"

// submitted is one hold submitted under load, as the client saw it.
type submitted struct {
	start, end time.Time
	status     int
	requestID  string
	err        error
}

// TestStopUnderLoadDrains proves the graceful stop of `ticketd all` on real Kafka
// and Postgres: stopped (its context cancelled, as SIGTERM does) while buyers
// submit holds with Prefer: wait, it answers the submits under way with their
// decision instead of cutting them, stops without running into SHUTDOWN_TIMEOUT,
// and leaves both consumer groups, so that the next instance (another INSTANCE)
// gets every partition at once. That instance decides every request the first
// accepted: none is lost, none held twice, and the zone's counts add up.
func TestStopUnderLoadDrains(t *testing.T) {
	const (
		capacity = 1_000_000
		buyers   = 12
		before   = 150 // holds answered before the stop
	)
	prefix := fmt.Sprintf("drain%d-", time.Now().UnixNano())
	cfg := drainConfig(t, prefix, "first", testenv.Postgres(t))
	first := runTicketd(t, cfg)
	eventID, zoneID := createZone(t, first.URL, capacity)

	var (
		mu      sync.Mutex
		results []submitted
		wg      sync.WaitGroup
		stopped = make(chan struct{})
	)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for b := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r := submitHold(client, first.URL, eventID, zoneID, fmt.Sprintf("b%d-%d", b, i))
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				if r.err != nil {
					select {
					case <-stopped:
						return // the listener is closed: this buyer is done
					default:
					}
				}
			}
		}()
	}
	for answered := 0; answered < before; {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		answered = len(results)
		mu.Unlock()
	}
	stopAt := time.Now()
	close(stopped)
	if err := first.Stop(); err != nil {
		t.Fatalf("the stop did not drain cleanly: %v", err)
	}
	wg.Wait()

	accepted, cutShort := checkAnswers(t, results, stopAt)
	if cutShort == 0 {
		t.Fatal("no submit under way at the stop was answered with its decision (201)")
	}
	t.Logf("%d submits accepted, %d of them under way at the stop and answered", len(accepted), cutShort)
	for _, group := range []string{processor.GroupDefault, sink.GroupDefault} {
		if n := members(t, cfg.brokers(), group); n != 0 {
			t.Errorf("group %s has %d members after the stop, want 0 (left)", group, n)
		}
	}

	next := runTicketd(t, drainConfig(t, prefix, "second", cfg.DatabaseURL))
	defer func() { _ = next.Stop() }()
	for _, id := range accepted {
		waitDecided(t, next.URL, id)
	}
	// A last hold, decided after every command before it in the zone's partition,
	// makes the read model complete up to it. Then exactly the accepted holds and
	// it are held: none lost, and none of the submits that got no answer had been
	// published (a handled submit cut short would be).
	last := submitHold(http.DefaultClient, next.URL, eventID, zoneID, "last")
	if last.err != nil || last.status != http.StatusCreated {
		t.Fatalf("last hold: %d %v", last.status, last.err)
	}
	held, available := zoneCounts(t, next.URL, eventID)
	if want := int64(len(accepted)) + 1; held != want || held+available != capacity {
		t.Errorf("held %d, available %d: want %d held of %d", held, available, want, capacity)
	}
}

// drainConfig is `ticketd all` on the test's Kafka, topics with prefix and the
// database at dbURL, as instance.
func drainConfig(t *testing.T, prefix, instance, dbURL string) Config {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("all", []string{
		"-kafka-brokers", strings.Join(testenv.Kafka(t), ","),
		"-database-url", dbURL,
		"-http-addr", addr,
		"-admin-token", drainAdminToken,
		"-partitions", "3",
		"-topic-prefix", prefix,
		"-instance", prefix + instance,
		"-shutdown-timeout", "60s",
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runTicketd(t *testing.T, cfg Config) *devstack.Ticketd {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	td := devstack.RunTicketd(cfg.HTTPAddr, func(ctx context.Context) error { return Run(ctx, "all", cfg, log) })
	if err := td.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return td
}

func submitHold(client *http.Client, base, eventID, zoneID, key string) submitted {
	r := submitted{start: time.Now()}
	body := fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1,"idempotency_key":%q}`, eventID, zoneID, key)
	req, _ := http.NewRequest("POST", base+"/holds", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "wait=10")
	resp, err := client.Do(req)
	if err != nil {
		r.err, r.end = err, time.Now()
		return r
	}
	defer resp.Body.Close()
	var m struct {
		RequestID string `json:"request_id"`
	}
	raw, err := io.ReadAll(resp.Body)
	r.end, r.status, r.err = time.Now(), resp.StatusCode, err
	_ = json.Unmarshal(raw, &m)
	r.requestID = m.RequestID
	return r
}

// checkAnswers checks that every submit was answered 201 (decided) or 202 (its
// wait ran out), or was never handled: refused or reset once the listener closed,
// or closed unanswered (EOF) when its bytes arrived after the stop began, which
// net/http's Shutdown does not read. It returns the accepted request ids and how
// many submits started before the stop and were answered with their decision
// after it. That no submit was cut after it was handled (published, then closed
// unanswered) is checked by the held count: such a hold would be held but not
// accepted.
func checkAnswers(t *testing.T, results []submitted, stopAt time.Time) (accepted []string, underWay int) {
	t.Helper()
	for _, r := range results {
		switch {
		case r.err != nil:
			if !errors.Is(r.err, syscall.ECONNREFUSED) && !errors.Is(r.err, syscall.ECONNRESET) &&
				!errors.Is(r.err, io.EOF) && !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Errorf("submit started %v after the stop failed: %v", r.start.Sub(stopAt), r.err)
			}
		case r.status == http.StatusCreated || r.status == http.StatusAccepted:
			if r.requestID == "" {
				t.Errorf("answer %d without a request id", r.status)
				continue
			}
			accepted = append(accepted, r.requestID)
			if r.start.Before(stopAt) && r.end.After(stopAt) && r.status == http.StatusCreated {
				underWay++
			}
		default:
			t.Errorf("submit answered %d", r.status)
		}
	}
	return accepted, underWay
}

func createZone(t *testing.T, base string, capacity int) (eventID, zoneID string) {
	t.Helper()
	body := fmt.Sprintf(`{"name":"Drain","zones":[{"name":"A","capacity":%d}]}`, capacity)
	req, _ := http.NewRequest("POST", base+"/events", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+drainAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		EventID string `json:"event_id"`
		Zones   []struct {
			ID string `json:"id"`
		} `json:"zones"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusAccepted || len(m.Zones) != 1 {
		t.Fatalf("create event: %d %v %+v", resp.StatusCode, err, m)
	}
	eventually(t, func() bool { _, err := availability(base, m.EventID); return err == nil })
	return m.EventID, m.Zones[0].ID
}

func availability(base, eventID string) (map[string]int64, error) {
	resp, err := http.Get(base + "/events/" + eventID + "/availability")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("availability: %d", resp.StatusCode)
	}
	var m struct {
		Zones []map[string]any `json:"zones"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || len(m.Zones) != 1 {
		return nil, fmt.Errorf("availability: %v %+v", err, m)
	}
	out := map[string]int64{}
	for _, k := range []string{"held", "available"} {
		v, _ := m.Zones[0][k].(float64)
		out[k] = int64(v)
	}
	return out, nil
}

func zoneCounts(t *testing.T, base, eventID string) (held, available int64) {
	t.Helper()
	a, err := availability(base, eventID)
	if err != nil {
		t.Fatal(err)
	}
	return a["held"], a["available"]
}

func waitDecided(t *testing.T, base, id string) {
	t.Helper()
	eventually(t, func() bool {
		resp, err := http.Get(base + "/requests/" + id)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var m struct {
			Status string `json:"status"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if m.Status == "rejected" {
			t.Errorf("request %s rejected", id)
		}
		return m.Status == "succeeded" || m.Status == "rejected"
	})
}

// eventually polls cond for up to a minute.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func members(t *testing.T, brokers []string, group string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	return len(groups[group].Members)
}
