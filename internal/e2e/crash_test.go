package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
)

// TestKillTicketdUnderLoad proves the system's promise end to end: a ticketd
// process (api, processor and sink) killed with SIGKILL while buyers are submitting
// holds, then started again, decides every request it had accepted (202), sells
// exactly as many tickets as there were, never more, and its availability adds up.
// A buyer whose request got no answer retries it with the same key and gets the
// first result: a command published just before the crash never makes a second hold
// (before, the test counted only answered requests and failed when one such
// command had been published).
func TestKillTicketdUnderLoad(t *testing.T) {
	const (
		capacity = 60
		buyers   = 8
		perBuyer = 25 // 200 holds of one ticket for 60 tickets
	)
	bin, err := devstack.BuildTicketd(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	prefix := fmt.Sprintf("crash%d-", time.Now().UnixNano())
	proc := devstack.Process{
		Bin: bin, Command: "all", Addr: addr, Stderr: os.Stderr,
		Env: []string{
			"KAFKA_BROKERS=" + strings.Join(testenv.Kafka(t), ","),
			"DATABASE_URL=" + testenv.Postgres(t),
			"ADMIN_TOKEN=" + adminToken,
			"PARTITIONS=3",
			"TOPIC_PREFIX=" + prefix,
			"INSTANCE=" + prefix + "node", // the same after the restart: it fences the killed one's transaction
			"LOG_LEVEL=warn",
		},
	}
	start := func() *devstack.Ticketd {
		td, err := devstack.StartTicketd(proc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = td.Kill() })
		if err := td.WaitReady(context.Background()); err != nil {
			t.Fatal(err)
		}
		return td
	}
	first := start()
	s := &system{t: t, url: first.URL}
	eventID, zones := s.createEvent(capacity)

	var (
		mu         sync.Mutex
		accepted   = map[string]string{} // idempotency key -> Location
		unanswered []string              // keys sent while ticketd was going down
		wg         sync.WaitGroup
		killed     = make(chan struct{})
	)
	// submit sends one hold; it reports false when no answer came (ticketd is
	// down), in which case the command may or may not have been published.
	submit := func(key string) bool {
		body := fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1,"idempotency_key":%q}`, eventID, zones[0], key)
		resp, err := http.Post(s.url+"/holds", "application/json", strings.NewReader(body))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			return false
		}
		if resp.StatusCode == http.StatusAccepted {
			mu.Lock()
			accepted[key] = resp.Header.Get("Location")
			mu.Unlock()
		}
		return true
	}
	for b := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perBuyer {
				if b == 0 && i == perBuyer/3 {
					_ = first.Kill() // mid-stream, mid-transaction as likely as not
					close(killed)
				}
				if i == perBuyer/3 {
					<-killed
				}
				if key := fmt.Sprintf("b%d-%d", b, i); !submit(key) {
					mu.Lock()
					unanswered = append(unanswered, key)
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	// Restart as soon as the old process is gone; buyers keep submitting meanwhile.
	<-killed
	start()
	wg.Wait()
	// A buyer who got no answer retries with the same key: a command that was
	// published before the crash is answered with its first result, not a second hold.
	for _, key := range unanswered {
		s.eventually(func() bool { return submit(key) }, "retry of %s answered", key)
	}

	holds := map[any]bool{}
	rejected := 0
	for _, loc := range accepted {
		res := s.poll(loc)
		switch res["status"] {
		case "succeeded":
			holds[res["hold"].(map[string]any)["id"]] = true
		case "rejected":
			rejected++
			if res["reason"] != "insufficient_capacity" {
				t.Errorf("%s rejected for %v, want insufficient_capacity", loc, res["reason"])
			}
		}
	}
	succeeded := len(holds)
	want := min(len(accepted), capacity)
	t.Logf("accepted %d (%d retried after no answer), succeeded %d, rejected %d", len(accepted), len(unanswered), succeeded, rejected)
	if succeeded != want || succeeded+rejected != len(accepted) {
		t.Fatalf("%d holds and %d rejections for %d accepted keys; want %d holds for %d tickets",
			succeeded, rejected, len(accepted), want, capacity)
	}
	s.eventually(func() bool {
		z := s.expect(s.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK).json(t)["zones"].([]any)[0].(map[string]any)
		return z["held"] == float64(succeeded) && z["sold"] == 0.0 && z["available"] == float64(capacity-succeeded) &&
			z["capacity"] == float64(capacity)
	}, "availability shows %d held of %d", succeeded, capacity)
}
