package roombench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

// startTimeout bounds the set-up: containers and ticketd ready.
const startTimeout = 3 * time.Minute

// system is the stack the crowd runs against.
type system struct {
	url, adminToken string
	pool            *pgxpool.Pool
	stop            func()
}

func startSystem(ctx context.Context, cfg Config) (*system, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := "roombench-" + hex.EncodeToString(b)
	addr, err := devstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg.logf("==> starting Kafka and Postgres")
	stack, err := devstack.Up(ctx, devstack.Options{Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	down := func() { _ = stack.Down(context.Background()) }
	appCfg, err := app.ParseConfig("all", []string{
		"-kafka-brokers", strings.Join(stack.Brokers(), ","),
		"-database-url", stack.Postgres.URL,
		"-http-addr", addr,
		"-admin-token", token,
		"-partitions", fmt.Sprint(PartitionsDefault),
		"-instance", fmt.Sprintf("roombench-%d", time.Now().UnixNano()),
		"-pow-difficulty", fmt.Sprint(cfg.Difficulty),
		"-log-level", "error",
	})
	if err != nil {
		down()
		return nil, fmt.Errorf("ticketd config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	cfg.logf("==> starting ticketd all on %s", addr)
	td := devstack.RunTicketd(addr, func(ctx context.Context) error { return app.Run(ctx, "all", appCfg, log) })
	if err := td.WaitReady(ctx); err != nil {
		_ = td.Stop()
		down()
		return nil, err
	}
	pool, err := pgxpool.New(ctx, stack.Postgres.URL)
	if err != nil {
		_ = td.Stop()
		down()
		return nil, err
	}
	return &system{url: td.URL, adminToken: token, pool: pool, stop: func() {
		pool.Close()
		if err := td.Stop(); err != nil && !errors.Is(err, context.Canceled) {
			cfg.logf("ticketd stopped: %v", err)
		}
		down()
	}}, nil
}
