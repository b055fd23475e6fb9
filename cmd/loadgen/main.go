// Command loadgen drives a steady load of holds against an ultimate-ticket API and
// measures submit-to-visible latency (see internal/loadgen). With -self it first
// starts Kafka and Postgres in Docker and ticketd in-process, and stops them at the
// end.
//
//	go run ./cmd/loadgen -self -rate 200 -duration 30s -out bench/results/loadgen
//	go run ./cmd/loadgen -url http://localhost:8080 -admin-token $ADMIN_TOKEN
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ultimate-ticket/ultimate-ticket/internal/loadgen"
)

func main() {
	cfg := loadgen.DefaultConfig()
	var out string
	var self bool
	var partitions int
	flag.StringVar(&cfg.URL, "url", cfg.URL, "base URL of the API (loopback only)")
	flag.StringVar(&cfg.AdminToken, "admin-token", os.Getenv("ADMIN_TOKEN"), "admin bearer token for POST /events (default $ADMIN_TOKEN)")
	flag.Float64Var(&cfg.Rate, "rate", cfg.Rate, "holds submitted per second (open loop)")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long holds are submitted")
	flag.IntVar(&cfg.Zones, "zones", cfg.Zones, "zones of the event (1: the hot zone)")
	flag.Int64Var(&cfg.Capacity, "capacity", cfg.Capacity, "tickets per zone")
	flag.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "bound on requests in flight; sends beyond it are shed and counted")
	flag.DurationVar(&cfg.Poll, "poll", cfg.Poll, "pause between two polls of one request (with -poll-only, or after a wait ran out)")
	flag.BoolVar(&cfg.PollOnly, "poll-only", cfg.PollOnly, "submit without Prefer: wait and poll GET /requests/{id} (default: wait for the result in the submit)")
	flag.DurationVar(&cfg.DecideTimeout, "decide-timeout", cfg.DecideTimeout, "longest wait for one request's result")
	flag.Float64Var(&cfg.ConfirmRatio, "confirm", cfg.ConfirmRatio, "share of placed holds then confirmed")
	flag.Float64Var(&cfg.ReleaseRatio, "release", cfg.ReleaseRatio, "share of placed holds then released")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the random choices")
	flag.StringVar(&out, "out", "bench/results/loadgen", "directory for results.json, latency.csv and latency.png")
	flag.BoolVar(&self, "self", false, "start Kafka, Postgres (Docker) and ticketd in-process, and stop them at the end")
	flag.IntVar(&partitions, "partitions", 6, "with -self: partitions of the topics")
	flag.Parse()
	cfg.Progress = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var res *loadgen.Results
	var err error
	if self {
		res, err = loadgen.RunSelf(ctx, cfg, loadgen.SelfOptions{Partitions: partitions, Log: os.Stdout})
	} else {
		res, err = loadgen.Run(ctx, cfg)
	}
	if res != nil {
		res.Print(os.Stdout)
		if werr := res.Write(out); werr != nil {
			fmt.Fprintf(os.Stderr, "loadgen: write results: %v\n", werr)
			os.Exit(1)
		}
		fmt.Printf("results in %s\n", out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}
