// Command ticketd runs ultimate-ticket: the API, the processor and the sink, alone or
// all in one process, and the set-up steps (migrate, topics).
//
//	ticketd api|processor|sink|payments|all|migrate|topics|reconcile [flags]
//
// Every setting comes from an environment variable and can be overridden by a flag;
// `ticketd <command> -h` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
)

const usage = `usage: ticketd <command> [flags]

commands:
  api        the HTTP API (submit and poll)
  processor  the single-writer processor (commands -> events, exactly once)
  sink       events -> Postgres read model, exactly once
  payments   the payments worker: refunds and cancellations at the provider, periodic reconciliation
  all        api, processor and sink (and payments, with STRIPE_SECRET_KEY) in one process (migrates and creates topics first)
  reconcile  compare the provider's succeeded payments of -from..-to with the orders; -fix sends missing confirms
  migrate    apply the SQL migrations and exit
  topics     create missing topics, check co-partitioning, and exit
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd := os.Args[1]
	cfg, err := app.ParseConfig(cmd, os.Args[2:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ticketd %s: invalid configuration:\n%v\n", cmd, err)
		os.Exit(2)
	}
	log := newLogger(cfg.LogLevel)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = app.Run(ctx, cmd, cfg, log)
	if errors.Is(err, app.ErrUnknownCommand) {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		log.Error("ticketd stopped", "command", cmd, "err", err)
		os.Exit(1)
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
