// Command devstack is `make run`: it starts Kafka and Postgres in Docker, runs
// `ticketd all` against them, prints the API's URL and a first request to try, and on
// Ctrl-C stops everything it started, leaving no container behind. With
// -kafka-nodes N, Kafka is an N-node KRaft cluster and ticketd replicates its topics
// min(N, 3) times.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

const (
	adminTokenDefault = "dev-admin-token-change-me"
	httpAddrDefault   = "localhost:8080"
	ticketdPath       = "bin/ticketd"
)

func main() {
	if err := run(); err != nil {
		log.Fatalf("devstack: %v", err)
	}
}

func run() error {
	kafkaNodes := flag.Int("kafka-nodes", 1, "Kafka nodes: 1, or a KRaft cluster of N (3 for replication factor 3)")
	flag.Parse()
	if *kafkaNodes < 1 {
		return fmt.Errorf("-kafka-nodes %d: want 1 or more", *kafkaNodes)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Our own progress lines say what happens; testcontainers' are for tests.
	tclog.SetDefault(tclog.NewNoopLogger())
	t0 := time.Now()
	fmt.Printf("==> starting Kafka (%s, %d node(s))\n", devstack.KafkaImage(), *kafkaNodes)
	var (
		brokers  []string
		kafkaEnv []string
	)
	if *kafkaNodes == 1 {
		k, err := devstack.StartKafka(ctx, devstack.KafkaImage())
		if err != nil {
			return err
		}
		defer stopped("Kafka", func() error { return k.Stop(context.Background()) })
		brokers = k.Brokers
	} else {
		k, err := devstack.StartKafkaCluster(ctx, devstack.KafkaImage(), *kafkaNodes)
		if err != nil {
			return err
		}
		defer stopped("Kafka", func() error { return k.Stop(context.Background()) })
		brokers = k.Brokers
		kafkaEnv = append(kafkaEnv, "REPLICATION_FACTOR="+strconv.Itoa(min(*kafkaNodes, 3)))
	}
	fmt.Printf("    %s after %s\n==> starting Postgres (%s)\n", strings.Join(brokers, ","), since(t0), devstack.PostgresImage())
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresImage())
	if err != nil {
		return err
	}
	defer stopped("Postgres", func() error { return pg.Stop(context.Background()) })
	fmt.Printf("    %s after %s\n", pg.URL, since(t0))

	token := envOr("ADMIN_TOKEN", adminTokenDefault)
	addr := envOr("HTTP_ADDR", httpAddrDefault)
	cmd := exec.Command(ticketdPath, "all")
	cmd.Env = append(os.Environ(),
		"KAFKA_BROKERS="+strings.Join(brokers, ","),
		"DATABASE_URL="+pg.URL,
		"ADMIN_TOKEN="+token,
		"HTTP_ADDR="+addr,
		"HOLD_TTL_DEFAULT="+envOr("HOLD_TTL_DEFAULT", "10m"),
	)
	cmd.Env = append(cmd.Env, kafkaEnv...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Its own process group: Ctrl-C reaches devstack, which stops ticketd in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s (run `make build`): %w", ticketdPath, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	url := "http://" + addr
	if strings.HasPrefix(addr, ":") {
		url = "http://localhost" + addr
	}
	if err := waitHealthy(ctx, url, done); err != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return err
	}
	fmt.Printf(`
ultimate-ticket is running at %s (ready after %s). Ctrl-C stops it.
Admin token: %s. Try:

  curl -s -X POST %s/events -H 'Authorization: Bearer %s' \
    -H 'Content-Type: application/json' \
    -d '{"name":"Concert","zones":[{"name":"Floor","capacity":100}]}'

The README has the whole session.

`, url, since(t0), token, url, token)
	select {
	case err := <-done:
		return fmt.Errorf("ticketd stopped: %v", err)
	case <-ctx.Done():
	}
	fmt.Println("\n==> stopping ticketd")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return nil
}

func waitHealthy(ctx context.Context, url string, done <-chan error) error {
	deadline := time.After(2 * time.Minute)
	for {
		if err := ping(ctx, url+"/ready"); err == nil {
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("ticketd exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return errors.New("ticketd not ready after 2 minutes")
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func stopped(what string, stop func() error) {
	fmt.Printf("==> stopping %s\n", what)
	if err := stop(); err != nil {
		fmt.Printf("    %v\n", err)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
