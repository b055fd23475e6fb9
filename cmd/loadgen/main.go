// Command loadgen drives a steady load of holds against an ultimate-ticket API (or
// the classic server, which speaks the same contract) and measures it (see
// internal/loadgen). Three modes:
//
//   - wait (default): every hold waits for its result (Prefer: wait), then is
//     confirmed or released; submit-to-visible latency per request. With -self it
//     first starts Kafka and Postgres in Docker and ticketd in-process.
//
//   - fire: fire-and-forget at a fixed rate (-batch N for POST /holds/batch); counts
//     per second, accepted and rejected latencies, the visible rate from the
//     availability, and the generator's own CPU.
//
//   - step: fire in steps from -rate, times -step-factor per step, until the first
//     step that fails; prints the knee.
//
// For example:
//
//	go run ./cmd/loadgen -self -rate 200 -duration 30s -out bench/results/loadgen
//	go run ./cmd/loadgen -url http://localhost:8080 -admin-token $ADMIN_TOKEN
//	go run ./cmd/loadgen -mode step -rate 1000 -duration 10s -url http://localhost:8080
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

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
	mode := flag.String("mode", "wait", "wait, fire or step")
	batch := flag.Int("batch", 1, "fire and step: holds per request (more than 1: POST /holds/batch)")
	sampleEvery := flag.Int("sample-every", loadgen.SampleEveryDefault, "fire and step: follow one accepted request in this many to its decision")
	factor := flag.Float64("step-factor", loadgen.StepFactorDefault, "step: rate multiplier per step")
	stepsMax := flag.Int("steps-max", loadgen.StepsMaxDefault, "step: most steps")
	flag.Parse()
	cfg.Progress = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *mode == "fire" || *mode == "step" {
		fc := loadgen.FireConfig{URL: cfg.URL, Rate: cfg.Rate, Duration: cfg.Duration, Batch: *batch,
			Concurrency: cfg.Concurrency, SampleEvery: *sampleEvery, Label: *mode, Progress: os.Stdout}
		if err := fireMode(ctx, *mode, fc, cfg, *factor, *stepsMax, out); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
			os.Exit(1)
		}
		return
	}
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

// fireMode runs a fire or a step run on a new event and writes its figures to
// out/fire.json.
func fireMode(ctx context.Context, mode string, fc loadgen.FireConfig, cfg loadgen.Config, factor float64, stepsMax int, out string) error {
	client := loadgen.NewFireClient(4, 10*time.Second)
	newTarget := func(ctx context.Context, _ float64) (loadgen.Target, error) {
		return loadgen.CreateTarget(ctx, client, cfg.URL, cfg.AdminToken, loadgen.TargetSpec{
			Name: fmt.Sprintf("loadgen %s %d", mode, time.Now().UnixNano()), Zones: cfg.Zones, Capacity: cfg.Capacity,
			HoldTTLSeconds: 3600})
	}
	var res any
	if mode == "fire" {
		t, err := newTarget(ctx, fc.Rate)
		if err != nil {
			return err
		}
		fc.Target = t
		r, err := loadgen.Fire(ctx, fc)
		if err != nil {
			return err
		}
		fmt.Println(r.Line())
		res = r
	} else {
		r, err := loadgen.Step(ctx, loadgen.StepConfig{Fire: fc, StartRate: fc.Rate, Factor: factor, StepsMax: stepsMax,
			NewTarget: newTarget})
		if r != nil {
			fmt.Printf("knee: %.0f holds/s offered, ceiling %.0f holds/s end to end (%d steps)\n", r.KneeRate, r.Ceiling, len(r.Steps))
			res = r
		}
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("results in %s\n", filepath.Join(out, "fire.json"))
	return os.WriteFile(filepath.Join(out, "fire.json"), append(raw, '\n'), 0o644)
}
