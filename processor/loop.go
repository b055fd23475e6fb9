package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// LoopConfig configures the consume-transform-produce loop around the state machine.
type LoopConfig struct {
	Brokers []string
	Topics  topics.Names
	// Partitions the co-partitioned topics must have (default 6); checked at start.
	Partitions int32
	// Group is the consumer group of all processor instances (default
	// "ticket-processor").
	Group string
	// TransactionalID must be unique per running instance and stable across its
	// restarts, so that a restarted instance fences its own unfinished transaction
	// at once (default "ticket-processor-" + hostname).
	TransactionalID string
	// InstanceID, when set, makes this instance a static member of the group
	// (KIP-345): restarted after a crash with the same id, it gets its partitions
	// back at once instead of after the session timeout. Two running instances must
	// never share it. Default "" (a dynamic member).
	InstanceID string
	// PollRecordsMax bounds the commands applied in one transaction (default 5,000).
	PollRecordsMax int
	// TickInterval is how often the clock advances when no command arrives, so holds
	// expire on time in a quiet zone (default 100 ms).
	TickInterval time.Duration
	// HousekeepingInterval is how often an idle partition forgets idempotency keys and
	// resolved holds past their retention (default 1 min).
	HousekeepingInterval time.Duration
	// TransactionTimeout is Kafka's transaction.timeout.ms for this producer (default
	// 10 s): how long a crashed instance's open transaction can hold back readers.
	TransactionTimeout time.Duration
	// RestoreTimeout bounds restoring one partition's state (default 2 min).
	RestoreTimeout time.Duration
	// State configures the state machine (default DefaultConfig()).
	State Config
	// Now is the wall clock (default time.Now); the single writer stamps it.
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (c *LoopConfig) defaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("processor: KAFKA_BROKERS is empty")
	}
	if c.Topics.Commands == "" {
		c.Topics = topics.DefaultNames
	}
	if c.Partitions == 0 {
		c.Partitions = topics.DefaultTopology.Partitions
	}
	if c.Group == "" {
		c.Group = "ticket-processor"
	}
	if c.TransactionalID == "" {
		host, _ := os.Hostname()
		c.TransactionalID = "ticket-processor-" + host
	}
	if c.PollRecordsMax == 0 {
		c.PollRecordsMax = 5_000
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.HousekeepingInterval == 0 {
		c.HousekeepingInterval = time.Minute
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = 10 * time.Second
	}
	if c.RestoreTimeout == 0 {
		c.RestoreTimeout = 2 * time.Minute
	}
	if c.State == (Config{}) {
		c.State = DefaultConfig()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.PollRecordsMax < 1 || c.TickInterval <= 0 || c.TransactionTimeout < time.Second {
		return fmt.Errorf("processor: PollRecordsMax %d, TickInterval %s, TransactionTimeout %s out of range",
			c.PollRecordsMax, c.TickInterval, c.TransactionTimeout)
	}
	return c.State.Validate()
}

// Processor is one instance of the single-writer processor: a member of the
// processor group that owns some partitions of the commands topic, one State each.
type Processor struct {
	cfg  LoopConfig
	log  *slog.Logger
	sess *kgo.GroupTransactSession
	adm  *kadm.Client
	m    *metrics

	mu    sync.Mutex
	owned map[int32]bool // partitions assigned by the group, updated by callbacks

	parts map[int32]*partition // restored states, touched only by Run's goroutine
}

// partition is one owned partition: its state machine and scratch space. Its phase
// goes recovering (restoring from the changelog) -> running -> gone (revoked, lost,
// or dropped after an aborted transaction and restored again when next needed).
type partition struct {
	id          int32
	state       *State
	events      []topics.Event
	lastHousekp time.Time
	applied     int
}

// New validates the configuration and connects to Kafka; Run does the work.
func New(cfg LoopConfig, reg prometheus.Registerer) (*Processor, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	p := &Processor{cfg: cfg, log: cfg.Logger.With("component", "processor"), owned: map[int32]bool{}, parts: map[int32]*partition{}}
	p.m = newMetrics(reg)
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics.Commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// RequireStable (KIP-447) is always on in franz-go: fetching committed
		// offsets waits for a pending transaction of a previous owner to end.
		// Events and state records go to the partition the command came from: the
		// topics are co-partitioned, so this equals murmur2(zone_id) for events.
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// After a commit the broker finishes the transaction asynchronously; the next
		// transaction's first produce can meet CONCURRENT_TRANSACTIONS (KIP-890) and
		// is retried. The default backoff (250 ms, doubling) stalls a busy writer for
		// seconds; the broker is done within milliseconds.
		kgo.RetryBackoffFn(retryBackoff),
		kgo.ConcurrentTransactionsBackoff(5 * time.Millisecond),
		kgo.SessionTimeout(10 * time.Second),
		kgo.RebalanceTimeout(30 * time.Second),
		kgo.FetchMaxWait(cfg.TickInterval),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.revoked),
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	if reg != nil {
		opts = append(opts, kgo.WithHooks(kprom.NewMetrics("ticket_processor_kafka", kprom.Registerer(reg))))
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	p.sess = sess
	p.adm = kadm.NewClient(sess.Client())
	return p, nil
}

func (p *Processor) assigned(_ context.Context, _ *kgo.Client, a map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, part := range a[p.cfg.Topics.Commands] {
		p.owned[part] = true
	}
	p.log.Info("partitions assigned", "partitions", a[p.cfg.Topics.Commands])
}

func (p *Processor) revoked(_ context.Context, _ *kgo.Client, r map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, part := range r[p.cfg.Topics.Commands] {
		delete(p.owned, part)
	}
	p.log.Info("partitions revoked", "partitions", r[p.cfg.Topics.Commands])
}

// Owned lists the partitions this instance holds a restored state for.
func (p *Processor) ownedNow() map[int32]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]bool, len(p.owned))
	for k := range p.owned {
		out[k] = true
	}
	return out
}

