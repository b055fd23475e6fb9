package queue_test

import (
	"cmp"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

var (
	tEvent = uuid.MustParse("0195d1c0-0000-7000-8000-00000000e001")
	tZone  = uuid.MustParse("0195d1c0-0000-7000-8000-00000000a001")
	t0     = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
)

// idOf is a deterministic id for the i-th request of a test.
func idOf(tag byte, i uint64) uuid.UUID {
	var u uuid.UUID
	u[0] = tag
	binary.BigEndian.PutUint64(u[8:], i)
	u[6], u[8] = 0x70|u[6]&0x0f, 0x80|u[8]&0x3f
	return u
}

func command(typ topics.CommandType, req uuid.UUID) *topics.Command {
	return &topics.Command{Version: topics.SchemaVersion, Type: typ, RequestID: req, EventID: tEvent, SubmittedAt: t0}
}

func configureCmd(req uuid.UUID, q topics.ConfigureQueue) *topics.Command {
	c := command(topics.CmdConfigureQueue, req)
	c.Queue = &q
	return c
}

func joinCmd(req uuid.UUID, customer string) *topics.Command {
	c := command(topics.CmdJoinQueue, req)
	c.Join = &topics.JoinQueue{CustomerID: customer}
	return c
}

func holdCmd(req, queueID uuid.UUID, customer, key string, qty int64) *topics.Command {
	c := command(topics.CmdPlaceHold, req)
	c.ZoneID, c.IdempotencyKey = tZone, key
	c.Place = &topics.PlaceHold{Quantity: qty, CustomerID: customer, Admission: &topics.AdmissionRef{QueueID: queueID}}
	return c
}

func creditCmd(req, queueID, hold uuid.UUID, qty int64) *topics.Command {
	c := command(topics.CmdCreditAdmission, req)
	c.Credit = &topics.CreditAdmission{QueueID: queueID, Quantity: qty, HoldID: hold}
	return c
}

func stockCmd(req uuid.UUID, available, held int64) *topics.Command {
	c := command(topics.CmdZoneStock, req)
	c.Stock = &topics.ZoneStock{ZoneID: tZone, Available: available, Held: held}
	return c
}

// changelog is a compacted changelog in memory: the newest value per key, in the
// order of their last writes, as a reader of the compacted topic sees it.
type changelog struct {
	seq  uint64
	recs map[string]clRec
}

type clRec struct {
	seq   uint64
	value []byte
}

func newChangelog() *changelog { return &changelog{recs: map[string]clRec{}} }

func (c *changelog) drain(s *queue.State) {
	s.DrainChanges(func(k, v []byte) {
		c.seq++
		var val []byte
		if v != nil {
			val = append([]byte{}, v...)
		}
		c.recs[string(k)] = clRec{seq: c.seq, value: val}
	})
}

// restore rebuilds a state from the changelog, tombstones included (compaction may
// or may not have removed them).
func (c *changelog) restore(t *testing.T, cfg queue.Config) *queue.State {
	t.Helper()
	type kv struct {
		k string
		r clRec
	}
	all := make([]kv, 0, len(c.recs))
	for k, r := range c.recs {
		all = append(all, kv{k, r})
	}
	sortBy(all, func(a kv) uint64 { return a.r.seq })
	s := queue.NewState(cfg)
	for _, e := range all {
		if err := s.Rebuild([]byte(e.k), e.r.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRebuild(); err != nil {
		t.Fatal(err)
	}
	return s
}

func sortBy[T any](s []T, key func(T) uint64) {
	slices.SortFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}
