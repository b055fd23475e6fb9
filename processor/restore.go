package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/backoff"
	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
)

// Bounds on restoring: how long to wait between looks at a previous owner's open
// transaction, how long one poll of the changelog may wait, how much one fetch
// reads, how many partitions restore at once, and the backoff after a failure.
const (
	restorePollWait       = 100 * time.Millisecond
	restoreFetchWaitMax   = 5 * time.Second
	restoreFetchMax       = 16 << 20
	restoresConcurrentMax = 4
	restoreBackoffMin     = time.Second
	restoreBackoffMax     = 30 * time.Second
	// restoreQuietFailuresMax is how many failures in a row are logged as warnings
	// (a leader election after a broker restart) before they are errors.
	restoreQuietFailuresMax = 3
)

// ErrRestoreIncomplete is returned when the changelog could not be read up to the
// end offset measured before reading it, within RestoreTimeout.
type ErrRestoreIncomplete struct {
	Partition int32
	Next, End int64 // the next offset to read and the measured end
	Last      error // the last fetch error, if any
}

func (e *ErrRestoreIncomplete) Error() string {
	return fmt.Sprintf("restore of partition %d stopped at offset %d of %d (last fetch error: %v)", e.Partition, e.Next, e.End, e.Last)
}

// ErrStateMismatch is returned when a restored state reflects another command
// offset than the one the processor group committed for the partition: the state
// is not what the offsets say, and applying commands to it could oversell.
type ErrStateMismatch struct {
	Partition        int32
	Consumed         int64 // recorded in the state; -1 if none
	Committed        int64 // the group's committed offset; -1 if none
	ChangelogRecords int
}

func (e *ErrStateMismatch) Error() string {
	return fmt.Sprintf("partition %d: state reflects command offset %d, group committed %d (%d changelog records)",
		e.Partition, e.Consumed, e.Committed, e.ChangelogRecords)
}

// restoreTry is the restore of one partition: running, or failed and waiting.
type restoreTry struct {
	gen     uint64
	running bool
	fails   int
	next    time.Time // local clock: when to try again
}

type restoreResult struct {
	part  int32
	gen   uint64
	state *restored
	n     int
	took  time.Duration
	err   error
}

// reconcile drops the states of partitions no longer owned, installs finished
// restores, and starts the restores of owned partitions without a state. Restores
// run beside the loop, so a slow or failing partition holds back only itself.
func (p *Processor) reconcile(ctx context.Context) {
	owned := p.ownedNow()
	for id, part := range p.parts {
		if g, ok := owned[id]; !ok || g != part.gen {
			delete(p.parts, id)
			p.m.forget(id)
		}
	}
	for id, h := range p.heldBack {
		if g, ok := owned[id]; !ok || g != h.gen {
			delete(p.heldBack, id)
		}
	}
	p.m.partitions.Set(float64(len(owned)))
	p.collectRestores(owned)
	unrestored := 0
	for id := range owned {
		if _, ok := p.parts[id]; !ok {
			unrestored++
		}
	}
	p.m.unrestored.Set(float64(unrestored))
	running := 0
	for _, r := range p.restoring {
		if r.running {
			running++
		}
	}
	now := p.cfg.Now()
	for id, gen := range owned {
		if _, ok := p.parts[id]; ok {
			continue
		}
		r, ok := p.restoring[id]
		if ok && r.gen != gen && !r.running {
			r, ok = nil, false // an older assignment's failures do not delay this one
		}
		if ok && (r.running || now.Before(r.next)) || running >= restoresConcurrentMax {
			continue
		}
		if !ok {
			r = &restoreTry{}
			p.restoring[id] = r
		}
		r.gen, r.running = gen, true
		running++
		go func() {
			start := time.Now()
			st, n, err := p.restore(ctx, id)
			p.restored <- restoreResult{part: id, gen: gen, state: st, n: n, took: time.Since(start), err: err}
		}()
	}
}

