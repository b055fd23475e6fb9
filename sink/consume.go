package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/ultimate-ticket/ultimate-ticket/internal/drain"
	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/internal/tracing"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Run consumes the events topic and applies it batch by batch until ctx is done;
// it returns nil then, once the batch gathered is applied and committed (within
// Config.StopTimeout) and the group left. It returns an error when a batch still
// fails after Config.ApplyRetriesMax retries, or its dead letters cannot be
// produced: the batch is not applied, and whoever runs the sink next resumes
// from Postgres.
//
// One goroutine polls, applies and polls again. Rebalances are blocked while a
// batch is in flight (BlockRebalanceOnPoll), so a batch never straddles one; a
// revoked or lost partition needs no clean-up, since nothing in memory outlives a
// batch and the next owner starts from the offsets in Postgres.
func (s *Sink) Run(ctx context.Context) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.ConsumeTopics(s.cfg.Topics.Events),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(s.startOffsets),
		kgo.OnPartitionsRevoked(s.dropPartitions),
		kgo.OnPartitionsLost(s.dropPartitions),
		kgo.RecordDeliveryTimeout(s.cfg.DeadLetterWait),
	}
	if s.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.InstanceID))
	}
	if hooks := s.cfg.Tracing.KafkaHooks(s.cfg.Group); len(hooks) > 0 {
		opts = append(opts, kgo.WithHooks(hooks...))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink: kafka client: %w", err)
	}
	defer s.leave(cl)
	dead := func(ctx context.Context, r Record, reason string) error {
		return s.deadLetterOne(ctx, cl, r, reason)
	}
	// A batch gathered is applied even when the stop arrives meanwhile, under
	// work, which outlives ctx by StopTimeout at most: what was applied is
	// committed, to Postgres and to the group, before the sink leaves.
	work, cancel := drain.Outlive(ctx, s.cfg.StopTimeout)
	defer cancel()
	for {
		b, err := s.gather(ctx, cl)
		stopping := ctx.Err() != nil
		if err != nil && !stopping {
			return err
		}
		if stopping && len(b.records) == 0 {
			return nil
		}
		if err := s.deadLetter(work, cl, b.dead); err != nil {
			if work.Err() != nil {
				return nil // stopped for good; the next owner resumes from Postgres
			}
			return err
		}
		applying := time.Now()
		if err := s.applyShares(work, b.records, dead); err != nil {
			if work.Err() != nil {
				return nil
			}
			return err
		}
		s.written(ctx, b.records, applying)
		if s.afterCommit != nil {
			if err := s.afterCommit(); err != nil {
				return err
			}
		}
		for p, hw := range b.highWatermarks {
			s.metrics.lag.WithLabelValues(partitionLabel(p)).Set(float64(max(hw-b.next[p], 0)))
		}
		s.commitToKafka(ctx, cl)
		if stopping {
			s.cfg.Logger.Info("sink: stopped after its last batch", "records", len(b.records))
			return nil
		}
		cl.AllowRebalance()
	}
}

// written ends the trace of each record of a committed batch with a write span
// (from applying, when the batch's transaction began, to now), and writes its
// debug line with the request id it carries. It costs nothing when tracing is
// off and the level is above debug.
func (s *Sink) written(ctx context.Context, recs []Record, applying time.Time) {
	debug := s.cfg.Logger.Enabled(ctx, slog.LevelDebug)
	if !debug && !s.cfg.Tracing.On() {
		return
	}
	for _, r := range recs {
		if r.raw == nil {
			continue
		}
		parent := r.raw.Context
		if parent == nil {
			parent = context.Background()
		}
		if s.cfg.Tracing.On() {
			_, span := s.cfg.Tracing.Start(parent, "sink write", trace.WithTimestamp(applying),
				trace.WithAttributes(attribute.Int("messaging.kafka.destination.partition", int(r.Partition)),
					attribute.Int64("messaging.kafka.message.offset", r.Offset)))
			span.End()
		}
		if debug && r.Event != nil {
			s.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "event written", slog.String("component", "sink"),
				slog.String("request_id", kafkarec.RequestID(r.raw)), slog.String("type", string(r.Event.Type)),
				slog.Int("partition", int(r.Partition)), slog.Int64("offset", r.Offset),
				slog.String("trace_id", tracing.TraceID(parent)))
		}
	}
}

// leave closes cl, taking a static member (Config.InstanceID) out of the group
// too: Close alone leaves it in, holding its partitions until it returns or its
// session times out.
func (s *Sink) leave(cl *kgo.Client) {
	member, _ := cl.GroupMetadata()
	cl.AllowRebalance()
	cl.Close()
	if s.cfg.InstanceID == "" {
		return
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(s.cfg.Brokers...))
	if err != nil {
		s.cfg.Logger.Warn("sink: leaving the group", "err", err)
		return
	}
	defer adm.Close()
	if err := drain.Leave(context.Background(), adm, s.cfg.Group, s.cfg.InstanceID, member); err != nil {
		s.cfg.Logger.Warn("sink: leaving the group", "err", err)
	}
}

