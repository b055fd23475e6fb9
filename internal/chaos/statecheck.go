package chaos

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Invariants checked on the processors' state.
const (
	invStateRestores  = "the committed processor state restores and passes its Check (available+held+sold == capacity, ...)"
	invStateEqualsLog = "the processor state's zones equal the fold of the events topic"
	invLogTime        = "a confirm is judged at its command's append time"
)

// readTopicTimeout bounds reading a whole topic at the end of the run.
const readTopicTimeout = 2 * time.Minute

// readTopic reads every record of topic up to its current end, committed ones only
// when committed is set, partition by partition in log order.
func readTopic(ctx context.Context, brokers []string, topic string, committed bool) (map[int32][]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, readTopicTimeout)
	defer cancel()
	want, err := endOffsets(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords(),
	}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := map[int32][]*kgo.Record{}
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range want {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("read %s: reached %v of %v: %w", topic, next, want, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				out[r.Partition] = append(out[r.Partition], r)
			}
		})
	}
	return out, nil
}

// checkState restores every partition's state from the committed changelog, in log
// order as the processor does, runs its Check, and compares its zones with the fold.
func checkState(ctx context.Context, brokers []string, names topics.Names, f *fold, v *violations) (int, error) {
	parts, err := readTopic(ctx, brokers, names.State, true)
	if err != nil {
		return 0, err
	}
	n := 0
	zones := map[uuid.UUID]topics.Inventory{}
	for p, recs := range parts {
		n += len(recs)
		restorePartition(p, recs, v)
		latestZones(recs, zones)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, z := range f.zones {
		s, ok := zones[id]
		if !ok || s != z.inv {
			v.add(invStateEqualsLog, "zone %s: state %+v (present %v), events %+v", id, s, ok, z.inv)
		}
	}
	for id, s := range zones {
		if s.Available+s.Held+s.Sold != s.Capacity || s.Available < 0 || s.Held < 0 || s.Sold < 0 {
			v.add(invStateRestores, "zone %s in the state: %+v", id, s)
		}
	}
	return n, nil
}

// restorePartition feeds a partition's records to a new State, recovering a panic
// as a violation.
func restorePartition(p int32, recs []*kgo.Record, v *violations) {
	defer func() {
		if r := recover(); r != nil {
			v.add(invStateRestores, "partition %d: restore panicked: %v", p, r)
		}
	}()
	st := zone.NewState(zone.DefaultConfig())
	rooms := queue.NewState(queue.DefaultConfig())
	for _, r := range recs {
		rebuild := st.Rebuild
		if queue.IsRecord(r.Key) { // the waiting rooms' records share the changelog
			rebuild = rooms.Rebuild
		}
		if err := rebuild(r.Key, r.Value); err != nil {
			v.add(invStateRestores, "partition %d offset %d: %v", p, r.Offset, err)
			return
		}
	}
	if err := st.FinishRebuild(); err != nil {
		v.add(invStateRestores, "partition %d: finish restore: %v", p, err)
		return
	}
	if err := st.Check(); err != nil {
		v.add(invStateRestores, "partition %d: %v", p, err)
	}
	if err := rooms.FinishRebuild(); err != nil {
		v.add(invStateRestores, "partition %d: finish the waiting rooms' restore: %v", p, err)
		return
	}
	if err := rooms.Check(); err != nil {
		v.add(invStateRestores, "partition %d: waiting rooms: %v", p, err)
	}
}

// zoneRecord is the changelog's key prefix of a zone.
const zoneRecord = 'z'

// latestZones decodes the newest zone records: version byte, event id, then
// varints capacity, held, sold (the changelog's format, see processor/zone/changelog.go).
func latestZones(recs []*kgo.Record, into map[uuid.UUID]topics.Inventory) {
	for _, r := range recs {
		if len(r.Key) != 17 || r.Key[0] != zoneRecord {
			continue
		}
		id := uuid.UUID(r.Key[1:])
		if r.Value == nil {
			delete(into, id)
			continue
		}
		b := r.Value
		if len(b) < 17 {
			continue
		}
		b = b[17:]
		var vals [3]int64
		for i := range vals {
			x, n := binary.Varint(b)
			if n <= 0 {
				return
			}
			vals[i], b = x, b[n:]
		}
		into[id] = topics.Inventory{Capacity: vals[0], Held: vals[1], Sold: vals[2], Available: vals[0] - vals[1] - vals[2]}
	}
}

// Margins of the log-time check. With the broker's append time a confirm can still
// meet a partition clock that wall time advanced a moment before the confirm was
// fetched; with the producer's timestamps the append may come later than the stamp.
const (
	logAppendTimeMargin = 500 * time.Millisecond
	createTimeMargin    = time.Second
)

// checkLogTime checks that every confirm was judged at its command's append time:
// confirmed only if appended before its hold's expires_at, rejected hold_expired only
// if appended at or after it.
func checkLogTime(ctx context.Context, brokers []string, names topics.Names, f *fold, v *violations) (int, error) {
	parts, err := readTopic(ctx, brokers, names.Commands, false)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, recs := range parts {
		for _, r := range recs {
			cmd, err := topics.DecodeCommand(r.Key, r.Value)
			if err != nil || cmd.Type != topics.CmdConfirmHold || cmd.Confirm == nil {
				continue
			}
			d, ok := f.decisions[cmd.RequestID]
			h := f.holds[cmd.Confirm.HoldID]
			if !ok || h == nil {
				continue
			}
			n++
			margin := createTimeMargin
			if r.Attrs.TimestampType() == 1 { // LogAppendTime: the broker's own
				margin = logAppendTimeMargin
			}
			at := r.Timestamp
			switch {
			case d.evType == topics.OutHoldConfirmed && at.After(h.expiresAt.Add(margin)):
				v.add(invLogTime, "confirm %s appended %s after hold %s expired, confirmed", cmd.RequestID, at.Sub(h.expiresAt), cmd.Confirm.HoldID)
			case d.reason == topics.ReasonHoldExpired && at.Before(h.expiresAt.Add(-margin)):
				v.add(invLogTime, "confirm %s appended %s before hold %s expired, rejected hold_expired", cmd.RequestID, h.expiresAt.Sub(at), cmd.Confirm.HoldID)
			}
		}
	}
	return n, nil
}
