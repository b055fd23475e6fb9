package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

// startTimeout bounds the self-contained run's set-up: containers and ticketd ready.
const startTimeout = 3 * time.Minute

// SelfOptions tune the system RunSelf starts.
type SelfOptions struct {
	// Partitions of the topics (default 6, as ticketd).
	Partitions int
	// Log receives the set-up steps; nil for none.
	Log io.Writer
}

// RunSelf starts Kafka and Postgres in Docker (devstack.Up), runs `ticketd all`
// in-process on a free loopback port with a generated admin token, runs the load
// against it, and stops everything it started, whatever happens. cfg.URL and
// cfg.AdminToken are set by RunSelf.
func RunSelf(ctx context.Context, cfg Config, opt SelfOptions) (res *Results, err error) {
	logf := func(format string, args ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", args...)
		}
	}
	if opt.Partitions == 0 {
		opt.Partitions = 6
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	addr, err := devstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg.URL, cfg.AdminToken = "http://"+addr, token
	if err := cfg.Validate(); err != nil {
		return nil, err
	}

	startCtx, cancelStart := context.WithTimeout(ctx, startTimeout)
	defer cancelStart()
	t0 := time.Now()
	stack, err := devstack.Up(startCtx, devstack.Options{Log: opt.Log})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, stack.Down(context.Background())) }()

	appCfg, err := app.ParseConfig("all", []string{
		"-kafka-brokers", strings.Join(stack.Brokers(), ","),
		"-database-url", stack.Postgres.URL,
		"-http-addr", addr,
		"-admin-token", token,
		"-partitions", fmt.Sprint(opt.Partitions),
		"-topic-prefix", "",
		"-instance", fmt.Sprintf("loadgen-%d", time.Now().UnixNano()),
		"-log-level", "warn",
	})
	if err != nil {
		return nil, fmt.Errorf("ticketd config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logf("==> starting ticketd all on %s", addr)
	td := devstack.RunTicketd(addr, func(ctx context.Context) error { return app.Run(ctx, "all", appCfg, log) })
	defer func() {
		logf("==> stopping ticketd")
		err = errors.Join(err, td.Stop())
	}()
	if err := td.WaitReady(startCtx); err != nil {
		return nil, err
	}
	logf("    ready after %s; load: %.0f holds/s for %v on %d zone(s)", time.Since(t0).Round(100*time.Millisecond),
		cfg.Rate, cfg.Duration, cfg.Zones)
	return Run(ctx, cfg)
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "loadgen-" + hex.EncodeToString(b), nil
}
