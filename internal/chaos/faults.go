package chaos

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

// Broker healing bounds.
const (
	brokerStartAttempts = 3
	brokerOpTimeout     = 3 * time.Minute
	// isrWaitMax bounds the wait, before a broker fault, for every partition to have
	// all its replicas in sync again: one broker down at a time is what the cluster
	// is built to survive, and a broker that has not caught up yet is as good as down.
	isrWaitMax  = 90 * time.Second
	isrPollWait = time.Second
)

// injector runs a schedule of faults against the cluster and the components.
type injector struct {
	cluster *devstack.KafkaCluster
	procs   map[string]*proc
	dup     func(instance string) (*proc, error) // a new duplicate processor
	logf    func(format string, args ...any)

	mu      sync.Mutex
	counts  map[Kind]int
	errs    []string
	dropped []Fault
	end     time.Time // a fault that cannot start before this is dropped
	// locks serialise faults on the same target; broker faults share one lock so that
	// at most one broker is down at a time and the cluster keeps its quorum.
	locks map[string]*sync.Mutex
}

func newInjector(c *devstack.KafkaCluster, procs map[string]*proc, dup func(string) (*proc, error), logf func(string, ...any)) *injector {
	in := &injector{cluster: c, procs: procs, dup: dup, logf: logf, counts: map[Kind]int{}, locks: map[string]*sync.Mutex{}}
	for _, k := range []string{"api", "p1", "p2", "sink", "brokers"} {
		in.locks[k] = &sync.Mutex{}
	}
	return in
}

// run starts each fault of the schedule at its time, or later when an earlier fault
// still holds its target, and returns once every fault has run its course. A fault
// that cannot start within d (on a machine slower than the schedule assumes) is
// dropped and reported; when ctx is done the faults heal at once.
func (in *injector) run(ctx context.Context, schedule []Fault, d time.Duration) {
	start := time.Now()
	in.end = start.Add(d)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, f := range schedule {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(f.At))):
		}
		wg.Go(func() { in.inject(ctx, f) })
	}
}

// lockNames are the locks a fault takes, in a fixed order.
func lockNames(f Fault) []string {
	switch f.Kind {
	case KillComponent, StopComponent, DuplicateInstance:
		return []string{f.Target}
	case ProcessorsDown:
		return []string{"p1", "p2"}
	case RestoreInFailure:
		return []string{f.Second, "brokers"}
	default:
		return []string{"brokers"}
	}
}

func (in *injector) inject(ctx context.Context, f Fault) {
	names := lockNames(f)
	for _, n := range names {
		in.locks[n].Lock()
		defer in.locks[n].Unlock()
	}
	if ctx.Err() != nil {
		return // the run was aborted while this one waited its turn
	}
	if time.Now().After(in.end) {
		in.mu.Lock()
		in.dropped = append(in.dropped, f)
		in.mu.Unlock()
		in.logf("fault dropped, its target was busy until the end: %s", f)
		return
	}
	in.mu.Lock()
	in.counts[f.Kind]++
	in.mu.Unlock()
	in.logf("fault: %s", f)
	if err := in.do(ctx, f); err != nil {
		in.mu.Lock()
		in.errs = append(in.errs, fmt.Sprintf("%s: %v", f, err))
		in.mu.Unlock()
		in.logf("fault %s: %v", f.Kind, err)
	}
}

// hold waits for d or until ctx is done.
func hold(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (in *injector) do(ctx context.Context, f Fault) error {
	switch f.Kind {
	case KillComponent:
		p := in.procs[f.Target]
		p.kill()
		hold(ctx, f.Hold)
		return p.start()
	case StopComponent:
		p := in.procs[f.Target]
		p.pause()
		hold(ctx, f.Hold)
		p.resume()
		return nil
	case DuplicateInstance:
		d, err := in.dup(f.Target)
		if err != nil {
			return err
		}
		if err := d.start(); err != nil {
			return err
		}
		hold(ctx, f.Hold)
		d.kill()
		return in.procs[f.Target].start() // if the original gave way, it comes back
	case ProcessorsDown:
		in.procs["p1"].kill()
		in.procs["p2"].kill()
		hold(ctx, f.Hold)
		return firstErr(in.procs["p1"].start(), in.procs["p2"].start())
	default:
		return in.brokerFault(ctx, f)
	}
}

// waitInSync waits, within isrWaitMax, until every partition has all its replicas
// in sync.
func (in *injector) waitInSync(ctx context.Context) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(in.cluster.Brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(isrWaitMax)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		mctx, cancel := context.WithTimeout(ctx, isrPollWait*5)
		md, err := adm.Metadata(mctx)
		cancel()
		if err == nil && inSync(md) {
			return
		}
		time.Sleep(isrPollWait)
	}
	in.logf("replicas still out of sync after %s; the fault goes ahead", isrWaitMax)
}

func inSync(md kadm.Metadata) bool {
	for _, t := range md.Topics {
		if t.Err != nil {
			return false
		}
		for _, p := range t.Partitions {
			if p.Err != nil || len(p.ISR) < len(p.Replicas) {
				return false
			}
		}
	}
	return true
}

// brokerFault takes a broker down, holds, and brings it back. RestoreInFailure
// pauses the broker and, while it is paused, kills a processor and starts it again,
// so that its partitions restore during the failure.
func (in *injector) brokerFault(ctx context.Context, f Fault) error {
	b, err := brokerIndex(f.Target)
	if err != nil {
		return err
	}
	var down, up func(context.Context, int) error
	during := func() error { return nil }
	switch f.Kind {
	case KillBroker:
		down, up = in.cluster.KillNode, in.startBroker
	case RestartBroker:
		down, up = in.cluster.StopNode, in.startBroker
	case PauseBroker:
		down, up = in.cluster.PauseNode, in.cluster.UnpauseNode
	case CutBroker:
		down, up = in.cluster.DisconnectNode, in.cluster.ConnectNode
	case RestoreInFailure:
		down, up = in.cluster.PauseNode, in.cluster.UnpauseNode
		during = func() error {
			p := in.procs[f.Second]
			p.kill()
			time.Sleep(time.Second)
			return p.start()
		}
	default:
		return fmt.Errorf("unknown fault kind %q", f.Kind)
	}
	in.waitInSync(ctx)
	bctx, cancel := context.WithTimeout(context.Background(), brokerOpTimeout)
	defer cancel()
	if err := down(bctx, b); err != nil {
		return err
	}
	derr := during()
	hold(ctx, f.Hold)
	return firstErr(derr, up(bctx, b))
}

// startBroker starts a stopped broker, retrying: a start can time out on a busy
// machine.
func (in *injector) startBroker(ctx context.Context, b int) error {
	var err error
	for range brokerStartAttempts {
		if err = in.cluster.StartNode(ctx, b); err == nil {
			return nil
		}
		in.logf("start broker %d: %v; again", b, err)
	}
	return err
}

func brokerIndex(target string) (int, error) {
	s, ok := strings.CutPrefix(target, "broker-")
	if !ok {
		return 0, fmt.Errorf("not a broker: %q", target)
	}
	return strconv.Atoi(s)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Counts returns the faults injected by kind.
func (in *injector) faultCounts() map[Kind]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return maps.Clone(in.counts)
}

func (in *injector) total() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, c := range in.counts {
		n += c
	}
	return n
}
