package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

// Bounds of the self-contained run's set-up and tear-down.
const (
	startTimeout = 3 * time.Minute
	stopTimeout  = 30 * time.Second
)

// SelfOptions tune the system RunSelf starts.
type SelfOptions struct {
	// Partitions of the topics (default 6, as ticketd).
	Partitions int
	// Log receives the set-up steps; nil for none.
	Log io.Writer
}

// RunSelf starts Kafka and Postgres in Docker (internal/devstack), runs `ticketd
// all` in-process on a free loopback port with a generated admin token, runs the
// load against it, and stops everything it started, whatever happens. cfg.URL and
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
	addr, err := freeLoopbackAddr()
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
	logf("==> starting Kafka (%s)", devstack.KafkaImage())
	k, err := devstack.StartKafka(startCtx, devstack.KafkaImage())
	if err != nil {
		return nil, err
	}
	defer func() {
		logf("==> stopping Kafka")
		err = errors.Join(err, k.Stop(context.Background()))
	}()
	logf("    %s after %s\n==> starting Postgres (%s)", k.Brokers[0], time.Since(t0).Round(100*time.Millisecond), devstack.PostgresImage())
	pg, err := devstack.StartPostgres(startCtx, devstack.PostgresImage())
	if err != nil {
		return nil, err
	}
	defer func() {
		logf("==> stopping Postgres")
		err = errors.Join(err, pg.Stop(context.Background()))
	}()

	appCfg, err := app.ParseConfig("all", []string{
		"-kafka-brokers", strings.Join(k.Brokers, ","),
		"-database-url", pg.URL,
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
	appCtx, stopApp := context.WithCancel(context.WithoutCancel(ctx))
	defer stopApp()
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logf("==> starting ticketd all on %s", addr)
	go func() { done <- app.Run(appCtx, "all", appCfg, log) }()
	defer func() {
		logf("==> stopping ticketd")
		stopApp()
		select {
		case e := <-done:
			err = errors.Join(err, e)
		case <-time.After(stopTimeout):
			err = errors.Join(err, fmt.Errorf("ticketd did not stop within %v", stopTimeout))
		}
	}()
	if err := waitServing(startCtx, cfg.URL, done); err != nil {
		return nil, err
	}
	logf("    ready after %s; load: %.0f holds/s for %v on %d zone(s)", time.Since(t0).Round(100*time.Millisecond),
		cfg.Rate, cfg.Duration, cfg.Zones)
	return Run(ctx, cfg)
}

// waitServing waits for GET /ready to answer 200, or ticketd to stop.
func waitServing(ctx context.Context, base string, done chan error) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	for {
		resp, err := client.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case e := <-done:
			done <- e // the deferred stop reads it again
			return fmt.Errorf("ticketd stopped before ready: %v", e)
		case <-ctx.Done():
			return fmt.Errorf("ticketd not ready: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "loadgen-" + hex.EncodeToString(b), nil
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
