package sink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestCollapseQueue proves how a room's outcomes collapse: one room row with the
// newest config and progress, one entry per queue id that only moves forward, a
// request row for the join, no zone row for outcomes keyed by event, and a rejected
// join (no zone) recorded as a request only.
func TestCollapseQueue(t *testing.T) {
	event, q1, q2 := uuid.New(), uuid.New(), uuid.New()
	outcomes := queueStory(event, q1, q2)
	for _, e := range outcomes {
		if err := check(e); err != nil {
			t.Fatalf("check(%s): %v", e.Type, err)
		}
	}
	p := collapse(outcomes)
	if len(p.zones.id)+len(p.invs.id) != 0 {
		t.Errorf("zones %d, inventories %d; want none from outcomes keyed by event", len(p.zones.id), len(p.invs.id))
	}
	if len(p.requests.id) != 4 {
		t.Errorf("requests %d, want 4 (configure, two joins, a rejected join)", len(p.requests.id))
	}
	if typ := p.requests.typ[1]; typ != string(topics.CmdJoinQueue) {
		t.Errorf("join recorded as %q", typ)
	}
	r := p.queue.rooms[event]
	if r == nil || r.config == nil || r.status != "sold_out" || r.progress.AdmittedThrough != 1 || r.opened.Seed != "ab" {
		t.Fatalf("room %+v", r)
	}
	if len(p.queue.entOrder) != 2 {
		t.Fatalf("entries %d, want 2", len(p.queue.entOrder))
	}
	e1, e2 := p.queue.entries[q1], p.queue.entries[q2]
	if e1.status != entryWaiting || e1.entry.Position != 2 || !e1.positions {
		t.Errorf("entry 1 %+v, want waiting at 2", e1)
	}
	if e2.status != entryAdmitted || e2.admission == nil || e2.entry.Position != 1 {
		t.Errorf("entry 2 %+v, want admitted at 1", e2)
	}
}

// TestCheckQueue proves that queue outcomes missing what the read model needs are
// dead letters, not halts.
func TestCheckQueue(t *testing.T) {
	bad := []*topics.Outcome{
		{Type: topics.OutQueueJoined, Time: time.Now()},
		{Type: topics.OutQueueJoined, Time: time.Now(), EventID: uuid.New()},
		{Type: topics.OutQueueAdmitted, Time: time.Now(), EventID: uuid.New(), Entry: &topics.QueueEntry{QueueID: uuid.New()}},
		{Type: topics.OutQueueConfigured, Time: time.Now(), EventID: uuid.New()},
		{Type: topics.OutQueueJoined, Time: time.Now(), EventID: uuid.New(),
			Entry: &topics.QueueEntry{QueueID: uuid.New(), CustomerID: "a\x00b"}},
		{Type: topics.OutRequestRejected, Time: time.Now(), RequestID: uuid.New(),
			Rejection: &topics.Rejection{Reason: topics.ReasonQueueNotFound}},
	}
	for i, e := range bad {
		if check(e) == nil {
			t.Errorf("outcome %d (%s) passed check", i, e.Type)
		}
	}
}

