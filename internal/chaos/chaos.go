// Package chaos runs the system under faults and checks its invariants: a 3-node
// Kafka cluster (replication 3, min.insync.replicas 2), Postgres, and ticketd as
// separate processes (api, two processors, sink) take a steady load of holds,
// confirms, releases, expiries and retries while a seeded schedule kills, stops,
// pauses and cuts off processes and brokers. Once the faults stop and the system has
// drained, Run checks every invariant and returns a report.
package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Defaults of Config.
const (
	DurationDefault     = 5 * time.Minute
	RateDefault         = 60 // requests per second
	DrainTimeoutDefault = 3 * time.Minute
	partitions          = 4
	brokers             = 3                // replication 3, min.insync.replicas 2
	zoneTTL             = 10 * time.Second // the shortest a zone allows
	progressEvery       = 10 * time.Second
	drainPollEvery      = 3 * time.Second
	zonesVisibleTimeout = 3 * time.Minute
	setupAttempts       = 30
	adminToken          = "chaos-admin-token-0123456789"
)

// zonePlan is the zones of the run: small ones sell out (and are topped up), large
// ones do not.
var zonePlan = []struct {
	capacity int64
	small    bool
}{{20, true}, {20, true}, {30, true}, {2000, false}, {2000, false}, {2000, false}, {3000, false}, {3000, false}}

// Config configures a run. Zero values take the defaults.
type Config struct {
	// Duration is how long faults are planned for; the load runs as long, or until
	// the last planned fault has run its course.
	Duration time.Duration
	// Seed chooses the fault schedule (and the load's choices).
	Seed int64
	// Rate is the load in requests per second.
	Rate float64
	// DrainTimeout bounds the wait, after the faults, for every request to be decided
	// and the read model to catch up.
	DrainTimeout time.Duration
	// Dir receives the components' logs and the ticketd binary (default: a new
	// temporary directory, kept).
	Dir string
	// Out receives progress lines.
	Out io.Writer
}

func (c *Config) defaults() error {
	if c.Duration <= 0 {
		c.Duration = DurationDefault
	}
	if c.Rate <= 0 {
		c.Rate = RateDefault
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DrainTimeoutDefault
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Dir == "" {
		d, err := os.MkdirTemp("", fmt.Sprintf("chaos-%d-", c.Seed))
		if err != nil {
			return err
		}
		c.Dir = d
	}
	return os.MkdirAll(c.Dir, 0o755)
}

// run is one chaos run's moving parts.
type run struct {
	cfg     Config
	start   time.Time
	v       *violations
	bin     string
	stack   *devstack.Stack
	cluster *devstack.KafkaCluster // the stack's
	db      *pgxpool.Pool
	env     []string // ticketd's, beside this process's
	procs   map[string]*proc
	dupMu   sync.Mutex
	dups    []*proc
	apiURL  string
	fold    *fold
	load    *load
	inj     *injector
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Out, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// Run runs the system under faults for cfg.Duration, lets it drain and checks it.
// An error means the run itself could not be carried out; broken invariants are in
// the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, start: time.Now(), v: newViolations(), procs: map[string]*proc{}}
	r.logf("chaos: seed %d, faults for %s, %g requests/s, logs in %s", cfg.Seed, cfg.Duration, cfg.Rate, cfg.Dir)
	schedule := NewSchedule(cfg.Seed, cfg.Duration, zoneTTL, brokers)
	for _, f := range schedule {
		r.logf("planned %s", f)
	}
	defer r.teardown()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	zones, err := r.createZones(ctx)
	if err != nil {
		return nil, err
	}
	return r.exercise(ctx, schedule, zones)
}

func (r *run) exercise(ctx context.Context, schedule []Fault, zones []zoneInfo) (*Report, error) {
	foldCtx, stopFold := context.WithCancel(ctx)
	defer stopFold()
	r.fold = newFold(r.v)
	go func() { _ = r.fold.consume(foldCtx, r.cluster.Brokers, topics.DefaultNames.Events) }()

	r.load = newLoad(r.apiURL, adminToken, r.db, r.cfg.Seed, zones)
	r.inj = newInjector(r.cluster, r.procs, r.newDup, r.logf)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go r.load.follow(followCtx, zoneTTL)
	var wg sync.WaitGroup
	wg.Go(func() { r.load.run(loadCtx, r.cfg.Rate) })
	progressDone := make(chan struct{})
	go r.progress(loadCtx, progressDone)
	minEnd := time.After(r.cfg.Duration)
	r.inj.run(ctx, schedule, r.cfg.Duration)
	select {
	case <-minEnd:
	case <-ctx.Done():
	}
	stopLoad()
	wg.Wait()
	<-progressDone
	stopFollow()
	r.logf("faults over: %d injected; load stopped; every component started", r.inj.total())
	for _, p := range r.procs {
		if err := p.start(); err != nil {
			return nil, err
		}
	}
	drained := r.drain(ctx)
	return r.check(ctx, drained)
}

func (r *run) progress(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	every(ctx, progressEvery, func() {
		var down []string
		for _, n := range []string{"api", "p1", "p2", "sink"} {
			if !r.procs[n].running() {
				down = append(down, n)
			}
		}
		r.logf("progress: faults %d | sent %d, accepted %d, failed %d, skipped %d | down: %s",
			r.inj.total(), r.load.sent.Load(), r.load.ok202.Load(), r.load.failed.Load(), r.load.skipped.Load(), strings.Join(down, ","))
	})
}

// every calls f every d until ctx is done.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
	}
}

