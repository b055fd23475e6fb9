// Command roombench runs the flash-crowd scenario of `make bench` (see
// internal/roombench): N buyers against a waiting room and a zone of M tickets, on
// Kafka and Postgres in Docker and ticketd in-process.
//
//	go run ./cmd/roombench -out bench/results/room
//	go run ./cmd/roombench -joiners 300 -tickets 100 -rate 20 -out /tmp/room   # a smoke test
//	go run ./cmd/roombench -solve <challenge token> -pow-difficulty 16          # a nonce, for curl
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
	"github.com/ultimate-ticket/ultimate-ticket/internal/roombench"
)

func main() {
	var cfg roombench.Config
	flag.StringVar(&cfg.Out, "out", "bench/results/room", "directory for results.json, room.md and room.png")
	flag.IntVar(&cfg.Joiners, "joiners", roombench.JoinersDefault, "buyers (N)")
	flag.IntVar(&cfg.Tickets, "tickets", roombench.TicketsDefault, "tickets of the zone (M)")
	flag.Float64Var(&cfg.Rate, "rate", roombench.RateDefault, "admissions per second (with -automatic, the cap)")
	flag.BoolVar(&cfg.Automatic, "automatic", false, "admit automatically: while admitted buyers may buy less than the tickets left")
	flag.IntVar(&cfg.Allowance, "allowance", roombench.AllowanceDefault, "tickets per admission")
	flag.DurationVar(&cfg.StartAfter, "start-after", roombench.StartAfterDefault, "time from the room's opening to the start of the sale")
	flag.DurationVar(&cfg.JoinSpread, "join-spread", roombench.JoinSpreadDefault, "time over which the buyers arrive")
	flag.IntVar(&cfg.Difficulty, "pow-difficulty", roombench.DifficultyDefault, "proof of work of joins, in leading zero bits")
	flag.DurationVar(&cfg.Timeout, "timeout", roombench.TimeoutDefault, "bound on the sale")
	solve := flag.String("solve", "", "print a nonce solving this challenge token at -pow-difficulty, and exit")
	flag.Parse()
	if *solve != "" {
		fmt.Println(pow.Solve(*solve, cfg.Difficulty))
		return
	}
	cfg.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := roombench.Run(ctx, cfg)
	if res != nil {
		fmt.Println(res.Markdown())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "roombench: %v\n", err)
		os.Exit(1)
	}
}