// queueStory is a room's life: configured, two joins in the pre-queue, opened and
// shuffled (q2 first), q2 admitted, sold out, then a join rejected.
func queueStory(event, q1, q2 uuid.UUID) []*topics.Outcome {
	t0 := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	prog := func(through, waiting int64) *topics.QueueProgress {
		return &topics.QueueProgress{AdmittedThrough: through, Waiting: waiting, RatePerSecond: 2}
	}
	return []*topics.Outcome{
		{Type: topics.OutQueueConfigured, Time: at(0), EventID: event, RequestID: uuid.New(), CommandType: topics.CmdConfigureQueue,
			Queue: &topics.QueueConfig{Enabled: true, RatePerSecond: 2, Allowance: 4, Zones: []uuid.UUID{uuid.New()}}},
		{Type: topics.OutQueueJoined, Time: at(1), EventID: event, RequestID: q1, CommandType: topics.CmdJoinQueue,
			Entry: &topics.QueueEntry{QueueID: q1, CustomerID: "c1", JoinedAt: at(1), PreQueue: true}, Progress: prog(0, 1)},
		{Type: topics.OutQueueJoined, Time: at(2), EventID: event, RequestID: q2, CommandType: topics.CmdJoinQueue,
			Entry: &topics.QueueEntry{QueueID: q2, CustomerID: "c2", JoinedAt: at(2), PreQueue: true}, Progress: prog(0, 2)},
		{Type: topics.OutQueueOpened, Time: at(3), EventID: event, Progress: prog(0, 2),
			Opened: &topics.QueueOpened{Seed: "ab", PreQueueSize: 2, StartedAt: at(3)}},
		{Type: topics.OutQueuePositioned, Time: at(3), EventID: event,
			Entry: &topics.QueueEntry{QueueID: q1, CustomerID: "c1", JoinedAt: at(1), PreQueue: true, Position: 2}},
		{Type: topics.OutQueuePositioned, Time: at(3), EventID: event,
			Entry: &topics.QueueEntry{QueueID: q2, CustomerID: "c2", JoinedAt: at(2), PreQueue: true, Position: 1}},
		{Type: topics.OutQueueAdmitted, Time: at(4), EventID: event, Progress: prog(1, 1),
			Entry:     &topics.QueueEntry{QueueID: q2, CustomerID: "c2", JoinedAt: at(2), PreQueue: true, Position: 1},
			Admission: &topics.QueueAdmission{AdmittedAt: at(4), ExpiresAt: at(600), Allowance: 4}},
		{Type: topics.OutQueueSoldOut, Time: at(5), EventID: event, Progress: prog(1, 1)},
		{Type: topics.OutRequestRejected, Time: at(6), EventID: event, RequestID: uuid.New(), CommandType: topics.CmdJoinQueue,
			Rejection: &topics.Rejection{Reason: topics.ReasonQueueNotOpen, Message: "closed"}},
	}
}

// TestQueueRowsOnPostgres proves the queue's rows in Postgres: the same outcomes
// give the same rows whether applied one batch each or in one batch, and applying
// them again changes nothing.
func TestQueueRowsOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postgres; skipped under -short")
	}
	pool := testenv.Pool(t)
	s, err := New(Config{Brokers: []string{"localhost:1"}, Topics: topics.NamesWithPrefix("queue-rows-"), Group: "g"}, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type rows struct {
		room    string
		entries []string
	}
	read := func(event uuid.UUID) rows {
		var r rows
		if err := pool.QueryRow(ctx, `SELECT format('%s %s through=%s waiting=%s seed=%s pre=%s zones=%s',
			enabled, status, admitted_through, waiting, seed, pre_queue_size, cardinality(zone_ids))
			FROM waiting_rooms WHERE event_id = $1`, event).Scan(&r.room); err != nil {
			t.Fatal(err)
		}
		res, err := pool.Query(ctx, `SELECT format('%s %s pos=%s pre=%s allowance=%s', customer_id, status, position,
			pre_queue, allowance) FROM queue_entries WHERE event_id = $1 ORDER BY customer_id`, event)
		if err != nil {
			t.Fatal(err)
		}
		for res.Next() {
			var e string
			if err := res.Scan(&e); err != nil {
				t.Fatal(err)
			}
			r.entries = append(r.entries, e)
		}
		return r
	}
	var got []rows
	for part, oneByOne := range []bool{true, false} {
		event := uuid.New()
		var batch []Record
		for i, e := range queueStory(event, uuid.New(), uuid.New()) {
			batch = append(batch, Record{Partition: int32(part), Offset: int64(i), Event: e})
		}
		if oneByOne {
			for _, r := range batch {
				if err := s.ApplyBatch(ctx, []Record{r}); err != nil {
					t.Fatal(err)
				}
			}
		} else if err := s.ApplyBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyBatch(ctx, batch); err != nil { // again: skipped
			t.Fatal(err)
		}
		got = append(got, read(event))
	}
	want := rows{room: "t sold_out through=1 waiting=1 seed=ab pre=2 zones=1",
		entries: []string{"c1 waiting pos=2 pre=t allowance=", "c2 admitted pos=1 pre=t allowance=4"}}
	for i, g := range got {
		if g.room != want.room || strings.Join(g.entries, "; ") != strings.Join(want.entries, "; ") {
			t.Errorf("applied %s:\n got %+v\nwant %+v", []string{"one by one", "in one batch"}[i], g, want)
		}
	}
}
