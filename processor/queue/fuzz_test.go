package queue_test

import (
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// FuzzRebuildRecord proves that no changelog record, however corrupt, makes Rebuild
// or FinishRebuild panic: a bad record is an error. The seeds are every record of a
// short session (a room, joins, a start, admissions, a debit).
func FuzzRebuildRecord(f *testing.F) {
	b := &bench{t: &testing.T{}, s: queue.NewState(queue.DefaultConfig()), now: t0}
	log := newChangelog()
	b.s.Apply(nil, nil, configureCmd(b.next('c'), topics.ConfigureQueue{Enabled: true, OpensAt: t0,
		StartsAt: t0.Add(time.Second), RatePerSecond: 2}), b.now)
	for _, c := range []string{"a", "b", "c"} {
		b.s.Apply(nil, nil, joinCmd(b.next('j'), c), b.now)
	}
	log.drain(b.s)
	out := b.s.Advance(nil, t0.Add(2*time.Second))
	for _, o := range out {
		if o.Type == topics.OutQueueAdmitted {
			b.s.Apply(nil, nil, holdCmd(b.next('h'), o.Entry.QueueID, o.Entry.CustomerID, "k", 1), t0.Add(2*time.Second))
		}
	}
	log.drain(b.s)
	for k, r := range log.recs {
		f.Add([]byte(k), r.value)
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		s := queue.NewState(queue.DefaultConfig())
		if err := s.Rebuild(key, value); err != nil {
			return
		}
		_ = s.FinishRebuild()
		s.Advance(nil, t0.Add(time.Hour))
	})
}
