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

	"github.com/ultimate-ticket/ultimate-ticket/internal/backoff"
	"github.com/ultimate-ticket/ultimate-ticket/internal/drain"
	"github.com/ultimate-ticket/ultimate-ticket/internal/kafkarec"
	"github.com/ultimate-ticket/ultimate-ticket/internal/topology"
	"github.com/ultimate-ticket/ultimate-ticket/internal/tracing"
	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// LoopConfig configures the consume-transform-produce loop around the state machine.
type LoopConfig struct {
	Brokers []string
	Topics  topics.Names
	// Partitions the co-partitioned topics must have (default
	// topics.DefaultTopology.Partitions); checked at start.
	Partitions int32
	// Group is the consumer group of all processor instances (default GroupDefault,
	// "ticket-processor").
	Group string
	// TransactionalID must be unique per running instance and stable across its
	// restarts, so that a restarted instance fences its own unfinished transaction
	// at once (default TransactionalIDPrefix + hostname).
	TransactionalID string
	// InstanceID, when set, makes this instance a static member of the group
	// (KIP-345): restarted after a crash with the same id, it gets its partitions
	// back at once instead of after the session timeout. A graceful stop (Close)
	// leaves the group all the same, so that the others take its partitions at
	// once. Two running instances must never share it. Default "" (a dynamic
	// member).
	InstanceID string
	// PollRecordsMax bounds the commands applied in one transaction (default
	// PollRecordsMaxDefault, 5,000).
	PollRecordsMax int
	// TickInterval is how long a poll waits for commands; a quiet partition whose
	// next expiry is due sends a tick at most this often (default TickIntervalDefault,
	// 100 ms).
	TickInterval time.Duration
	// HousekeepingInterval is how often an idle partition forgets idempotency keys and
	// resolved holds past their retention (default HousekeepingIntervalDefault, 1 min).
	HousekeepingInterval time.Duration
	// TransactionTimeout is Kafka's transaction.timeout.ms for this producer (default
	// TransactionTimeoutDefault, 10 s; at least TransactionTimeoutMin): how long a
	// crashed instance's open transaction can hold back readers.
	TransactionTimeout time.Duration
	// RestoreTimeout bounds restoring one partition's state (default
	// RestoreTimeoutDefault, 2 min).
	RestoreTimeout time.Duration
	// SinkGroup is the consumer group of the sink (default SinkGroupDefault): its
	// committed offsets of the events topic tell how far the read model has got.
	SinkGroup string
	// SunkGrace is how old an observation of the sink's offsets must be before the
	// state may use it to forget idempotency keys (default SunkGraceDefault, whose
	// comment says what it must exceed).
	SunkGrace time.Duration
	// State configures the state machine (zero fields take zone's defaults).
	State zone.Config
	// Queue bounds the waiting rooms' state (zero fields take queue's defaults).
	Queue queue.Config
	// Now is the local clock (default time.Now). Only differences of its readings
	// are used (when to send a tick, backoffs): the partition clock is the brokers'.
	Now func() time.Time
	// Tracing (default nil: off) continues each command's trace: the outcomes it
	// produces are children of the command's receive span, their headers carry
	// the trace on to the sink.
	Tracing *tracing.Tracing
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Defaults of LoopConfig, and the bounds Validate enforces. The partition count's
// default is the contract's (topics.DefaultTopology).
const (
	GroupDefault                = "ticket-processor"
	TransactionalIDPrefix       = "ticket-processor-"
	PollRecordsMaxDefault       = 5_000
	TickIntervalDefault         = 100 * time.Millisecond
	HousekeepingIntervalDefault = time.Minute
	TransactionTimeoutDefault   = 10 * time.Second
	TransactionTimeoutMin       = time.Second
	RestoreTimeoutDefault       = 2 * time.Minute
	SinkGroupDefault            = "ticket-sink"
)

// withDefaults fills every unset field with its default.
func (c LoopConfig) withDefaults() LoopConfig {
	if c.Topics.Commands == "" {
		c.Topics = topics.DefaultNames
	}
	setDefault(&c.Partitions, topics.DefaultTopology.Partitions)
	setDefault(&c.Group, GroupDefault)
	if c.TransactionalID == "" {
		host, _ := os.Hostname()
		c.TransactionalID = TransactionalIDPrefix + host
	}
	setDefault(&c.PollRecordsMax, PollRecordsMaxDefault)
	setDefault(&c.TickInterval, TickIntervalDefault)
	setDefault(&c.HousekeepingInterval, HousekeepingIntervalDefault)
	setDefault(&c.TransactionTimeout, TransactionTimeoutDefault)
	setDefault(&c.RestoreTimeout, RestoreTimeoutDefault)
	setDefault(&c.SinkGroup, SinkGroupDefault)
	setDefault(&c.SunkGrace, SunkGraceDefault)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate rejects a config, with its defaults filled in, that cannot work; the
// error names every setting that is out of range, the state's included.
func (c LoopConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no Brokers given"))
	}
	if c.PollRecordsMax < 1 {
		errs = append(errs, fmt.Errorf("PollRecordsMax %d must be >= 1", c.PollRecordsMax))
	}
	for _, d := range []struct {
		name     string
		v, least time.Duration
	}{
		{"TickInterval", c.TickInterval, 1}, {"HousekeepingInterval", c.HousekeepingInterval, 1},
		{"TransactionTimeout", c.TransactionTimeout, TransactionTimeoutMin},
		{"RestoreTimeout", c.RestoreTimeout, 1}, {"SunkGrace", c.SunkGrace, 1},
	} {
		if d.v < d.least {
			errs = append(errs, fmt.Errorf("%s %v must be >= %v", d.name, d.v, d.least))
		}
	}
	errs = append(errs, c.State.Validate(), c.Queue.Validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("processor config: %w", err)
	}
	return nil
}

// Processor is one instance of the single-writer processor: a member of the
// processor group that owns some partitions of the commands topic, one State each.
type Processor struct {
	cfg   LoopConfig
	log   *slog.Logger
	opts  []kgo.Opt
	sess  *kgo.GroupTransactSession
	admCl *kgo.Client // plain client for admin reads (offsets, configs)
	adm   *kadm.Client
	m     *metrics

	mu    sync.Mutex
	owned map[int32]uint64 // assigned partitions and their assignment generation
	gen   uint64           // bumped on every assignment change

	parts     map[int32]*partition // restored states, touched only by Run's goroutine
	restoring map[int32]*restoreTry
	restored  chan restoreResult
	heldBack  map[int32]heldBack // partitions whose fetched records were dropped before restore

	sinkMu   sync.Mutex
	sinkNext map[int32]int64 // the sink group's committed offsets of the events topic
	sinkSeq  uint64          // bumped on each successful read

	// restorePoll polls the changelog reader; tests replace it to inject stalls.
	restorePoll func(context.Context, *kgo.Client) kgo.Fetches
	// onSunk, when set, sees every sunk-through time given to a state (tests).
	onSunk func(part int32, t time.Time)
	// beforeEnd, when set, runs in every transaction before it ends (tests: a stop
	// arriving mid-transaction).
	beforeEnd func()
}

// partition is one owned partition with a restored state and its scratch space.
type partition struct {
	id          int32
	gen         uint64
	state       *zone.State
	queue       *queue.State // the waiting rooms of the partition's events
	outcomes    []topics.Outcome
	byEvent     []bool           // per outcome: the queue writer's, keyed by event
	commands    []topics.Command // forwarded holds and notices for the queue writer
	lastHousekp time.Time        // local clock
	tickSent    time.Time        // local clock; zero when no tick is outstanding
	broker      brokerClock
	sunk        sunkTracker
	sinkSeq     uint64
}

// New validates the configuration and connects to Kafka; Run does the work.
func New(cfg LoopConfig, reg prometheus.Registerer) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Processor{cfg: cfg, log: cfg.Logger.With("component", "processor"), owned: map[int32]uint64{},
		parts: map[int32]*partition{}, restoring: map[int32]*restoreTry{}, restored: make(chan restoreResult, 64),
		heldBack: map[int32]heldBack{}, sinkNext: map[int32]int64{}}
	p.restorePoll = func(ctx context.Context, cl *kgo.Client) kgo.Fetches { return cl.PollFetches(ctx) }
	p.m = newMetrics(reg)
	p.opts = []kgo.Opt{
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
		// topics are co-partitioned, so this equals murmur2(zone_id) for outcomes.
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
		p.opts = append(p.opts, kgo.InstanceID(cfg.InstanceID))
	}
	if hooks := cfg.Tracing.KafkaHooks(cfg.Group); len(hooks) > 0 {
		p.opts = append(p.opts, kgo.WithHooks(hooks...))
	}
	if reg != nil {
		p.opts = append(p.opts, kgo.WithHooks(kprom.NewMetrics("ticket_processor_kafka", kprom.Registerer(reg))))
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	p.admCl, p.adm = admCl, kadm.NewClient(admCl)
	if p.sess, err = kgo.NewGroupTransactSession(p.opts...); err != nil {
		admCl.Close()
		return nil, fmt.Errorf("processor: %w", err)
	}
	return p, nil
}

func (p *Processor) assigned(_ context.Context, _ *kgo.Client, a map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	for _, part := range a[p.cfg.Topics.Commands] {
		p.owned[part] = p.gen
	}
	p.log.Info("partitions assigned", "partitions", a[p.cfg.Topics.Commands])
}

func (p *Processor) revoked(_ context.Context, _ *kgo.Client, r map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	for _, part := range r[p.cfg.Topics.Commands] {
		delete(p.owned, part)
	}
	p.log.Info("partitions revoked", "partitions", r[p.cfg.Topics.Commands])
}

// ownedNow returns the assigned partitions with their assignment generations.
func (p *Processor) ownedNow() map[int32]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]uint64, len(p.owned))
	for k, g := range p.owned {
		out[k] = g
	}
	return out
}

