// Command chaos runs the system under faults and checks its invariants (`make
// chaos`). CHAOS_DURATION (default 5m) is how long faults are injected, CHAOS_SEED
// (default: the time) chooses the fault schedule: the same seed replays the same
// schedule. CHAOS_RATE is the load in requests per second. It exits 1 when any
// invariant is broken, 2 when the run could not be carried out.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/chaos"
)

func main() {
	cfg, err := config()
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: seed %d: the run failed: %v\n", cfg.Seed, err)
		os.Exit(2)
	}
	rep.Print(os.Stdout)
	if rep.ViolationCount() > 0 {
		os.Exit(1)
	}
}

func config() (chaos.Config, error) {
	cfg := chaos.Config{Seed: time.Now().UnixNano() % 1_000_000_000, Out: os.Stdout, Dir: os.Getenv("CHAOS_DIR")}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("CHAOS_SEED %q is not a number", s)
		}
		cfg.Seed = seed
	}
	if s := os.Getenv("CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("CHAOS_DURATION %q is not a positive duration", s)
		}
		cfg.Duration = d
	}
	if s := os.Getenv("CHAOS_RATE"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			return cfg, fmt.Errorf("CHAOS_RATE %q is not a positive number", s)
		}
		cfg.Rate = r
	}
	return cfg, nil
}
