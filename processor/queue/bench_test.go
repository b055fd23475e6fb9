package queue_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// BenchmarkJoin measures one join to a started room with a long line, its
// admission at a high rate, and the changelog drain every 100 joins.
func BenchmarkJoin(b *testing.B) {
	s := queue.NewState(queue.DefaultConfig())
	s.Apply(nil, nil, configureCmd(idOf('c', 0), topics.ConfigureQueue{Enabled: true, OpensAt: t0, StartsAt: t0,
		RatePerSecond: topics.QueueRateMax, ShopSeconds: 10}), t0)
	cmds := make([]*topics.Command, b.N)
	for i := range cmds {
		cmds[i] = joinCmd(idOf('j', uint64(i)), fmt.Sprint("buyer-", i))
	}
	var out []topics.Outcome
	b.ReportAllocs()
	b.ResetTimer()
	for i, c := range cmds {
		out, _ = s.Apply(out[:0], nil, c, t0.Add(time.Duration(i)*time.Microsecond))
		if i%100 == 99 {
			s.DrainChanges(func(_, _ []byte) {})
		}
	}
}
