// Command devstack is `make run`: it starts Kafka and Postgres in Docker, and
// stripe-mock for payments (internal/stripemock), runs
// `ticketd all` against them, prints the API's URL and a first request to try, and on
// Ctrl-C stops everything it started, leaving no container behind. With
// -kafka-nodes N, Kafka is an N-node KRaft cluster and ticketd replicates its topics
// min(N, 3) times.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
	"github.com/ultimate-ticket/ultimate-ticket/internal/stripemock"
)

const (
	adminTokenDefault     = "dev-admin-token-change-me"
	httpAddrDefault       = "localhost:8080"
	holdTTLDefaultDefault = "10m"
	ticketdPath           = "bin/ticketd"
	// webhookSecretDefault signs the README's test webhooks (payments with stripe-mock).
	webhookSecretDefault = "whsec_dev_change_me"
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
	stack, err := devstack.Up(ctx, devstack.Options{KafkaNodes: *kafkaNodes, Log: os.Stdout})
	if err != nil {
		return err
	}
	defer func() { _ = stack.Down(context.Background()) }() // Down prints its failures

	mock, err := stripemock.Start(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = mock.Stop() }()
	fmt.Printf("stripe-mock at %s\n", mock.URL)

	token := envOr("ADMIN_TOKEN", adminTokenDefault)
	td, err := devstack.StartTicketd(devstack.Process{
		Bin:     ticketdPath,
		Command: "all",
		Addr:    envOr("HTTP_ADDR", httpAddrDefault),
		Env: append(stack.Env(),
			"ADMIN_TOKEN="+token,
			"HOLD_TTL_DEFAULT="+envOr("HOLD_TTL_DEFAULT", holdTTLDefaultDefault),
			"STRIPE_SECRET_KEY="+stripemock.SecretKey,
			"STRIPE_API_URL="+mock.URL,
			"WEBHOOK_SECRET="+envOr("WEBHOOK_SECRET", webhookSecretDefault),
		),
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
	if err != nil {
		return fmt.Errorf("%w (run `make build`)", err)
	}
	if err := td.WaitReady(ctx); err != nil {
		_ = td.Stop()
		return err
	}
	fmt.Printf(`
ultimate-ticket is running at %s (ready after %s). Ctrl-C stops it.
Admin token: %s. Try:

  curl -s -X POST %s/events -H 'Authorization: Bearer %s' \
    -H 'Content-Type: application/json' \
    -d '{"name":"Concert","zones":[{"name":"Floor","capacity":100}]}'

The README has the whole session.

`, td.URL, time.Since(t0).Round(100*time.Millisecond), token, td.URL, token)
	select {
	case <-td.Done():
		return fmt.Errorf("ticketd stopped: %v", td.Err())
	case <-ctx.Done():
	}
	fmt.Println("\n==> stopping ticketd")
	_ = td.Stop()
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
