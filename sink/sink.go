package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Sink applies the events topic to the Postgres read model.
type Sink struct {
	cfg          Config
	pool         *pgxpool.Pool
	metrics      *metrics
	queueLengths queueLengths

	// Test hooks, nil in production: beforeCommit runs after a batch's
	// statements and before its commit (an error aborts the batch); afterCommit
	// runs after the commit, before anything is told to Kafka (an error ends Run
	// with it, like a crash).
	beforeCommit func(ctx context.Context) error
	afterCommit  func() error
}

// New checks cfg and returns a Sink writing through pool, with its metrics
// registered on reg (none when reg is nil). It does not connect to Kafka: Run
// does.
func New(cfg Config, pool *pgxpool.Pool, reg prometheus.Registerer) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("sink: pool is required")
	}
	return &Sink{cfg: cfg.withDefaults(), pool: pool, metrics: newMetrics(reg)}, nil
}

// ApplyBatch writes batch to Postgres in one transaction, together with the next
// offset of every partition in it. Records at offsets Postgres already has are
// skipped, so applying a batch twice changes nothing. Records of one partition must
// be in offset order; at most Config.BatchRecordsMax records.
func (s *Sink) ApplyBatch(ctx context.Context, batch []Record) error {
	if len(batch) == 0 {
		return nil
	}
	if len(batch) > s.cfg.BatchRecordsMax {
		return fmt.Errorf("sink: batch of %d records exceeds BatchRecordsMax %d", len(batch), s.cfg.BatchRecordsMax)
	}
	start := time.Now()
	p, kept, err := s.apply(ctx, batch)
	if err != nil {
		return err
	}
	s.metrics.skipped.Add(float64(len(batch) - kept))
	if p == nil {
		return nil
	}
	s.metrics.batches.Inc()
	s.metrics.duration.Observe(time.Since(start).Seconds())
	s.metrics.size.Observe(float64(len(batch)))
	for t, n := range p.applied {
		s.metrics.applied.WithLabelValues(string(t)).Add(float64(n))
	}
	if !p.newest.IsZero() {
		s.metrics.lastEventTime.Set(float64(p.newest.UnixNano()) / 1e9)
	}
	for _, w := range p.queue.waits {
		s.metrics.queueWait.Observe(w.Seconds())
	}
	if len(p.queue.roomOrder) > 0 {
		s.metrics.queueWaiting.Set(float64(s.queueLengths.observe(&p.queue)))
	}
	return nil
}

// apply runs one batch's transaction. It returns the plan it wrote (nil when
// Postgres already had every record) and how many records it kept.
func (s *Sink) apply(ctx context.Context, batch []Record) (*plan, int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("sink: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	stored, err := s.lockOffsets(ctx, tx, batch)
	if err != nil {
		return nil, 0, err
	}
	var (
		events  []*topics.Outcome
		next    = make(map[int32]int64)
		through = make(map[int32]time.Time)
		kept    int
	)
	for _, r := range batch {
		if r.Offset < stored[r.Partition] {
			continue // a stale assignment already applied it
		}
		kept++
		next[r.Partition] = max(next[r.Partition], r.Offset+1)
		if r.Event != nil {
			events = append(events, r.Event)
			if r.Event.Time.After(through[r.Partition]) {
				through[r.Partition] = r.Event.Time
			}
		}
	}
	if kept == 0 {
		return nil, 0, nil
	}
	p := collapse(events)
	if err := s.write(ctx, tx, p, next, through); err != nil {
		return nil, 0, err
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(ctx); err != nil {
			return nil, 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, 0, fmt.Errorf("sink: commit: %w", err)
	}
	return p, kept, nil
}

// lockOffsets locks the batch's partitions in sink_offsets, in partition order so
// that two sinks cannot deadlock, and returns their stored next offsets.
func (s *Sink) lockOffsets(ctx context.Context, tx pgx.Tx, batch []Record) (map[int32]int64, error) {
	var parts []int32
	for _, r := range batch {
		if !slices.Contains(parts, r.Partition) {
			parts = append(parts, r.Partition)
		}
	}
	slices.Sort(parts)
	rows, _ := tx.Query(ctx, lockOffsetsSQL, s.cfg.Topics.Events, parts)
	stored, err := offsetsOf(rows, len(parts))
	if err != nil {
		return nil, fmt.Errorf("sink: lock offsets: %w", err)
	}
	return stored, nil
}

// write sends the batch's statements in one round trip. next and through are, per
// partition, the offset after the batch and the newest event time in it.
func (s *Sink) write(ctx context.Context, tx pgx.Tx, p *plan, next map[int32]int64, through map[int32]time.Time) error {
	b := &pgx.Batch{}
	if s.cfg.AsyncCommit {
		b.Queue(asyncCommitSQL)
	}
	if e := p.shows; len(e.id) > 0 {
		b.Queue(upsertEventsSQL, e.id, e.name, e.created)
	}
	if z := p.zones; len(z.id) > 0 {
		b.Queue(upsertZonesSQL, z.id, z.eventID, z.name, z.capacity, z.available, z.held, z.sold,
			z.ttl, z.quantityMax, z.custLimit, z.asOf, z.waitingRoom, z.price, z.currency)
	}
	if z := p.invs; len(z.id) > 0 {
		b.Queue(updateInventorySQL, z.id, z.capacity, z.available, z.held, z.sold, z.asOf)
	}
	if h := p.holds; len(h.id) > 0 {
		b.Queue(upsertHoldsSQL, h.id, h.eventID, h.zoneID, h.quantity, h.customer, h.status, h.key,
			h.created, h.expires, h.resolved, h.orderID)
	}
	if o := p.orders; len(o.id) > 0 {
		b.Queue(insertOrdersSQL, o.id, o.holdID, o.eventID, o.zoneID, o.quantity, o.customer, o.created)
	}
	if r := p.requests; len(r.id) > 0 {
		b.Queue(insertRequestsSQL, r.id, r.typ, r.eventID, r.zoneID, r.status, r.eventType, r.holdID,
			r.orderID, r.reason, r.message, r.available, r.replayed, r.decided, r.key)
	}
	p.queue.queue(b)
	p.pay.queue(b)
	parts := make([]int32, 0, len(next))
	offsets := make([]int64, 0, len(next))
	times := make([]pgtype.Timestamptz, 0, len(next))
	for part, n := range next {
		t, ok := through[part]
		parts, offsets = append(parts, part), append(offsets, n)
		times = append(times, pgtype.Timestamptz{Time: t, Valid: ok})
	}
	b.Queue(storeOffsetsSQL, s.cfg.Topics.Events, parts, offsets, times)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("sink: write batch: %w", err)
	}
	return nil
}

// storedOffsets reads the next offsets Postgres has for parts; a partition with
// no row is missing from the result.
func (s *Sink) storedOffsets(ctx context.Context, parts []int32) (map[int32]int64, error) {
	rows, _ := s.pool.Query(ctx, readOffsetsSQL, s.cfg.Topics.Events, parts)
	return offsetsOf(rows, len(parts))
}

// offsetsOf reads rows of (partition, next offset) into a map; a query error
// surfaces here, as pgx defers it to the rows.
func offsetsOf(rows pgx.Rows, partitions int) (map[int32]int64, error) {
	stored := make(map[int32]int64, partitions)
	var (
		p int32
		n int64
	)
	_, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error {
		stored[p] = n
		return nil
	})
	return stored, err
}
