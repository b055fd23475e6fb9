package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds on restoring: how long to wait for a previous owner's open transaction to end,
// and how long a read may stay idle before the partition is taken as fully read.
const (
	restorePollWait = 100 * time.Millisecond
	restoreIdleMax  = 10 * time.Second
	restoreFetchMax = 16 << 20
)

// restore rebuilds a partition's state from the compacted changelog: every committed
// record up to the end of the partition, newest per key winning. It first waits until
// no transaction is open on the partition (last stable offset == high watermark), so
// a previous owner's in-flight transaction is either in the state or aborted.
func (p *Processor) restore(ctx context.Context, part int32) (*State, int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RestoreTimeout)
	defer cancel()
	topic := p.cfg.Topics.State
	var start, end int64
	for {
		ends, err := p.adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return nil, 0, err
		}
		stables, err := p.adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return nil, 0, err
		}
		starts, err := p.adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return nil, 0, err
		}
		e, ok1 := ends.Lookup(topic, part)
		s, ok2 := stables.Lookup(topic, part)
		b, ok3 := starts.Lookup(topic, part)
		if !ok1 || !ok2 || !ok3 || e.Err != nil || s.Err != nil || b.Err != nil {
			return nil, 0, fmt.Errorf("list offsets of %s/%d failed", topic, part)
		}
		if e.Offset == s.Offset {
			start, end = b.Offset, e.Offset
			break
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("an open transaction on %s/%d did not end: %w", topic, part, ctx.Err())
		case <-time.After(restorePollWait):
		}
	}
	st := NewState(p.cfg.State)
	if end <= start {
		return st, 0, st.FinishRestore()
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) are kept so that reaching the
		// partition's last offset, usually a commit marker, is seen.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(restoreFetchMax),
		kgo.FetchMaxPartitionBytes(restoreFetchMax),
	)
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	n := 0
	for {
		pollCtx, cancelPoll := context.WithTimeout(ctx, restoreIdleMax)
		fetches := cl.PollFetches(pollCtx)
		cancelPoll()
		if ctx.Err() != nil {
			return nil, n, ctx.Err()
		}
		if fetches.Empty() {
			// Compaction can remove the last transaction marker; with nothing more to
			// read for a while, everything up to the end has been seen.
			break
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && err != context.DeadlineExceeded {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, n, ferr
		}
		done := false
		var rerr error
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end-1 {
				done = true
			}
			if r.Offset >= end || r.Attrs.IsControl() || rerr != nil {
				return
			}
			rerr = st.Restore(r.Key, r.Value)
			n++
		})
		if rerr != nil {
			return nil, n, rerr
		}
		if done {
			break
		}
	}
	return st, n, st.FinishRestore()
}