// collectRestores installs the restores that finished, if their partition is still
// owned under the same assignment, and schedules a retry for the failed ones.
func (p *Processor) collectRestores(owned map[int32]uint64) {
	for {
		var res restoreResult
		select {
		case res = <-p.restored:
		default:
			return
		}
		r := p.restoring[res.part]
		if r == nil {
			continue
		}
		r.running = false
		if owned[res.part] != res.gen || r.gen != res.gen {
			continue // revoked or reassigned meanwhile: restore again if owned
		}
		if res.err != nil {
			r.fails++
			wait := backoff.Exp(r.fails-1, restoreBackoffMin, restoreBackoffMax)
			r.next = p.cfg.Now().Add(wait)
			reason := "error"
			var mm *ErrStateMismatch
			if errors.As(res.err, &mm) {
				reason = "offset_mismatch"
			}
			p.m.restoreFailures.WithLabelValues(reason).Inc()
			level := slog.LevelWarn
			if mm != nil || r.fails > restoreQuietFailuresMax {
				level = slog.LevelError // a wrong state, or more than a broker settling
			}
			p.log.Log(context.Background(), level, "restore failed; retrying", "partition", res.part, "err", res.err, "failures", r.fails, "retry_in", wait)
			continue
		}
		delete(p.restoring, res.part)
		p.install(res)
	}
}

// install makes a restored state the partition's state and lets its commands flow
// (fetching was paused if records came before the state).
func (p *Processor) install(res restoreResult) {
	p.m.restoreSeconds.Observe(res.took.Seconds())
	p.log.Info("partition restored", "partition", res.part, "records", res.n, "took", res.took.Round(time.Millisecond), "stats", res.state.Stats())
	now := p.cfg.Now()
	p.parts[res.part] = &partition{id: res.part, gen: res.gen, state: res.state.State, queue: res.state.queue, lastHousekp: now}
	delete(p.heldBack, res.part)
	p.sess.Client().ResumeFetchPartitions(map[string][]int32{p.cfg.Topics.Commands: {res.part}})
}

// restore rebuilds a partition's state from the compacted changelog: every
// committed record up to the end offset measured first, newest per key winning.
// It first waits until no transaction is open on the partition (last stable offset
// == high watermark), so a previous owner's in-flight transaction is either in the
// state or aborted. Then it checks the state against the group's committed offset.
func (p *Processor) restore(ctx context.Context, part int32) (*restored, int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RestoreTimeout)
	defer cancel()
	start, end, err := p.changelogRange(ctx, part)
	if err != nil {
		return nil, 0, err
	}
	st := &restored{State: zone.NewState(p.cfg.State), queue: queue.NewState(p.cfg.Queue)}
	n := 0
	if end > start {
		if n, err = p.readChangelog(ctx, st, part, start, end); err != nil {
			return nil, n, err
		}
	}
	if err := st.FinishRebuild(); err != nil {
		return nil, n, err
	}
	if err := st.queue.FinishRebuild(); err != nil {
		return nil, n, err
	}
	return st, n, p.checkConsumed(ctx, st.State, part, n)
}

// restored is a partition's states as rebuilt from its changelog: its zones (the
// embedded state) and its events' waiting rooms.
type restored struct {
	*zone.State
	queue *queue.State
}

// changelogRange returns the partition's first offset and its end, once no
// transaction is open on it.
func (p *Processor) changelogRange(ctx context.Context, part int32) (start, end int64, err error) {
	topic := p.cfg.Topics.State
	for {
		ends, err := p.adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return 0, 0, err
		}
		stables, err := p.adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return 0, 0, err
		}
		starts, err := p.adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return 0, 0, err
		}
		e, ok1 := ends.Lookup(topic, part)
		s, ok2 := stables.Lookup(topic, part)
		b, ok3 := starts.Lookup(topic, part)
		if !ok1 || !ok2 || !ok3 || e.Err != nil || s.Err != nil || b.Err != nil {
			return 0, 0, fmt.Errorf("list offsets of %s/%d failed", topic, part)
		}
		if e.Offset == s.Offset {
			return b.Offset, e.Offset, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("an open transaction on %s/%d did not end: %w", topic, part, ctx.Err())
		case <-time.After(restorePollWait):
		}
	}
}

// readChangelog restores every record of [start, end).
func (p *Processor) readChangelog(ctx context.Context, st *restored, part int32, start, end int64) (int, error) {
	n := 0
	err := p.readRange(ctx, p.cfg.Topics.State, part, start, end, kgo.ReadCommitted(), func(r *kgo.Record) error {
		n++
		if queue.IsRecord(r.Key) {
			return st.queue.Rebuild(r.Key, r.Value)
		}
		return st.Rebuild(r.Key, r.Value)
	})
	return n, err
}

