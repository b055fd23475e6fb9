package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrKafkaNodes: Options.KafkaNodes is negative.
var ErrKafkaNodes = errors.New("devstack: kafka nodes must be 1 or more")

// Options says what Up starts.
type Options struct {
	// KafkaNodes is how many Kafka nodes run: 1 (the default, for 0) is a single
	// node (Stack.Kafka), more a KRaft cluster (Stack.Cluster) that replicates
	// min(KafkaNodes, 3) times.
	KafkaNodes int
	// Cluster are options of a cluster of more than one node.
	Cluster []ClusterOption
	// PostgresSettings are extra Postgres server settings (name=value), e.g. for
	// runs that trade durability for speed; none by default.
	PostgresSettings []string
	// Log receives a line per step (the servers' start and stop); nil for none.
	Log io.Writer
}

// Stack is a running Kafka and Postgres. Exactly one of Kafka and Cluster is set.
type Stack struct {
	Kafka    *Kafka        // the single node
	Cluster  *KafkaCluster // the cluster of more than one node
	Postgres *Postgres

	start time.Time
	logMu sync.Mutex
	log   io.Writer
}

// Up starts Kafka and Postgres side by side and returns once both answer. What it
// started is removed again when either fails.
func Up(ctx context.Context, o Options) (*Stack, error) {
	if o.KafkaNodes < 0 {
		return nil, fmt.Errorf("%w: %d", ErrKafkaNodes, o.KafkaNodes)
	}
	nodes := max(o.KafkaNodes, 1)
	s := &Stack{start: time.Now(), log: o.Log}
	s.logf("==> starting Kafka (%s, %d node(s)) and Postgres (%s)", KafkaImage(), nodes, PostgresImage())
	var kerr, perr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if kerr = s.startKafka(ctx, nodes, o.Cluster); kerr == nil {
			s.logf("    Kafka at %s after %s", strings.Join(s.Brokers(), ","), since(s.start))
		}
	})
	wg.Go(func() {
		if s.Postgres, perr = StartPostgres(ctx, PostgresImage(), o.PostgresSettings...); perr == nil {
			s.logf("    Postgres at %s after %s", s.Postgres.URL, since(s.start))
		}
	})
	wg.Wait()
	if err := errors.Join(kerr, perr); err != nil {
		return nil, errors.Join(err, s.Down(context.Background()))
	}
	return s, nil
}

func (s *Stack) startKafka(ctx context.Context, nodes int, opts []ClusterOption) error {
	var err error
	if nodes == 1 {
		s.Kafka, err = StartKafka(ctx, KafkaImage())
	} else {
		s.Cluster, err = StartKafkaCluster(ctx, KafkaImage(), nodes, opts...)
	}
	return err
}

// Brokers are Kafka's client addresses. A cluster node's changes when it is
// started again (KafkaCluster.StartNode).
func (s *Stack) Brokers() []string {
	if s.Cluster != nil {
		return s.Cluster.Brokers
	}
	if s.Kafka != nil {
		return s.Kafka.Brokers
	}
	return nil
}

// Env is ticketd's environment for this stack: KAFKA_BROKERS, DATABASE_URL and, on
// a cluster, REPLICATION_FACTOR.
func (s *Stack) Env() []string {
	env := []string{"KAFKA_BROKERS=" + strings.Join(s.Brokers(), ","), "DATABASE_URL=" + s.Postgres.URL}
	if s.Cluster != nil {
		env = append(env, "REPLICATION_FACTOR="+strconv.Itoa(s.Cluster.ReplicationFactor()))
	}
	return env
}

// Down removes the containers and returns every failure.
func (s *Stack) Down(ctx context.Context) error {
	var errs []error
	stop := func(what string, f func(context.Context) error) {
		s.logf("==> stopping %s", what)
		if err := f(ctx); err != nil {
			s.logf("    %v", err)
			errs = append(errs, err)
		}
	}
	switch {
	case s.Cluster != nil:
		stop("Kafka", s.Cluster.Stop)
	case s.Kafka != nil:
		stop("Kafka", s.Kafka.Stop)
	}
	if s.Postgres != nil {
		stop("Postgres", s.Postgres.Stop)
	}
	return errors.Join(errs...)
}

func (s *Stack) logf(format string, args ...any) {
	if s.log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.log, format+"\n", args...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