// Close leaves the group and disconnects. Call it after Run returns. A static
// member (InstanceID set) leaves too, with an explicit LeaveGroup once its client
// is closed: a graceful stop hands the partitions to the other members at once,
// where a crashed member keeps them until it returns or its session times out.
func (p *Processor) Close() {
	member, _ := p.sess.Client().GroupMetadata()
	p.sess.Close()
	if err := drain.Leave(context.Background(), p.admCl, p.cfg.Group, p.cfg.InstanceID, member); err != nil {
		p.log.Warn("leaving the group", "err", err)
	} else {
		p.log.Info("left the group", "group", p.cfg.Group)
	}
	p.admCl.Close()
}

// Backoff between attempts to reset the session or to pass the start-up checks.
const (
	resetBackoffMin = 100 * time.Millisecond
	resetBackoffMax = 30 * time.Second
)

// Run checks the topics, then consumes, applies and produces until ctx is done. It
// returns only then: a failed transaction resets the transactional session (a new
// client, as franz-go asks after an error from End) and the partitions are restored
// and go on, after a backoff that grows while failures repeat.
func (p *Processor) Run(ctx context.Context) error {
	go p.followSink(ctx)
	for fails := 0; ctx.Err() == nil; fails++ {
		err := p.checkTopics(ctx)
		if err == nil {
			break
		}
		p.log.Error("topics not ready; retrying", "err", err)
		backoff.Sleep(ctx, backoff.Exp(fails, resetBackoffMin, resetBackoffMax))
	}
	fails := 0
	for ctx.Err() == nil {
		err := p.step(ctx)
		if err == nil {
			fails = 0
			continue
		}
		if ctx.Err() != nil {
			break
		}
		p.m.resets.Inc()
		p.log.Error("transaction failed; resetting the session and restoring", "err", err, "failures", fails+1)
		backoff.Sleep(ctx, backoff.Exp(fails, resetBackoffMin, resetBackoffMax))
		fails++
		p.reset(ctx)
	}
	return nil
}

