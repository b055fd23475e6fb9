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
		mu       sync.Mutex
		accepted []string
		wg       sync.WaitGroup
		killed   = make(chan struct{})
	)
	submit := func(b, i int) {
		body := fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1,"idempotency_key":"b%d-%d"}`, eventID, zones[0], b, i)
		resp, err := http.Post(s.url+"/holds", "application/json", strings.NewReader(body))
		if err != nil {
			return // ticketd is down: not accepted, the buyer would retry
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusAccepted {
			mu.Lock()
			accepted = append(accepted, resp.Header.Get("Location"))
			mu.Unlock()
		}
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
				submit(b, i)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	// Restart as soon as the old process is gone; buyers keep submitting meanwhile.
	<-killed
	start()
	wg.Wait()

	succeeded, rejected := 0, 0
	for _, loc := range accepted {
		res := s.poll(loc)
		switch res["status"] {
		case "succeeded":
			succeeded++
		case "rejected":
			rejected++
			if res["reason"] != "insufficient_capacity" {
				t.Errorf("%s rejected for %v, want insufficient_capacity", loc, res["reason"])
			}
		}
	}
	want := min(len(accepted), capacity)
	t.Logf("accepted %d, succeeded %d, rejected %d", len(accepted), succeeded, rejected)
	if succeeded != want || succeeded+rejected != len(accepted) {
		t.Fatalf("succeeded %d and rejected %d of %d accepted; want %d succeeded for %d tickets",
			succeeded, rejected, len(accepted), want, capacity)
	}
	s.eventually(func() bool {
		z := s.expect(s.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK).json(t)["zones"].([]any)[0].(map[string]any)
		return z["held"] == float64(succeeded) && z["sold"] == 0.0 && z["available"] == float64(capacity-succeeded) &&
			z["capacity"] == float64(capacity)
	}, "availability shows %d held of %d", succeeded, capacity)
}
