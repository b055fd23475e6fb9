// Package devstack starts the system for development and tests: real Kafka (one
// node or a KRaft cluster) and Postgres servers in Docker with testcontainers-go
// (Up, or StartKafka and StartPostgres alone), and ticketd, as a process or in this
// one, ready when its GET /ready answers (StartTicketd, RunTicketd). `make run`
// (cmd/devstack), loadgen's self mode, the end-to-end and crash tests, the chaos
// harness and internal/testenv all start through it. Containers are removed by
// Stop; nothing relies on a reaper.
package devstack

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Default images, the official ones; KAFKA_IMAGE and POSTGRES_IMAGE override them
// (`make deps` points them at local builds where no registry can be reached).
const (
	KafkaImageDefault    = "apache/kafka:4.1.1"
	PostgresImageDefault = "postgres:15"
)

// KafkaImage is the Kafka image to run.
func KafkaImage() string { return envOr("KAFKA_IMAGE", KafkaImageDefault) }

// PostgresImage is the Postgres image to run.
func PostgresImage() string { return envOr("POSTGRES_IMAGE", PostgresImageDefault) }

// server is a running container.
type server struct {
	container testcontainers.Container
}

// Stop removes the container.
func (s *server) Stop(ctx context.Context) error {
	return testcontainers.TerminateContainer(s.container, testcontainers.StopContext(ctx))
}

// Kafka is a running single-node KRaft cluster.
type Kafka struct {
	Brokers []string
	server
}

const (
	kafkaPort      = "9092/tcp"
	kafkaStartFile = "/tmp/ut-advertised.sh"
	// kafkaStartReady ends a complete start file: Docker writes a copied file in
	// steps, and one found half-written must not be read.
	kafkaStartReady = "# ready"
	kafkaEntrypoint = "until grep -qsx '" + kafkaStartReady + "' " + kafkaStartFile + "; do sleep 0.1; done; . " +
		kafkaStartFile + "; exec /etc/kafka/docker/run"
	// clusterID is the KRaft cluster id: fixed, the cluster lives as long as its container.
	clusterID = "5L6g3nShT-eMCtK--X86sw"
	// kafkaStartTimeout bounds a node's start, JVM start-up included.
	kafkaStartTimeout = 2 * time.Minute
)

// StartKafka runs a single-node KRaft Kafka. The container waits for a start file
// naming the advertised listener, which is only known once Docker has mapped the
// port; clients connect through that mapped port.
func StartKafka(ctx context.Context, image string) (*Kafka, error) {
	req := kafkaRequest(image, "localhost", kafkaEnv(kafkaNode{
		id: 1, voters: "1@localhost:9094", replication: 1, minISR: 1, heap: "-Xms512m -Xmx1g",
	}))
	c, addr, err := startContainer(ctx, req, "kafka")
	if err != nil {
		return nil, err
	}
	return &Kafka{Brokers: []string{addr}, server: server{c}}, nil
}

// kafkaNode is what sets one KRaft node apart.
type kafkaNode struct {
	id                  int
	voters              string // the controller quorum, id@host:port,…
	replication, minISR int    // of the internal topics, and the defaults of new ones
	heap                string // KAFKA_HEAP_OPTS
}

// kafkaEnv configures a node that is both broker and controller: clients use the
// PLAINTEXT listener, the nodes talk to each other on BROKER and CONTROLLER.
func kafkaEnv(n kafkaNode) map[string]string {
	return map[string]string{
		"CLUSTER_ID":                                     clusterID,
		"KAFKA_NODE_ID":                                  strconv.Itoa(n.id),
		"KAFKA_PROCESS_ROLES":                            "broker,controller",
		"KAFKA_LISTENERS":                                "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME":               "BROKER",
		"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":                 n.voters,
		"KAFKA_DEFAULT_REPLICATION_FACTOR":               strconv.Itoa(n.replication),
		"KAFKA_MIN_INSYNC_REPLICAS":                      strconv.Itoa(n.minISR),
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         strconv.Itoa(n.replication),
		"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":             "4",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": strconv.Itoa(n.replication),
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            strconv.Itoa(n.minISR),
		"KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS":     "4",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
		"KAFKA_LOG_DIRS":                                 "/tmp/kafka-logs",
		"KAFKA_HEAP_OPTS":                                n.heap,
	}
}

