package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/backoff"
)

// Defaults of the stop settings.
const (
	// shutdownTimeoutDefault bounds a graceful stop (SHUTDOWN_TIMEOUT): from the
	// signal to the process's end.
	shutdownTimeoutDefault = 15 * time.Second
	// drainDelayDefault is how long a stopping API keeps accepting requests
	// while answering GET /ready with 503 (DRAIN_DELAY).
	drainDelayDefault = 0
)

// ErrShutdownTimeout is returned by Run when the components did not stop within
// SHUTDOWN_TIMEOUT of the signal: the process ends with what they had not
// finished (nothing is lost: the next owner of a partition resumes from what was
// committed).
var ErrShutdownTimeout = errors.New("shutdown timed out")

// drainPlan is how an API stops: it turns unready at once, keeps accepting for
// delay (so that load balancers see GET /ready fail before the listener closes),
// then stops accepting and waits for the requests under way (Prefer: wait
// included) and the producer's flush, all within timeout of the signal.
type drainPlan struct {
	delay, timeout time.Duration
}

// serveDraining serves srv on ln until ctx is done, then drains it by plan:
// draining turns true first (GET /ready answers 503 draining), and flush runs
// once the last request is answered, with what is left of the bound. It returns
// the server's error, or the drain's when it was cut short.
func serveDraining(ctx context.Context, srv *http.Server, ln net.Listener, draining *atomic.Bool,
	plan drainPlan, flush func(context.Context) error, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	start := time.Now()
	draining.Store(true)
	log.Info("api draining: unready, finishing the requests under way", "delay", plan.delay, "timeout", plan.timeout)
	sctx, cancel := context.WithTimeout(context.Background(), plan.timeout)
	defer cancel()
	backoff.Sleep(sctx, plan.delay)
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("api: drain cut short after %v: %w", plan.timeout, err)
	}
	if err := flush(sctx); err != nil {
		return fmt.Errorf("api: drain: %w", err)
	}
	log.Info("api drained", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// stopWithin runs run, which returns some time after ctx is done, and returns its
// error; if it has not returned bound after ctx is done, it returns
// ErrShutdownTimeout without waiting longer.
func stopWithin(ctx context.Context, bound time.Duration, run func() error) error {
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w after %v", ErrShutdownTimeout, bound)
	}
}
