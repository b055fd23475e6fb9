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

	network     *testcontainers.DockerNetwork
	nodes       []testcontainers.Container
	replication int

	mu     sync.Mutex
	starts []int // how many times node i has been started
}

// replicationMax is the highest replication factor a cluster gives its topics.
const replicationMax = 3

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
	rf := min(nodes, replicationMax)
	minISR := max(rf-1, 1)
	c.replication = rf
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
			n, addr, err := startContainer(gctx, req, "kafka node "+strconv.Itoa(i))
			if err != nil {
				return err
			}
			// Each goroutine writes its own elements.
			c.nodes[i], c.Brokers[i], c.starts[i] = n, addr, 1
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		_ = c.Stop(context.Background())
		return nil, err
	}
	return c, nil
}

// ReplicationFactor is the replication factor of the internal topics, and the one
// ticketd should give its own: min(nodes, 3).
func (c *KafkaCluster) ReplicationFactor() int { return c.replication }

func nodeAlias(i int) string { return "kafka-" + strconv.Itoa(i) }

func clusterNodeRequest(image, networkName string, i int, voters string, rf, minISR int) testcontainers.ContainerRequest {
	alias := nodeAlias(i)
	req := kafkaRequest(image, alias, kafkaEnv(kafkaNode{
		id: i, voters: voters, replication: rf, minISR: minISR, heap: "-Xms256m -Xmx768m",
	}))
	req.Networks = []string{networkName}
	req.NetworkAliases = map[string][]string{networkName: {alias}}
	return req
}

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
