// Package devstack starts real Kafka and Postgres servers in Docker with
// testcontainers-go, for the tests (internal/testenv) and for `make run`
// (cmd/devstack). Containers are removed by Stop; nothing relies on a reaper.
package devstack

import (
	"context"
	"fmt"
	"os"
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

// Kafka is a running single-node KRaft cluster.
type Kafka struct {
	Brokers   []string
	container testcontainers.Container
}

// Stop removes the container.
func (k *Kafka) Stop(ctx context.Context) error {
	return testcontainers.TerminateContainer(k.container)
}

// Container is the running container (for chaos tests: stop, pause, restart).
func (k *Kafka) Container() testcontainers.Container { return k.container }

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
)

// StartKafka runs a single-node KRaft Kafka. The container waits for a start file
// naming the advertised listener, which is only known once Docker has mapped the
// port; clients connect through that mapped port.
func StartKafka(ctx context.Context, image string) (*Kafka, error) {
	req := testcontainers.ContainerRequest{
		Image:        image,
		ExposedPorts: []string{kafkaPort},
		Env: map[string]string{
			"CLUSTER_ID":                                     clusterID,
			"KAFKA_NODE_ID":                                  "1",
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_LISTENERS":                                "PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_INTER_BROKER_LISTENER_NAME":               "BROKER",
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9094",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
			"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":             "4",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
			"KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS":     "4",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
			"KAFKA_LOG_DIRS":                                 "/tmp/kafka-logs",
			"KAFKA_HEAP_OPTS":                                "-Xms512m -Xmx1g",
		},
		Entrypoint: []string{"sh", "-c", kafkaEntrypoint},
		LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
			PostStarts: []testcontainers.ContainerHook{advertise},
		}},
		WaitingFor: wait.ForLog("Kafka Server started").WithStartupTimeout(2 * time.Minute),
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, fmt.Errorf("devstack: kafka (%s): %w", image, err)
	}
	host, port, err := hostPort(ctx, c, kafkaPort)
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, err
	}
	return &Kafka{Brokers: []string{host + ":" + port}, container: c}, nil
}

// advertise writes the start file with the listener clients reach: the host's mapped
// port for PLAINTEXT, the container itself for the broker's own listener.
func advertise(ctx context.Context, c testcontainers.Container) error {
	host, port, err := hostPort(ctx, c, kafkaPort)
	if err != nil {
		return err
	}
	script := fmt.Sprintf("export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://%s:%s,BROKER://localhost:9093\n%s\n", host, port, kafkaStartReady)
	return c.CopyToContainer(ctx, []byte(script), kafkaStartFile, 0o644)
}

// Postgres is a running Postgres server.
type Postgres struct {
	URL       string
	container testcontainers.Container
}

// Stop removes the container.
func (p *Postgres) Stop(ctx context.Context) error {
	return testcontainers.TerminateContainer(p.container)
}

// Container is the running container.
func (p *Postgres) Container() testcontainers.Container { return p.container }

const (
	pgPort     = "5432/tcp"
	pgUser     = "ultimate_ticket"
	pgPassword = "ultimate_ticket"
	pgDatabase = "ultimate_ticket"
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
		).WithDeadline(2 * time.Minute),
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return nil, fmt.Errorf("devstack: postgres (%s): %w", image, err)
	}
	host, port, err := hostPort(ctx, c, pgPort)
	if err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, err
	}
	url := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", pgUser, pgPassword, hostJoin(host, port), pgDatabase)
	if err := waitSQL(ctx, url); err != nil {
		_ = testcontainers.TerminateContainer(c)
		return nil, err
	}
	return &Postgres{URL: url, container: c}, nil
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
