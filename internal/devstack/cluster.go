package devstack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	"golang.org/x/sync/errgroup"
)

// KafkaCluster is a running multi-node KRaft cluster: every node is both broker and
// controller, all nodes vote in the controller quorum, and the nodes reach each other
// on a Docker network of their own, node i at kafka-<i> (its node.id is i).
//
// Clients connect through the host's mapped ports. Docker maps a new host port when a
// container restarts, so StartNode re-advertises the node at its new port and updates
// Brokers[i]; clients learn it from metadata, the other seeds stay valid.
type KafkaCluster struct {
	// Brokers are the nodes' client addresses, Brokers[i] for node i.
	Brokers []string

	network *testcontainers.DockerNetwork
	nodes   []testcontainers.Container

	mu     sync.Mutex
	starts []int // how many times node i has been started
}

// nodeStopTimeout bounds a node's controlled shutdown in StopNode before Docker kills it.
const nodeStopTimeout = 30 * time.Second

// StartKafkaCluster runs a KRaft cluster of the given number of nodes (3 for the
// reliability tests), started concurrently. Internal topics get replication factor
// min(nodes, 3) and, from 3 nodes on, min.insync.replicas 2, which is also the
// broker default.
func StartKafkaCluster(ctx context.Context, image string, nodes int, opts ...ClusterOption) (*KafkaCluster, error) {
	var o clusterOptions
	for _, opt := range opts {
		opt(&o)
	}
	if nodes < 1 {
		return nil, fmt.Errorf("devstack: kafka cluster of %d nodes", nodes)
	}
	nw, err := network.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("devstack: kafka cluster network: %w", err)
	}
	c := &KafkaCluster{
		Brokers: make([]string, nodes),
		network: nw,
		nodes:   make([]testcontainers.Container, nodes),
		starts:  make([]int, nodes),
	}
	voters := make([]string, nodes)
	for i := range voters {
		voters[i] = fmt.Sprintf("%d@%s:9094", i, nodeAlias(i))
	}
	rf := min(nodes, 3)
	minISR := max(rf-1, 1)
	hostPorts, err := o.hostPorts(nodes)
	if err != nil {
		_ = nw.Remove(ctx)
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range nodes {
		g.Go(func() error {
			req := clusterNodeRequest(image, nw.Name, i, strings.Join(voters, ","), rf, minISR)
			if hostPorts != nil {
				req.HostConfigModifier = bindHostPort(hostPorts[i])
			}
			n, err := testcontainers.GenericContainer(gctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
			if n != nil {
				c.nodes[i] = n // each goroutine writes its own elements
			}
			if err != nil {
				return fmt.Errorf("devstack: kafka node %d (%s): %w", i, image, err)
			}
			host, port, err := hostPort(ctx, n, kafkaPort)
			if err != nil {
				return err
			}
			c.Brokers[i] = hostJoin(host, port)
			c.starts[i] = 1
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		_ = c.Stop(context.Background())
		return nil, err
	}
	return c, nil
}

func nodeAlias(i int) string { return "kafka-" + strconv.Itoa(i) }

func clusterNodeRequest(image, networkName string, i int, voters string, rf, minISR int) testcontainers.ContainerRequest {
	alias := nodeAlias(i)
	return testcontainers.ContainerRequest{
		Image:          image,
		ExposedPorts:   []string{kafkaPort},
		Networks:       []string{networkName},
		NetworkAliases: map[string][]string{networkName: {alias}},
		Env: map[string]string{
			"CLUSTER_ID":                                     clusterID,
			"KAFKA_NODE_ID":                                  strconv.Itoa(i),
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_LISTENERS":                                "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME":               "BROKER",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                 voters,
			"KAFKA_DEFAULT_REPLICATION_FACTOR":               strconv.Itoa(rf),
			"KAFKA_MIN_INSYNC_REPLICAS":                      strconv.Itoa(minISR),
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         strconv.Itoa(rf),
			"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":             "4",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": strconv.Itoa(rf),
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            strconv.Itoa(minISR),
			"KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS":     "4",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
			"KAFKA_LOG_DIRS":                                 "/tmp/kafka-logs",
			"KAFKA_HEAP_OPTS":                                "-Xms256m -Xmx768m",
		},
		// As in StartKafka. Before every start the start file is made not ready, so a
		// restarted node waits for the one naming the port Docker mapped this time.
		Entrypoint: []string{"sh", "-c", kafkaEntrypoint},
		LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
			PreStarts: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
				return c.CopyToContainer(ctx, []byte("# not ready: written after start\n"), kafkaStartFile, 0o644)
			}},
			PostStarts: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
				return advertiseAs(ctx, c, alias)
			}},
		}},
		WaitingFor: nodeStarted(1),
	}
}