func (p *Processor) checkTopics(ctx context.Context) error {
	if err := topology.EnsureSettings(ctx, p.adm, p.cfg.Topics); err != nil {
		return err
	}
	return topology.Check(ctx, p.adm, topics.Topology{Partitions: p.cfg.Partitions, ReplicationFactor: 1}, p.cfg.Topics)
}

// reset drops every state and replaces the transactional session with a new one,
// retrying until it can be created or ctx is done.
func (p *Processor) reset(ctx context.Context) {
	p.sess.Close()
	p.dropAll()
	p.mu.Lock()
	clear(p.owned)
	p.gen++
	p.mu.Unlock()
	for fails := 0; ctx.Err() == nil; fails++ {
		sess, err := kgo.NewGroupTransactSession(p.opts...)
		if err == nil {
			p.sess = sess
			return
		}
		p.log.Error("new transactional session", "err", err)
		backoff.Sleep(ctx, backoff.Exp(fails, resetBackoffMin, resetBackoffMax))
	}
}

// dropAll forgets every state: they are restored from the changelog when next needed.
func (p *Processor) dropAll() {
	clear(p.parts)
	clear(p.heldBack)
}

// step is one turn of the loop: poll, restore what is newly owned, apply, and commit
// the outcomes, state changes and consumed offsets in one transaction.
func (p *Processor) step(ctx context.Context) error {
	pollCtx, cancel := context.WithTimeout(ctx, p.cfg.TickInterval)
	fetches := p.sess.PollRecords(pollCtx, p.cfg.PollRecordsMax)
	cancel()
	if fetches.IsClientClosed() {
		return errors.New("processor: client closed")
	}
	arrived := p.cfg.Now()
	fetches.EachError(func(t string, part int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
		}
	})
	p.reconcile(ctx)
	work := map[int32][]*kgo.Record{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		part, ok := p.parts[fp.Partition]
		if !ok {
			p.holdBack(fp.Partition, fp.Records[0].Offset)
			return
		}
		work[fp.Partition] = fp.Records
		for _, r := range fp.Records {
			part.broker.observe(r.Timestamp, arrived, isTick(r))
		}
		next := fp.Records[len(fp.Records)-1].Offset + 1
		p.m.backlog.WithLabelValues(strconv.Itoa(int(fp.Partition))).Set(float64(max(fp.HighWatermark-next, 0)))
	})
	p.followSunk()
	now := p.cfg.Now()
	ticks := map[int32]bool{}
	for id, part := range p.parts {
		if _, ok := work[id]; !ok && p.tickDue(part, now) {
			ticks[id] = true
		}
	}
	if len(work) == 0 && len(ticks) == 0 {
		return nil
	}
	// A stop arriving from here on lets the transaction finish and commit what was
	// polled: aborting it would only make the next owner apply the same commands
	// again. The transaction timeout bounds it, as it bounds any transaction.
	tctx, cancel := drain.Finish(ctx, p.cfg.TransactionTimeout)
	defer cancel()
	return p.transact(tctx, work, ticks)
}

