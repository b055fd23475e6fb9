// Command classic serves the classic baseline (package classic): the pipeline's hold
// contract on one SQL transaction per hold with a row lock on the zone, for
// benchmarks against ultimate-ticket.
//
//	classic [-http-addr :8090] [-database-url $DATABASE_URL] [-admin-token $ADMIN_TOKEN] [-pool-size 16]
//	        [-in-flight-max 256] [-batch-concurrency 4]
//
// It creates its schema (classic) at start-up and stops gracefully on SIGTERM or
// SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ultimate-ticket/ultimate-ticket/internal/classic"
)

// Bounds of the HTTP server and of start-up and shutdown.
const (
	startTimeout      = 30 * time.Second
	shutdownTimeout   = 10 * time.Second
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	headerBytesMax    = 16 << 10
	poolSizeMax       = 1000
)

func main() {
	addr := flag.String("http-addr", ":8090", "address to serve HTTP on")
	dbURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "Postgres URL (default $DATABASE_URL)")
	token := flag.String("admin-token", os.Getenv("ADMIN_TOKEN"), "bearer token of POST /events (default $ADMIN_TOKEN)")
	poolSize := flag.Int("pool-size", 16, "Postgres connections at most (pgxpool MaxConns)")
	var cfg classic.Config
	flag.IntVar(&cfg.InFlightMax, "in-flight-max", classic.InFlightMaxDefault, "requests using Postgres at once; beyond it 503")
	flag.IntVar(&cfg.BatchConcurrency, "batch-concurrency", classic.BatchConcurrencyDefault, "zones of one batch decided side by side")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *token != "" {
		cfg.AdminTokens = []string{*token}
	}
	cfg.Logger = log
	if err := run(ctx, log, cfg, *addr, *dbURL, *poolSize); err != nil {
		log.Error("classic stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, cfg classic.Config, addr, dbURL string, poolSize int) error {
	if len(cfg.AdminTokens) == 0 {
		return errors.New("-admin-token (or ADMIN_TOKEN) is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if dbURL == "" {
		return errors.New("-database-url (or DATABASE_URL) is required")
	}
	if poolSize < 1 || poolSize > poolSizeMax {
		return fmt.Errorf("-pool-size %d must be 1 to %d", poolSize, poolSizeMax)
	}
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("parse -database-url: %w", err)
	}
	pcfg.MaxConns = int32(poolSize)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connect Postgres: %w", err)
	}
	defer pool.Close()
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := classic.EnsureSchema(startCtx, pool); err != nil {
		return err
	}
	handler, err := classic.New(cfg, pool)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: headerBytesMax}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	log.Info("classic serving", "addr", addr, "pool_size", poolSize)
	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	log.Info("classic shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
