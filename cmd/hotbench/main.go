// Command hotbench measures the hot zone: the pipeline against the classic design,
// side by side in one run, with the CPU of every component (see internal/hotbench).
// It starts Kafka and Postgres in Docker, ticketd api, processor and sink and
// cmd/classic as processes, and stops them all at the end.
//
//	go run ./cmd/hotbench -out bench/results/hot
//	go run ./cmd/hotbench -quick -out /tmp/hot          # a smoke test
//	go run ./cmd/hotbench -scenarios hot,overload,half -repeats 1
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ultimate-ticket/ultimate-ticket/internal/hotbench"
)

func main() {
	var cfg hotbench.Config
	var scenarios, logFile string
	flag.StringVar(&cfg.Out, "out", "bench/results/hot", "directory for results.json, hot.md, hot.png and overload.png")
	flag.DurationVar(&cfg.StepDuration, "step-duration", hotbench.StepDurationDefault, "send phase of each step and of each fixed run")
	flag.IntVar(&cfg.Repeats, "repeats", hotbench.RepeatsDefault, "repeats of every scenario (the table shows medians)")
	flag.IntVar(&cfg.Batch, "batch", hotbench.BatchDefault, "holds per request of the batched scenario")
	flag.StringVar(&scenarios, "scenarios", strings.Join(hotbench.ScenariosAll, ","), "scenarios to run, comma-separated")
	flag.BoolVar(&cfg.Quick, "quick", false, "smoke test: 1 repeat, 3 s steps doubling the rate, a small Kafka probe")
	flag.IntVar(&cfg.Concurrency, "concurrency", 0, "bound on the generator's requests in flight (default: loadgen's)")
	flag.IntVar(&cfg.KafkaRecords, "kafka-records", 0, "records of Kafka's probe (default 1,000,000; 100,000 with -quick)")
	flag.StringVar(&logFile, "log", "", "file for the processes' output (default: <out>/processes.log)")
	flag.Parse()
	for _, s := range strings.Split(scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Scenarios = append(cfg.Scenarios, s)
		}
	}
	if logFile == "" {
		logFile = filepath.Join(cfg.Out, "processes.log")
	}
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		fail(err)
	}
	logs, err := os.Create(logFile)
	if err != nil {
		fail(err)
	}
	defer logs.Close()
	cfg.Logs, cfg.Progress, cfg.KafkaProbe = logs, os.Stdout, probe

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := hotbench.Run(ctx, cfg)
	if res != nil {
		fmt.Printf("\n%s\nresults in %s (processes' output: %s)\n", res.Markdown(), cfg.Out, logFile)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "hotbench: %v\n", err)
	os.Exit(1)
}