// Close leaves the group and disconnects. Call it after Run returns.
func (p *Processor) Close() { p.sess.Close() }

// Run checks the topics, then consumes, applies and produces until ctx is done.
// An error is fatal for this instance: its transactional producer is in a state
// that only a restart clears; the group hands its partitions to the others.
func (p *Processor) Run(ctx context.Context) error {
	if err := topics.Check(ctx, p.adm, topics.Topology{Partitions: p.cfg.Partitions, ReplicationFactor: 1}, p.cfg.Topics); err != nil {
		return err
	}
	for ctx.Err() == nil {
		if err := p.step(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
	}
	return nil
}

// step is one turn of the loop: poll, restore what is newly owned, apply, and commit
// the events, state changes and consumed offsets in one transaction.
func (p *Processor) step(ctx context.Context) error {
	pollCtx, cancel := context.WithTimeout(ctx, p.cfg.TickInterval)
	fetches := p.sess.PollRecords(pollCtx, p.cfg.PollRecordsMax)
	cancel()
	if fetches.IsClientClosed() {
		return errors.New("processor: client closed")
	}
	fetches.EachError(func(t string, part int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
		}
	})
	if err := p.reconcile(ctx); err != nil {
		return err
	}
	now := p.cfg.Now()
	work := map[int32][]*kgo.Record{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if _, ok := p.parts[fp.Partition]; ok && len(fp.Records) > 0 {
			work[fp.Partition] = fp.Records
			next := fp.Records[len(fp.Records)-1].Offset + 1
			p.m.backlog.WithLabelValues(strconv.Itoa(int(fp.Partition))).Set(float64(max(fp.HighWatermark-next, 0)))
		}
	})
	for id, part := range p.parts {
		if _, ok := work[id]; ok {
			continue
		}
		if at, ok := part.state.NextExpiry(); (ok && !now.Before(at)) || now.Sub(part.lastHousekp) >= p.cfg.HousekeepingInterval {
			work[id] = nil
		}
	}
	if len(work) == 0 {
		return nil
	}
	return p.transact(ctx, work, now)
}

// reconcile drops the states of partitions no longer owned and restores the newly
// owned ones, before any of their commands is applied.
func (p *Processor) reconcile(ctx context.Context) error {
	owned := p.ownedNow()
	for id := range p.parts {
		if !owned[id] {
			delete(p.parts, id)
			p.m.forget(id)
		}
	}
	p.m.partitions.Set(float64(len(owned)))
	for id := range owned {
		if _, ok := p.parts[id]; ok {
			continue
		}
		start := time.Now()
		st, n, err := p.restore(ctx, id)
		if err != nil {
			return fmt.Errorf("processor: restore partition %d: %w", id, err)
		}
		p.m.restoreSeconds.Observe(time.Since(start).Seconds())
		p.log.Info("partition restored", "partition", id, "records", n, "took", time.Since(start).Round(time.Millisecond), "stats", st.Stats())
		p.parts[id] = &partition{id: id, state: st, lastHousekp: p.cfg.Now()}
	}
	return nil
}