// kafkaRequest is a Kafka node's container. Before every start the start file is
// made not ready, so that a restarted node waits for the one naming the port Docker
// mapped this time; after the start, the file is written. The other nodes reach this
// one at alias.
func kafkaRequest(image, alias string, env map[string]string) testcontainers.ContainerRequest {
	return testcontainers.ContainerRequest{
		Image:        image,
		ExposedPorts: []string{kafkaPort},
		Env:          env,
		Entrypoint:   []string{"sh", "-c", kafkaEntrypoint},
		LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
			PreStarts: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
				return c.CopyToContainer(ctx, []byte("# not ready: written after start\n"), kafkaStartFile, 0o644)
			}},
			PostStarts: []testcontainers.ContainerHook{func(ctx context.Context, c testcontainers.Container) error {
				return advertise(ctx, c, alias)
			}},
		}},
		WaitingFor: nodeStarted(1),
	}
}

// advertise writes a node's start file: clients reach it at the host's mapped port,
// the other nodes at alias.
func advertise(ctx context.Context, c testcontainers.Container, alias string) error {
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
	return wait.ForLog("Kafka Server started").WithOccurrence(n).WithStartupTimeout(kafkaStartTimeout)
}

// startContainer creates and starts a container and returns it with the host
// address of its first exposed port. A container that does not start is removed.
func startContainer(ctx context.Context, req testcontainers.ContainerRequest, what string) (testcontainers.Container, string, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err == nil {
		var host, port string
		if host, port, err = hostPort(ctx, c, req.ExposedPorts[0]); err == nil {
			return c, hostJoin(host, port), nil
		}
	}
	if c != nil {
		_ = testcontainers.TerminateContainer(c)
	}
	return nil, "", fmt.Errorf("devstack: %s (%s): %w", what, req.Image, err)
}

// Postgres is a running Postgres server.
type Postgres struct {
	URL string
	server
}

const (
	pgPort     = "5432/tcp"
	pgUser     = "ultimate_ticket"
	pgPassword = "ultimate_ticket"
	pgDatabase = "ultimate_ticket"
	// pgStartTimeout bounds the server's start, its first-run initialisation included.
	pgStartTimeout = 2 * time.Minute
)

// StartPostgres runs Postgres with the seed's user, password and database. Extra
// server settings (-c name=value) can be passed, e.g. for tests that trade
// durability for speed.
func StartPostgres(ctx context.Context, image string, settings ...string) (*Postgres, error) {
	cmd := []string{"postgres", "-c", "max_connections=200"}
	for _, s := range settings {
		cmd = append(cmd, "-c", s)
	}
	req := testcontainers.ContainerRequest{
		Image:        image,
		ExposedPorts: []string{pgPort},
		Env: map[string]string{
			"POSTGRES_USER":     pgUser,
			"POSTGRES_PASSWORD": pgPassword,
			"POSTGRES_DB":       pgDatabase,
		},
		Cmd: cmd,
		// The official image logs "ready" once for its init server (no TCP) and once
		// for the real one; the port check tells them apart.
		WaitingFor: wait.ForAll(
			wait.ForLog("database system is ready to accept connections"),
			wait.ForListeningPort(pgPort),
		).WithDeadline(pgStartTimeout),
	}
	c, addr, err := startContainer(ctx, req, "postgres")
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", pgUser, pgPassword, addr, pgDatabase)
	if err := waitSQL(ctx, url); err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, err
	}
	return &Postgres{URL: url, server: server{c}}, nil
}

func hostPort(ctx context.Context, c testcontainers.Container, port string) (string, string, error) {
	host, err := c.Host(ctx)
	if err != nil {
		return "", "", fmt.Errorf("devstack: host: %w", err)
	}
	p, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", "", fmt.Errorf("devstack: mapped port %s: %w", port, err)
	}
	return host, p.Port(), nil
}

func hostJoin(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