// tickDue tells whether a quiet partition needs its clock moved: its next hold is
// due by the estimated broker clock (or there is no estimate yet), or housekeeping
// is due. At most one tick is outstanding.
func (p *Processor) tickDue(part *partition, now time.Time) bool {
	if !part.tickSent.IsZero() && now.Sub(part.tickSent) < tickOutstandingMax {
		return false
	}
	if now.Sub(part.lastHousekp) >= p.cfg.HousekeepingInterval {
		return true
	}
	at, ok := part.state.NextExpiry()
	if qat, qok := part.queue.NextDue(); qok && (!ok || qat.Before(at)) {
		at, ok = qat, true
	}
	if !ok {
		return false
	}
	est, known := part.broker.at(now)
	return !known || !est.Before(at)
}

// heldBack is a partition whose records were fetched before its state was restored:
// they were dropped, the consumer rewound to the first of them at once (so that no
// transaction commits them as consumed) and its fetching paused until the restore.
type heldBack struct {
	gen    uint64
	offset int64
}

func (p *Processor) holdBack(part int32, first int64) {
	gen, ok := p.ownedNow()[part]
	if !ok {
		return
	}
	if h, ok := p.heldBack[part]; !ok || h.gen != gen || first < h.offset {
		p.heldBack[part] = heldBack{gen: gen, offset: first}
	}
	cl := p.sess.Client()
	cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.cfg.Topics.Commands: {part: {Epoch: -1, Offset: p.heldBack[part].offset}}})
	cl.PauseFetchPartitions(map[string][]int32{p.cfg.Topics.Commands: {part}})
}

