package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Invariants checked on the answers and the processes.
const (
	invTerminal   = "every 202 has a terminal result (GET /requests/{id})"
	invInFold     = "every 202 is decided on the events topic, as GET /requests/{id} answers"
	invDrained    = "the system drains after the faults (every request decided, no hold left active, read model caught up)"
	invNoPanic    = "no component panics"
	invAPICheck   = "the final checks could run"
	checkParallel = 4
	foldWaitMax   = 2 * time.Minute
)

// httpGetBody sends GET url and reads the answer, within httpTimeout.
func httpGetBody(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	return loadgen.Send(ctx, http.DefaultClient, http.MethodGet, url, nil, nil)
}

// createZones creates one event with the planned zones and waits until the read
// model shows them.
func (r *run) createZones(ctx context.Context) ([]zoneInfo, error) {
	zs := make([]map[string]any, len(zonePlan))
	for i, z := range zonePlan {
		zs[i] = map[string]any{"name": fmt.Sprintf("zone-%d", i), "capacity": z.capacity, "hold_ttl_seconds": int64(zoneTTL / time.Second)}
	}
	l := newLoad(r.apiURL, adminToken, r.db, 0, nil)
	var resp struct {
		EventID uuid.UUID `json:"event_id"`
		Zones   []struct {
			ID uuid.UUID `json:"id"`
		} `json:"zones"`
	}
	var status int
	var raw []byte
	var err error
	for range setupAttempts {
		status, raw, err = l.do(ctx, http.MethodPost, "/events", map[string]any{"name": "chaos", "zones": zs},
			map[string]string{"Authorization": "Bearer " + adminToken})
		if err == nil && status == http.StatusAccepted {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil || status != http.StatusAccepted || json.Unmarshal(raw, &resp) != nil || len(resp.Zones) != len(zonePlan) {
		return nil, fmt.Errorf("create event: %d %s %v", status, raw, err)
	}
	out := make([]zoneInfo, len(zonePlan))
	for i, z := range zonePlan {
		out[i] = zoneInfo{event: resp.EventID, id: resp.Zones[i].ID, capacity: z.capacity, small: z.small}
	}
	deadline := time.Now().Add(zonesVisibleTimeout)
	for time.Now().Before(deadline) {
		var av struct {
			Zones []json.RawMessage `json:"zones"`
		}
		status, raw, err := httpGetBody(ctx, r.apiURL+"/events/"+resp.EventID.String()+"/availability")
		if err == nil && status == http.StatusOK && json.Unmarshal(raw, &av) == nil && len(av.Zones) == len(zonePlan) {
			r.logf("event %s with %d zones visible", resp.EventID, len(zonePlan))
			return out, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil, fmt.Errorf("%w: zones not in the read model after %s", errNotReady, zonesVisibleTimeout)
}

// endOffsets lists a topic's end offsets.
func endOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// drain waits, within DrainTimeout, until every accepted request is decided in the
// read model, no hold is active, the fold has read the events topic to its end and
// Postgres equals it. It reports whether that happened.
func (r *run) drain(ctx context.Context) bool {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	last := time.Time{}
	for {
		undecided, active, diffs, caught, err := r.drainState(ctx)
		done := err == nil && undecided == 0 && active == 0 && diffs == 0 && caught
		if done || time.Now().After(deadline) || ctx.Err() != nil || time.Since(last) >= progressEvery {
			r.logf("drain: %d accepted requests undecided, %d holds active, Postgres differs from the events in %d, events read to the end %v, err %v",
				undecided, active, diffs, caught, err)
			last = time.Now()
		}
		if done {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(drainPollEvery)
	}
}

func (r *run) drainState(ctx context.Context) (undecided, active, diffs int, caught bool, err error) {
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := readReadModel(qctx, r.db)
	if err != nil {
		return 0, 0, 0, false, err
	}
	for _, a := range r.load.snapshot() {
		if _, ok := m.requests[a.id]; !ok {
			undecided++
		}
	}
	_, diffs = m.compare(r.fold)
	ends, err := endOffsets(qctx, r.cluster.Brokers, topics.DefaultNames.Events)
	if err != nil {
		return undecided, m.activeHolds(), diffs, false, err
	}
	return undecided, m.activeHolds(), diffs, r.fold.caughtUp(ends), nil
}

// check stops the components and checks every invariant.
func (r *run) check(ctx context.Context, drained bool) (*Report, error) {
	if !drained {
		r.v.add(invDrained, "not drained within %s", r.cfg.DrainTimeout)
	}
	acc := r.load.snapshot()
	results := r.checkAnswers(ctx, acc)
	r.logf("checked %d answers (GET /requests/{id}); stopping the components", len(acc))
	r.eachProc((*proc).terminate)
	ends, err := endOffsets(ctx, r.cluster.Brokers, topics.DefaultNames.Events)
	if err != nil {
		return nil, err
	}
	for wait := time.Now().Add(foldWaitMax); !r.fold.caughtUp(ends); time.Sleep(time.Second) {
		if time.Now().After(wait) {
			r.v.add(invAPICheck, "the events topic could not be read to its end %v", ends)
			break
		}
	}
	m, err := readReadModel(ctx, r.db)
	if err != nil {
		return nil, err
	}
	m.checkInventory(r.v)
	diffs, _ := m.compare(r.fold)
	for _, d := range diffs {
		r.v.add(invPGEqualsLog, "%s", d)
	}
	stateRecords, err := checkState(ctx, r.cluster.Brokers, topics.DefaultNames, r.fold, r.v)
	if err != nil {
		r.v.add(invAPICheck, "read the state topic: %v", err)
	}
	confirms, err := checkLogTime(ctx, r.cluster.Brokers, topics.DefaultNames, r.fold, r.v)
	if err != nil {
		r.v.add(invAPICheck, "read the commands topic: %v", err)
	}
	r.checkFold(acc)
	r.logf("checked the read model, %d state records, %d confirms' times", stateRecords, confirms)
	return r.report(acc, results), nil
}

// checkAnswers asks the API for the result of every accepted request and counts
// them by status.
func (r *run) checkAnswers(ctx context.Context, acc []accepted) map[string]int {
	var mu sync.Mutex
	counts := map[string]int{}
	work := make(chan int)
	var wg sync.WaitGroup
	for range checkParallel {
		wg.Go(func() {
			for i := range work {
				s := r.answer(ctx, acc[i])
				mu.Lock()
				counts[s]++
				acc[i].answer = s
				mu.Unlock()
			}
		})
	}
	for i := range acc {
		work <- i
	}
	close(work)
	wg.Wait()
	return counts
}

// answer returns a request's status from GET /requests/{id}, recording a violation
// unless it is terminal.
func (r *run) answer(ctx context.Context, a accepted) string {
	var status int
	var raw []byte
	var err error
	for range 3 {
		if status, raw, err = httpGetBody(ctx, r.apiURL+"/requests/"+a.id.String()); err == nil {
			break
		}
	}
	var body struct {
		Status string `json:"status"`
	}
	if err != nil || status != http.StatusOK || json.Unmarshal(raw, &body) != nil {
		r.v.add(invTerminal, "%s %s (key %q): %d %s %v", a.kind, a.id, a.key, status, raw, err)
		return fmt.Sprintf("http %d", status)
	}
	if body.Status != "succeeded" && body.Status != "rejected" {
		r.v.add(invTerminal, "%s %s (key %q): %s", a.kind, a.id, a.key, body.Status)
	}
	return body.Status
}

// checkFold checks that every accepted request was decided on the events topic.
func (r *run) checkFold(acc []accepted) {
	r.fold.mu.Lock()
	defer r.fold.mu.Unlock()
	for _, a := range acc {
		d, ok := r.fold.decisions[a.id]
		switch {
		case !ok:
			r.v.add(invInFold, "%s %s (key %q, zone %s) not decided", a.kind, a.id, a.key, a.zone)
		case (a.answer == "succeeded" || a.answer == "rejected") && (a.answer == "rejected") != d.rejected:
			r.v.add(invInFold, "%s %s: answered %s, decided %s %s", a.kind, a.id, a.answer, d.evType, d.reason)
		}
	}
}