// advertiseAs writes a cluster node's start file: clients reach it at the host's
// mapped port, the other nodes at its network alias.
func advertiseAs(ctx context.Context, c testcontainers.Container, alias string) error {
	host, port, err := hostPort(ctx, c, kafkaPort)
	if err != nil {
		return err
	}
	script := fmt.Sprintf("export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s,BROKER://%s:9093\n%s\n", hostJoin(host, port), alias, kafkaStartReady)
	return c.CopyToContainer(ctx, []byte(script), kafkaStartFile, 0o644)
}

// nodeStarted waits for a node's n-th start: a restarted container's log still holds
// the earlier runs' lines.
func nodeStarted(n int) wait.Strategy {
	return wait.ForLog("Kafka Server started").WithOccurrence(n).WithStartupTimeout(2 * time.Minute)
}

// Node is node i's container.
func (c *KafkaCluster) Node(i int) testcontainers.Container { return c.nodes[i] }

// StopNode stops node i, letting it shut down cleanly (it hands its partitions'
// leadership over) for up to 30 seconds before Docker kills it. Its disk is kept.
func (c *KafkaCluster) StopNode(ctx context.Context, i int) error {
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("devstack: no kafka node %d", i)
	}
	timeout := nodeStopTimeout
	if err := c.nodes[i].Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("devstack: stop kafka node %d: %w", i, err)
	}
	return nil
}

// StartNode starts a stopped node i again and waits until its broker is up. Docker
// maps it a new host port: the node advertises that one and Brokers[i] is updated
// (not safe to read Brokers concurrently with StartNode).
func (c *KafkaCluster) StartNode(ctx context.Context, i int) error {
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("devstack: no kafka node %d", i)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[i]
	dc, ok := n.(*testcontainers.DockerContainer)
	if !ok {
		return fmt.Errorf("devstack: kafka node %d is a %T", i, n)
	}
	// Start runs the PostStarts hook, which writes the start file with the new port,
	// then waits for this start's "Kafka Server started".
	dc.WaitingFor = nodeStarted(c.starts[i] + 1)
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("devstack: start kafka node %d: %w", i, err)
	}
	c.starts[i]++
	host, port, err := hostPort(ctx, n, kafkaPort)
	if err != nil {
		return err
	}
	c.Brokers[i] = hostJoin(host, port)
	return nil
}

// Stop removes all the nodes, then the network. The nodes are killed, not shut down
// cleanly: nothing of them is kept, and the last ones could not reach a quorum anyway.
func (c *KafkaCluster) Stop(ctx context.Context) error {
	errs := make([]error, len(c.nodes)+1)
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() {
			if err := testcontainers.TerminateContainer(n, testcontainers.StopContext(ctx), testcontainers.StopTimeout(0)); err != nil {
				errs[i] = fmt.Errorf("devstack: remove kafka node %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	if c.network != nil {
		if err := c.network.Remove(ctx); err != nil {
			errs[len(c.nodes)] = fmt.Errorf("devstack: remove kafka cluster network: %w", err)
		}
	}
	return errors.Join(errs...)
}