// transact applies the work of every partition concurrently (each partition's state
// is touched by one goroutine only) and ends the transaction: it commits only if
// every record was acknowledged. If it does not commit, the in-memory states are
// ahead of Kafka: they are dropped and restored from the changelog, and the
// consumer is back at the committed offsets. An error means the session must be
// replaced.
func (p *Processor) transact(ctx context.Context, work map[int32][]*kgo.Record, ticks map[int32]bool) error {
	start := time.Now()
	if err := p.sess.Begin(); err != nil {
		return fmt.Errorf("processor: begin: %w", err)
	}
	acks := &txnAcks{events: p.cfg.Topics.Events, lastOutcome: map[int32]int64{}}
	var wg sync.WaitGroup
	records := 0
	for id, part := range p.parts {
		recs, has := work[id]
		if !has && !ticks[id] {
			continue
		}
		records += len(recs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.applyPartition(ctx, part, recs, acks.promise)
			if ticks[id] {
				p.sess.Produce(ctx, tickRecord(p.cfg.Topics.Commands, id), acks.promise)
			}
		}()
	}
	wg.Wait()
	applied := time.Now()
	p.m.txnPhase.WithLabelValues("apply").Observe(applied.Sub(start).Seconds())
	// A record's failure is known only once the flush has waited for every answer.
	err := p.sess.Client().Flush(ctx)
	flushed := time.Now()
	p.m.txnPhase.WithLabelValues("flush").Observe(flushed.Sub(applied).Seconds())
	if err != nil {
		p.m.aborts.Inc()
		p.dropAll()
		return fmt.Errorf("processor: flush: %w", err)
	}
	if p.beforeEnd != nil {
		p.beforeEnd()
	}
	failed := acks.failure()
	try := kgo.TryCommit
	if failed != nil {
		p.log.Warn("a record of the transaction failed; aborting it", "err", failed)
		try = kgo.TryAbort
	}
	committed, err := p.sess.End(ctx, try)
	p.m.txnPhase.WithLabelValues("end").Observe(time.Since(flushed).Seconds())
	p.m.txnSeconds.Observe(time.Since(start).Seconds())
	if err != nil || !committed {
		p.m.aborts.Inc()
		p.dropAll() // restored from the changelog on the next step
		if err != nil {
			return fmt.Errorf("processor: end transaction: %w", err)
		}
		if failed == nil {
			p.log.Info("transaction aborted (rebalance); states will be restored", "records", records)
		}
		return nil
	}
	p.committed(work, ticks, acks.lastOutcome, records)
	return nil
}

// txnAcks collects the brokers' answers to the records of one transaction. Produce
// returns at once and the promises run as the brokers answer, most of them while
// End flushes; so the answers are read only after a flush. A failed record must
// abort the transaction, which the client does not do by itself: after a failed
// batch it renews its producer id, which fence-aborts what the transaction wrote
// until then, and the records produced afterwards and the consumed offsets commit
// on their own under the new epoch. Committing would lose outcomes and state
// changes that the in-memory states keep.
type txnAcks struct {
	events      string
	mu          sync.Mutex
	err         error           // the first failure
	lastOutcome map[int32]int64 // per partition, the offset of its last outcome
}

func (a *txnAcks) promise(r *kgo.Record, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if a.err == nil {
			a.err = fmt.Errorf("produce to %s/%d: %w", r.Topic, r.Partition, err)
		}
		return
	}
	if cur, ok := a.lastOutcome[r.Partition]; r.Topic == a.events && (!ok || r.Offset > cur) {
		a.lastOutcome[r.Partition] = r.Offset
	}
}