// commitToKafka commits the offsets just written to Postgres to the sink's
// consumer group, after every Postgres commit: the processor reads them to know how
// far the read model has got (it may forget an idempotency key only once the read
// model has it), and lag tools show them. Postgres stays the sink's own truth, so a
// failure here is only logged; the commit runs even when ctx has just ended, so
// that a stopping sink leaves its group offsets equal to Postgres.
func (s *Sink) commitToKafka(ctx context.Context, cl *kgo.Client) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kafkaCommitTimeout)
	defer cancel()
	if err := cl.CommitUncommittedOffsets(cctx); err != nil {
		s.cfg.Logger.Warn("sink: commit offsets to Kafka", "err", err)
	}
}

// polled is one batch as it came from Kafka.
type polled struct {
	records        []Record
	dead           []*kgo.Record
	highWatermarks map[int32]int64
	next           map[int32]int64 // per partition, the offset after the last record
}

// gather polls until it has BatchRecordsMax records, or BatchWait has passed since
// the first one, or it has caught up with every partition it read from (waiting then
// would only add latency: nothing more is there to batch), decoding as it goes.
func (s *Sink) gather(ctx context.Context, cl *kgo.Client) (*polled, error) {
	b := &polled{highWatermarks: make(map[int32]int64), next: make(map[int32]int64)}
	var deadline time.Time
	for len(b.records) < s.cfg.BatchRecordsMax {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if len(b.records) > 0 {
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			pctx, cancel = context.WithTimeout(ctx, wait)
		}
		fs := cl.PollRecords(pctx, s.cfg.BatchRecordsMax-len(b.records))
		cancel()
		if fs.IsClientClosed() || ctx.Err() != nil {
			return b, ctx.Err()
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			// The client retries what can be retried; what reaches here is
			// worth a log line but not a stop.
			s.cfg.Logger.Warn("sink: fetch", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
		n := fs.NumRecords()
		if n == 0 && len(b.records) > 0 {
			break // the wait ran out
		}
		if n == 0 {
			// A poll that returns only errors (a group that could not be joined
			// while a broker was unreachable) blocks rebalances like any other
			// poll; with nothing gathered yet, let the group rejoin, else the sink
			// waits forever for a session it has itself blocked.
			cl.AllowRebalance()
			continue
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				b.highWatermarks[p.Partition] = p.HighWatermark
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			b.add(s.decode(r))
			b.next[r.Partition] = r.Offset + 1
		})
		if deadline.IsZero() && n > 0 {
			deadline = time.Now().Add(s.cfg.BatchWait)
		}
		if n > 0 && b.caughtUp() {
			break
		}
	}
	return b, nil
}

// caughtUp reports whether every partition read from has nothing more to read: its
// high watermark is at most one past the last record (a transaction's commit marker
// takes an offset of its own).
func (b *polled) caughtUp() bool {
	for p, hw := range b.highWatermarks {
		if hw-b.next[p] > 1 {
			return false
		}
	}
	return true
}

func (b *polled) add(r Record, dead *kgo.Record) {
	b.records = append(b.records, r)
	if dead != nil {
		b.dead = append(b.dead, dead)
	}
}

// decode turns a Kafka record into a Record, or into a dead letter.
func (s *Sink) decode(r *kgo.Record) (Record, *kgo.Record) {
	rec := Record{Partition: r.Partition, Offset: r.Offset, raw: r}
	e, err := topics.DecodeOutcome(r.Value)
	if err == nil {
		err = check(&e)
	}
	if err != nil {
		s.metrics.deadLetters.Inc()
		s.cfg.Logger.Warn("sink: dead letter", "partition", r.Partition, "offset", r.Offset, "reason", err)
		return rec, kafkarec.DeadLetter(s.cfg.Topics.DeadLetters, r, err.Error())
	}
	rec.Event = &e
	return rec, nil
}

// deadLetterOne produces the dead letter of a record Postgres refused, before the
// record's offset is committed. Unlike deadLetter it fails when ctx ends: the
// record must not be skipped without its dead letter.
func (s *Sink) deadLetterOne(ctx context.Context, cl *kgo.Client, r Record, reason string) error {
	s.metrics.deadLetters.Inc()
	s.cfg.Logger.Warn("sink: dead letter", "partition", r.Partition, "offset", r.Offset, "reason", reason)
	raw := r.raw
	if raw == nil {
		raw = &kgo.Record{Topic: s.cfg.Topics.Events, Partition: r.Partition, Offset: r.Offset}
	}
	if err := cl.ProduceSync(ctx, kafkarec.DeadLetter(s.cfg.Topics.DeadLetters, raw, reason)).FirstErr(); err != nil {
		return fmt.Errorf("sink: produce dead letter of %d/%d: %w", r.Partition, r.Offset, err)
	}
	return nil
}

// deadLetter produces a batch's dead letters before the batch commits, so that a
// poison record is never lost. After a crash it may be produced twice.
func (s *Sink) deadLetter(ctx context.Context, cl *kgo.Client, dead []*kgo.Record) error {
	if len(dead) == 0 {
		return nil
	}
	if err := cl.ProduceSync(ctx, dead...).FirstErr(); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sink: produce %d dead letters: %w", len(dead), err)
	}
	return nil
}

