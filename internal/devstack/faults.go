package devstack

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// ClusterOption changes how StartKafkaCluster runs its nodes.
type ClusterOption func(*clusterOptions)

type clusterOptions struct {
	fixedHostPorts bool
}

// WithFixedHostPorts publishes every node's client port on a host port chosen once
// at start and kept for the cluster's life. Docker otherwise maps a new port each
// time a node restarts or rejoins its network; with fixed ports the addresses
// clients were given stay valid through DisconnectNode and ConnectNode (for the
// chaos run, which cuts nodes off the network).
func WithFixedHostPorts() ClusterOption {
	return func(o *clusterOptions) { o.fixedHostPorts = true }
}

// hostPorts picks a free host port per node, or returns nil without fixed ports.
func (o clusterOptions) hostPorts(nodes int) ([]string, error) {
	if !o.fixedHostPorts {
		return nil, nil
	}
	ports := make([]string, nodes)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("devstack: pick a host port: %w", err)
		}
		ports[i] = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		_ = l.Close()
	}
	return ports, nil
}

func bindHostPort(port string) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		hc.PortBindings = network.PortMap{network.MustParsePort(kafkaPort): {{HostPort: port}}}
	}
}

// docker runs f with a Docker client and node i's container id.
func (c *KafkaCluster) docker(ctx context.Context, i int, what string, f func(*testcontainers.DockerClient, string) error) error {
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("devstack: no kafka node %d", i)
	}
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("devstack: docker client: %w", err)
	}
	defer dc.Close()
	if err := f(dc, c.nodes[i].GetContainerID()); err != nil {
		return fmt.Errorf("devstack: %s kafka node %d: %w", what, i, err)
	}
	return nil
}

// PauseNode freezes node i's processes (docker pause): it holds its connections
// open and answers nothing, like a machine that stalls.
func (c *KafkaCluster) PauseNode(ctx context.Context, i int) error {
	return c.docker(ctx, i, "pause", func(dc *testcontainers.DockerClient, id string) error {
		_, err := dc.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		return err
	})
}

// UnpauseNode lets a paused node i run again.
func (c *KafkaCluster) UnpauseNode(ctx context.Context, i int) error {
	return c.docker(ctx, i, "unpause", func(dc *testcontainers.DockerClient, id string) error {
		_, err := dc.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	})
}

// KillNode kills node i with SIGKILL: no controlled shutdown, no leadership handed
// over. Its disk is kept; StartNode brings it back.
func (c *KafkaCluster) KillNode(ctx context.Context, i int) error {
	return c.docker(ctx, i, "kill", func(dc *testcontainers.DockerClient, id string) error {
		_, err := dc.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
		return err
	})
}

// DisconnectNode cuts node i off the cluster's network: the other nodes and the
// clients lose it while it keeps running.
func (c *KafkaCluster) DisconnectNode(ctx context.Context, i int) error {
	return c.docker(ctx, i, "disconnect", func(dc *testcontainers.DockerClient, id string) error {
		_, err := dc.NetworkDisconnect(ctx, c.network.ID, client.NetworkDisconnectOptions{Container: id, Force: true})
		return err
	})
}

// ConnectNode puts node i back on the cluster's network under its alias. Clients
// reach it again at its address only with WithFixedHostPorts: otherwise Docker
// publishes its port anew on another host port.
func (c *KafkaCluster) ConnectNode(ctx context.Context, i int) error {
	return c.docker(ctx, i, "connect", func(dc *testcontainers.DockerClient, id string) error {
		_, err := dc.NetworkConnect(ctx, c.network.ID, client.NetworkConnectOptions{
			Container:      id,
			EndpointConfig: &network.EndpointSettings{Aliases: []string{nodeAlias(i)}},
		})
		return err
	})
}