// setup builds ticketd, starts Kafka and Postgres, creates the topics and starts
// the components.
func (r *run) setup(ctx context.Context) error {
	var err error
	if r.bin, err = devstack.BuildTicketd(ctx, r.cfg.Dir); err != nil {
		return err
	}
	r.stack, err = devstack.Up(ctx, devstack.Options{
		KafkaNodes:       brokers,
		Cluster:          []devstack.ClusterOption{devstack.WithFixedHostPorts()},
		PostgresSettings: []string{"fsync=off"},
	})
	if err != nil {
		return err
	}
	r.cluster = r.stack.Cluster
	r.logf("kafka %v and postgres up", r.cluster.Brokers)
	if r.db, err = pgxpool.New(ctx, r.stack.Postgres.URL); err != nil {
		return err
	}
	r.env = append(r.stack.Env(),
		"ADMIN_TOKEN="+adminToken,
		fmt.Sprintf("PARTITIONS=%d", partitions),
		"LOG_LEVEL=info",
	)
	for _, step := range []string{"topics", "migrate"} {
		if err := r.once(ctx, step); err != nil {
			return err
		}
	}
	return r.startComponents(ctx)
}

// once runs a one-off ticketd command until it succeeds.
func (r *run) once(ctx context.Context, command string) error {
	var out []byte
	var err error
	for range setupAttempts {
		cmd := exec.CommandContext(ctx, r.bin, command)
		cmd.Env = append(os.Environ(), r.env...)
		if out, err = cmd.CombinedOutput(); err == nil {
			return nil
		}
		time.Sleep(2 * time.Second)
	}
	return fmt.Errorf("ticketd %s: %v\n%s", command, err, out)
}

func (r *run) startComponents(ctx context.Context) error {
	for _, c := range []struct{ name, command string }{{"api", "api"}, {"p1", "processor"}, {"p2", "processor"}, {"sink", "sink"}} {
		p, err := r.newProc(c.name, c.command, c.name)
		if err != nil {
			return err
		}
		if c.name == "api" {
			r.apiURL = "http://" + p.spec.Addr
		}
		r.procs[c.name] = p
		if err := p.start(); err != nil {
			return err
		}
	}
	if err := devstack.WaitReady(ctx, r.apiURL, nil); err != nil {
		return fmt.Errorf("%w: api: %w", errNotReady, err)
	}
	r.logf("api ready at %s", r.apiURL)
	return nil
}

// newProc makes a process of a ticketd command on a free port of its own.
func (r *run) newProc(name, command, instance string) (*proc, error) {
	addr, err := devstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	return newProc(name, devstack.Process{
		Bin: r.bin, Command: command, Addr: addr,
		Env: append(append([]string(nil), r.env...), "INSTANCE="+instance),
	}, r.cfg.Dir), nil
}

// newDup makes a second processor with the same INSTANCE as a running one.
func (r *run) newDup(instance string) (*proc, error) {
	r.dupMu.Lock()
	defer r.dupMu.Unlock()
	p, err := r.newProc(fmt.Sprintf("%s-dup%d", instance, len(r.dups)+1), "processor", instance)
	if err != nil {
		return nil, err
	}
	r.dups = append(r.dups, p)
	return p, nil
}

// eachProc runs f on every process, components and duplicates, side by side, and
// waits for all.
func (r *run) eachProc(f func(*proc)) {
	var wg sync.WaitGroup
	for _, p := range r.procs {
		wg.Go(func() { f(p) })
	}
	r.dupMu.Lock()
	for _, p := range r.dups {
		wg.Go(func() { f(p) })
	}
	r.dupMu.Unlock()
	wg.Wait()
}

// teardown stops every process, then the containers.
func (r *run) teardown() {
	r.eachProc((*proc).close)
	if r.db != nil {
		r.db.Close()
	}
	if r.stack == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range brokers {
		_ = r.cluster.UnpauseNode(ctx, i) // a paused container is not removed cleanly
	}
	if err := r.stack.Down(ctx); err != nil {
		r.logf("stop the containers: %v", err)
	}
}