// failure returns the first failed record's error, or nil.
func (a *txnAcks) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// committed updates the partitions' bookkeeping and the metrics after a commit.
func (p *Processor) committed(work map[int32][]*kgo.Record, ticks map[int32]bool, lastOutcome map[int32]int64, records int) {
	p.m.commands.Add(float64(records))
	p.m.txns.Inc()
	now := p.cfg.Now()
	for id, part := range p.parts {
		if ticks[id] {
			part.tickSent = now
			p.m.ticks.Inc()
		}
		if off, ok := lastOutcome[id]; ok {
			part.sunk.mark(txnMark{offset: off, clock: part.state.Clock()})
		}
		if _, ok := work[id]; !ok {
			continue
		}
		st, label := part.state.Stats(), strconv.Itoa(int(id))
		p.m.activeHolds.WithLabelValues(label).Set(float64(st.ActiveHolds))
		p.m.keys.WithLabelValues(label).Set(float64(st.Keys))
		p.m.evictedEarly.WithLabelValues(label, "key").Set(float64(st.KeysEvictedEarly))
		p.m.evictedEarly.WithLabelValues(label, "resolved_hold").Set(float64(st.ResolvedEvictedEarly))
		p.m.keysFull.WithLabelValues(label).Set(float64(st.KeysRejectedFull))
		p.m.clockSeconds.WithLabelValues(label).Set(float64(part.state.Clock().UnixNano()) / 1e9)
		qs := part.queue.Stats()
		p.m.queueWaiting.WithLabelValues(label).Set(float64(qs.Waiting))
		p.m.queueAdmitted.WithLabelValues(label).Set(float64(qs.Admitted))
		p.m.queueSelling.WithLabelValues(label).Set(float64(qs.Selling))
	}
}

// applyPartition runs one partition's records through its state machine, each
// command at its broker append time, and produces the outcomes, dead letters and
// changelog records, in order. Decoding and encoding, the bulk of the work, run on
// all cores; applying stays sequential.
func (p *Processor) applyPartition(ctx context.Context, part *partition, recs []*kgo.Record, promise func(*kgo.Record, error)) {
	names := p.cfg.Topics
	cmds := make([]topics.Command, len(recs))
	errs := make([]error, len(recs))
	parallel(len(recs), func(i int) {
		if isTick(recs[i]) {
			return
		}
		cmds[i], errs[i] = topics.DecodeCommand(recs[i].Key, recs[i].Value)
		// A zone's (or a waiting room's) commands must all reach its one writer: a
		// record that a producer put on another partition would split its state.
		if errs[i] == nil {
			if key := cmds[i].Key(); topics.PartitionOf(key, p.cfg.Partitions) != part.id {
				errs[i] = fmt.Errorf("wrong partition: key %s belongs to partition %d, record is on %d",
					key, topics.PartitionOf(key, p.cfg.Partitions), part.id)
			}
		}
	})

	ev, byEvent, fwd := part.outcomes[:0], part.byEvent[:0], part.commands[:0]
	var dead []*kgo.Record
	// traced maps outcomes to the command they answer, for their trace context
	// (only when tracing: it is a map per batch).
	var traced map[int]*kgo.Record
	if p.cfg.Tracing.On() {
		traced = map[int]*kgo.Record{}
	}
	debug := p.log.Enabled(ctx, slog.LevelDebug)
	// applied notes the outcomes ev[from:] of command cmd, read from r: their trace
	// context, and the debug line.
	applied := func(from int, r *kgo.Record, cmd *topics.Command) {
		for j := from; traced != nil && j < len(ev); j++ {
			if ev[j].RequestID == cmd.RequestID { // not expiries the command's time set off
				traced[j] = r
			}
		}
		if debug {
			p.logApplied(ctx, r, cmd, ev[from:])
		}
	}
	for i, r := range recs {
		switch {
		case isTick(r):
			ev = part.state.Advance(ev, r.Timestamp)
			byEvent = markOutcomes(byEvent, len(ev), false)
			ev = part.queue.Advance(ev, r.Timestamp)
			byEvent = markOutcomes(byEvent, len(ev), true)
			part.lastHousekp, part.tickSent = p.cfg.Now(), time.Time{}
		case errs[i] != nil:
			p.m.deadLetters.Inc()
			dl := kafkarec.DeadLetter(names.DeadLetters, r, errs[i].Error())
			dl.Partition = 0
			dead = append(dead, dl)
		case cmds[i].EventKeyed():
			from := len(ev)
			ev, fwd = part.queue.Apply(ev, fwd, &cmds[i], r.Timestamp)
			byEvent = markOutcomes(byEvent, len(ev), true)
			applied(from, r, &cmds[i])
		default:
			// The rooms' clock moves with every record of the partition, so that
			// admissions follow the log's time, not only the queue's commands.
			ev = part.queue.Advance(ev, r.Timestamp)
			byEvent = markOutcomes(byEvent, len(ev), true)
			from := len(ev)
			ev = part.state.Apply(ev, &cmds[i], r.Timestamp)
			byEvent = markOutcomes(byEvent, len(ev), false)
			applied(from, r, &cmds[i])
		}
	}
	part.state.DrainQueueCommands(func(c *topics.Command) { fwd = append(fwd, *c) })
	if len(recs) > 0 {
		part.state.SetConsumed(recs[len(recs)-1].Offset + 1)
	}
	out := make([]*kgo.Record, len(ev))
	parallel(len(ev), func(i int) {
		e := &ev[i]
		m, err := topics.EncodeOutcome(e, topics.OutcomeRecordID(e))
		if err != nil {
			panic(fmt.Sprintf("processor: encode %s: %v", e.Type, err)) // our own types always encode
		}
		if byEvent[i] {
			m.Key = []byte(e.EventID.String())
		}
		out[i] = kafkarec.Record(names.Events, m)
		out[i].Partition = part.id
		if src := traced[i]; src != nil {
			// The command's context holds its receive span and nothing that is
			// ever cancelled.
			out[i].Context = src.Context
		}
	})
	for i, r := range out {
		p.m.outcomes.WithLabelValues(string(ev[i].Type)).Inc()
		if ev[i].Rejection != nil {
			p.m.rejections.WithLabelValues(string(ev[i].Rejection.Reason)).Inc()
		}
		p.sess.Produce(ctx, r, promise)
	}
	for _, r := range dead {
		p.sess.Produce(ctx, r, promise)
	}
	p.produceCommands(ctx, fwd, promise)
	if cap(ev) <= outcomesScratchMax {
		part.outcomes, part.byEvent = ev[:0], byEvent[:0]
	} else {
		part.outcomes, part.byEvent = nil, nil
	}
	if cap(fwd) <= outcomesScratchMax {
		part.commands = fwd[:0]
	} else {
		part.commands = nil
	}
	changelog := func(k, v []byte) {
		r := &kgo.Record{Topic: names.State, Partition: part.id, Key: clone(k)}
		if v != nil {
			r.Value = clone(v)
		}
		p.sess.Produce(ctx, r, promise)
	}
	part.state.DrainChanges(changelog)
	part.queue.DrainChanges(changelog)
}