// applyShares writes a batch as Writers transactions side by side, each with the
// records and offsets of its own partitions (partition mod Writers). A partition's
// records stay in one transaction, in order; a crash between the transactions
// leaves each partition's rows and offset consistent, so exactly once holds per
// partition.
func (s *Sink) applyShares(ctx context.Context, batch []Record, dead deadLetterFunc) error {
	shares := splitByPartition(batch, s.cfg.Writers)
	if len(shares) == 1 {
		return s.applyRetrying(ctx, shares[0], dead)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, share := range shares {
		g.Go(func() error { return s.applyRetrying(gctx, share, dead) })
	}
	return g.Wait()
}

// splitByPartition groups a batch by partition mod n, keeping order, and drops the
// empty groups.
func splitByPartition(batch []Record, n int) [][]Record {
	if n <= 1 {
		return [][]Record{batch}
	}
	groups := make([][]Record, n)
	for _, r := range batch {
		i := int(r.Partition) % n
		groups[i] = append(groups[i], r)
	}
	out := groups[:0]
	for _, g := range groups {
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		return [][]Record{batch}
	}
	return out
}

// applyRetrying applies a batch, retrying with a doubling backoff while Postgres
// fails it for a reason other than the data (see applyIsolating).
func (s *Sink) applyRetrying(ctx context.Context, batch []Record, dead deadLetterFunc) error {
	backoff := applyBackoffMin
	for attempt := 0; ; attempt++ {
		err := s.applyIsolating(ctx, batch, dead)
		if err == nil || ctx.Err() != nil || attempt >= s.cfg.ApplyRetriesMax {
			return err
		}
		s.metrics.retries.Inc()
		s.cfg.Logger.Warn("sink: batch failed, retrying", "attempt", attempt+1, "backoff", backoff, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.cfg.ApplyBackoffMax)
	}
}

// deadLetterFunc sends a record the read model cannot store to the dead-letter
// topic with its reason.
type deadLetterFunc func(ctx context.Context, r Record, reason string) error

// applyIsolating applies a batch. When Postgres refuses it for its data (SQLSTATE
// class 22, data exception, or 23, integrity constraint violation), retrying the
// same batch would fail forever and block its partitions; instead the batch is
// bisected until the records Postgres refuses stand alone, each of those is
// dead-lettered with Postgres's reason and applied as a skipped record (its offset
// moves on), and the rest is applied. Halves are applied in order, so every
// partition's records still land in offset order.
func (s *Sink) applyIsolating(ctx context.Context, batch []Record, dead deadLetterFunc) error {
	err := s.ApplyBatch(ctx, batch)
	if err == nil || !isDataError(err) {
		return err
	}
	if len(batch) == 1 {
		r := batch[0]
		if err := dead(ctx, r, "unstorable event: "+err.Error()); err != nil {
			return err
		}
		r.Event = nil
		return s.ApplyBatch(ctx, []Record{r})
	}
	mid := len(batch) / 2
	if err := s.applyIsolating(ctx, batch[:mid], dead); err != nil {
		return err
	}
	return s.applyIsolating(ctx, batch[mid:], dead)
}

// isDataError reports whether Postgres refused a statement for the values it was
// given (SQLSTATE class 22 or 23), which no retry can fix.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	class := pgErr.Code[:min(2, len(pgErr.Code))]
	return class == "22" || class == "23"
}

// startOffsets points newly assigned partitions at the next offsets stored in
// Postgres, or at the beginning of a partition that has none. Kafka's committed
// offsets are ignored: they only trail Postgres.
func (s *Sink) startOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	parts := offsets[s.cfg.Topics.Events]
	if len(parts) == 0 {
		return offsets, nil
	}
	ids := make([]int32, 0, len(parts))
	for p := range parts {
		ids = append(ids, p)
	}
	var (
		stored map[int32]int64
		err    error
	)
	for attempt := 0; ; attempt++ {
		if stored, err = s.storedOffsets(ctx, ids); err == nil || attempt >= offsetsReadRetriesMax {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(offsetsReadRetryWait):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sink: read stored offsets: %w", err)
	}
	for p := range parts {
		if n, ok := stored[p]; ok {
			parts[p] = kgo.NewOffset().At(n).WithEpoch(-1)
		} else {
			parts[p] = kgo.NewOffset().AtStart()
		}
	}
	return offsets, nil
}

// dropPartitions forgets partitions this member no longer owns. Nothing else is
// in memory between batches, and the partitions' new owner resumes from Postgres.
func (s *Sink) dropPartitions(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	for _, p := range lost[s.cfg.Topics.Events] {
		s.metrics.lag.DeleteLabelValues(partitionLabel(p))
	}
}