// readRange calls fn for every data record of [start, end) of one partition that
// iso lets through, in order. It stops only when it has seen offset end-1 (the last
// record before the end is in the active segment, which compaction never touches,
// and a transaction marker is kept, so it is always there to be seen): an empty or
// failed fetch means a slow or failing broker, not the end, and is polled again
// until ctx (RestoreTimeout) is done.
func (p *Processor) readRange(ctx context.Context, topic string, part int32, start, end int64, iso kgo.IsolationLevel, fn func(*kgo.Record) error) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(start)}}),
		kgo.FetchIsolationLevel(iso),
		// Control records (transaction markers) are kept: the last offset before the
		// end is usually a commit marker, and reaching it is how the end is seen.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(restoreFetchMax),
		kgo.FetchMaxPartitionBytes(restoreFetchMax),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	next := start
	var lastErr error
	for next < end {
		pollCtx, cancelPoll := context.WithTimeout(ctx, restoreFetchWaitMax)
		fetches := p.restorePoll(pollCtx, cl)
		cancelPoll()
		if ctx.Err() != nil {
			return &ErrRestoreIncomplete{Partition: part, Next: next, End: end, Last: lastErr}
		}
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				lastErr = err
			}
		})
		var rerr error
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset < next || r.Offset >= end || rerr != nil {
				return
			}
			next = r.Offset + 1
			if !r.Attrs.IsControl() {
				rerr = fn(r)
			}
		})
		if rerr != nil {
			return rerr
		}
	}
	return nil
}

// checkConsumed compares the command offset the state reflects with the offset
// the processor group committed for the partition: both are written in the same
// transactions, so they differ only if the state is not the one the offsets say.
// A state that records no offset (an empty changelog, or one written before the
// state recorded it) is accepted unless the group has consumed commands while the
// changelog is empty.
func (p *Processor) checkConsumed(ctx context.Context, st *zone.State, part int32, n int) error {
	offs, err := p.adm.FetchOffsets(kadm.RequireStable(ctx), p.cfg.Group)
	if err != nil {
		return fmt.Errorf("fetch committed offsets of %s: %w", p.cfg.Group, err)
	}
	committed := int64(-1)
	if o, ok := offs.Lookup(p.cfg.Topics.Commands, part); ok {
		if o.Err != nil {
			return fmt.Errorf("fetch committed offsets of %s: %w", p.cfg.Group, o.Err)
		}
		committed = o.At
	}
	consumed, ok := st.Consumed()
	switch {
	case ok && consumed < committed:
		// The group's position moves past a transaction marker that follows the
		// last command applied (the markers of the processor's own ticks, for
		// one), which the state never sees. Only commands would make it stale.
		stale, err := p.commandsBetween(ctx, part, consumed, committed)
		if err != nil {
			return err
		}
		if !stale {
			return nil
		}
	case ok && consumed != committed:
	case !ok && n == 0 && committed > 0:
		consumed = -1
	default:
		return nil
	}
	return &ErrStateMismatch{Partition: part, Consumed: consumed, Committed: committed, ChangelogRecords: n}
}

// commandsBetween reports whether [from, to) of the commands partition holds a
// committed command: a record other than a transaction marker or a tick.
func (p *Processor) commandsBetween(ctx context.Context, part int32, from, to int64) (bool, error) {
	ends, err := p.adm.ListEndOffsets(ctx, p.cfg.Topics.Commands)
	if err != nil {
		return false, err
	}
	if e, ok := ends.Lookup(p.cfg.Topics.Commands, part); !ok || e.Err != nil || e.Offset < to {
		return true, nil // offsets past the partition's end: nothing to vouch for them
	}
	found := false
	// Read uncommitted: a transaction another instance left open on the partition
	// (its ticks) must not stall the check until it times out; commands are never
	// transactional, so every data record but a tick is a command.
	err = p.readRange(ctx, p.cfg.Topics.Commands, part, from, to, kgo.ReadUncommitted(), func(r *kgo.Record) error {
		found = found || !isTick(r)
		return nil
	})
	return found, err
}