// transact applies the work of every partition concurrently (each partition's state
// is touched by one goroutine only) and ends the transaction. If it does not commit,
// the in-memory states are ahead of Kafka: they are dropped and restored from the
// changelog, and the consumer is back at the committed offsets.
func (p *Processor) transact(ctx context.Context, work map[int32][]*kgo.Record, now time.Time) error {
	start := time.Now()
	if err := p.sess.Begin(); err != nil {
		return fmt.Errorf("processor: begin: %w", err)
	}
	var (
		errMu      sync.Mutex
		produceErr error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			errMu.Lock()
			if produceErr == nil {
				produceErr = err
			}
			errMu.Unlock()
		}
	}
	var wg sync.WaitGroup
	records := 0
	for id, recs := range work {
		part := p.parts[id]
		records += len(recs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.applyPartition(ctx, part, recs, now, promise)
		}()
	}
	wg.Wait()
	try := kgo.TryCommit
	if produceErr != nil {
		p.log.Warn("produce failed; aborting", "err", produceErr)
		try = kgo.TryAbort
	}
	committed, err := p.sess.End(ctx, try)
	p.m.txnSeconds.Observe(time.Since(start).Seconds())
	if err != nil || !committed {
		p.m.aborts.Inc()
		clear(p.parts) // restored from the changelog on the next step
		if err != nil {
			return fmt.Errorf("processor: end transaction: %w", err)
		}
		p.log.Info("transaction aborted (rebalance); states will be restored", "records", records)
		return nil
	}
	p.m.commands.Add(float64(records))
	p.m.txns.Inc()
	for id := range work {
		part := p.parts[id]
		st, label := part.state.Stats(), strconv.Itoa(int(id))
		p.m.activeHolds.WithLabelValues(label).Set(float64(st.ActiveHolds))
		p.m.keys.WithLabelValues(label).Set(float64(st.Keys))
		p.m.evictedEarly.WithLabelValues(label, "key").Set(float64(st.KeysEvictedEarly))
		p.m.evictedEarly.WithLabelValues(label, "resolved_hold").Set(float64(st.ResolvedEvictedEarly))
	}
	return nil
}

// applyPartition runs one partition's commands through its state machine and
// produces the events, dead letters and changelog records, in order. Decoding and
// encoding, the bulk of the work, run on all cores; applying stays sequential.
func (p *Processor) applyPartition(ctx context.Context, part *partition, recs []*kgo.Record, now time.Time, promise func(*kgo.Record, error)) {
	names := p.cfg.Topics
	cmds := make([]topics.Command, len(recs))
	errs := make([]error, len(recs))
	keyed := kgo.StickyKeyPartitioner(nil).ForTopic(names.Commands)
	parallel(len(recs), func(i int) {
		cmds[i], errs[i] = topics.DecodeCommand(recs[i])
		// A zone's commands must all reach its one writer: a record that a producer
		// put on another partition would split the zone's state.
		// (Decoded records have a key, the zone id: hashing it touches no shared state.)
		if errs[i] == nil {
			if want := keyed.Partition(recs[i], int(p.cfg.Partitions)); want != int(part.id) {
				errs[i] = fmt.Errorf("wrong partition: zone %s belongs to partition %d, record is on %d", cmds[i].ZoneID, want, part.id)
			}
		}
	})

	ev := part.events[:0]
	var dead []*kgo.Record
	if len(recs) == 0 {
		ev = part.state.Advance(ev, now)
		part.lastHousekp = now
	}
	for i := range recs {
		if errs[i] != nil {
			p.m.deadLetters.Inc()
			dl := topics.DeadLetter(names.DeadLetters, recs[i], errs[i].Error())
			dl.Partition = 0
			dead = append(dead, dl)
			continue
		}
		ev = part.state.Apply(ev, &cmds[i], now)
	}
	out := make([]*kgo.Record, len(ev))
	parallel(len(ev), func(i int) {
		e := &ev[i]
		r, err := topics.EncodeEvent(e, topics.EventRecordID(e))
		if err != nil {
			panic(fmt.Sprintf("processor: encode %s: %v", e.Type, err)) // our own types always encode
		}
		r.Topic, r.Partition = names.Events, part.id
		out[i] = r
	})
	for i, r := range out {
		p.m.events.WithLabelValues(string(ev[i].Type)).Inc()
		if ev[i].Rejection != nil {
			p.m.rejections.WithLabelValues(string(ev[i].Rejection.Reason)).Inc()
		}
		p.sess.Produce(ctx, r, promise)
	}
	for _, r := range dead {
		p.sess.Produce(ctx, r, promise)
	}
	if cap(ev) <= eventsScratchMax {
		part.events = ev[:0]
	} else {
		part.events = nil
	}
	part.state.DrainChanges(func(k, v []byte) {
		r := &kgo.Record{Topic: names.State, Partition: part.id, Key: clone(k)}
		if v != nil {
			r.Value = clone(v)
		}
		p.sess.Produce(ctx, r, promise)
	})
	part.applied += len(recs)
}

// eventsScratchMax bounds the events buffer a partition keeps between batches.
const eventsScratchMax = 64 << 10

// parallelMin is the smallest job worth splitting over goroutines.
const parallelMin = 256

// parallel runs f(0..n-1) over GOMAXPROCS goroutines in contiguous chunks.
func parallel(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMin || workers < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// retryBackoff is 5 ms doubling to at most 250 ms.
func retryBackoff(fails int) time.Duration {
	const base, ceiling = 5 * time.Millisecond, 250 * time.Millisecond
	if fails > 6 {
		return ceiling
	}
	return min(base<<max(fails, 0), ceiling)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