// markOutcomes extends byEvent to n entries, the new ones set to queue.
func markOutcomes(byEvent []bool, n int, queue bool) []bool {
	for len(byEvent) < n {
		byEvent = append(byEvent, queue)
	}
	return byEvent
}

// produceCommands produces, in the transaction, the commands one writer owes
// another: holds the queue writer forwards to their zones, and the credits and stock
// notices zones owe their events' queue writers, each on its key's partition.
func (p *Processor) produceCommands(ctx context.Context, cmds []topics.Command, promise func(*kgo.Record, error)) {
	for i := range cmds {
		c := &cmds[i]
		m, err := topics.EncodeCommand(c)
		if err != nil {
			panic(fmt.Sprintf("processor: encode %s: %v", c.Type, err)) // our own types always encode
		}
		r := kafkarec.Record(p.cfg.Topics.Commands, m)
		r.Partition = topics.PartitionOf(c.Key(), p.cfg.Partitions)
		p.m.forwarded.WithLabelValues(string(c.Type)).Inc()
		p.sess.Produce(ctx, r, promise)
		*c = topics.Command{}
	}
}

// logApplied writes the debug line of an applied command: its request id (from
// the record's header, as the API wrote it) and its outcomes.
func (p *Processor) logApplied(ctx context.Context, r *kgo.Record, cmd *topics.Command, outs []topics.Outcome) {
	types := make([]string, len(outs))
	for i := range outs {
		types[i] = string(outs[i].Type)
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "command applied", slog.String("request_id", kafkarec.RequestID(r)),
		slog.String("type", string(cmd.Type)), slog.Any("outcomes", types), slog.Int("partition", int(r.Partition)),
		slog.Int64("offset", r.Offset), slog.String("trace_id", tracing.TraceID(r.Context)))
}

// outcomesScratchMax bounds the outcomes buffer a partition keeps between batches.
const outcomesScratchMax = 64 << 10

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
