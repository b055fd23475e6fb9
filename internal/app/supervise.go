package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ultimate-ticket/ultimate-ticket/internal/backoff"
)

// Backoff between restarts of a failed component: it doubles per failure that
// follows a short run, and starts again from the floor after a run of
// restartHealthyRun.
const (
	restartBackoffMin = 500 * time.Millisecond
	restartBackoffMax = 30 * time.Second
	restartHealthyRun = time.Minute
)

// supervisor restarts the components of one process independently: a component
// that returns an error (Kafka or Postgres away, a failed start-up check) is
// logged, counted and started again after a backoff, while the others keep
// running. Only ctx ends it. A panic is a programmer error and is not recovered:
// it ends the process.
type supervisor struct {
	log      *slog.Logger
	restarts *prometheus.CounterVec
	sleep    func(context.Context, time.Duration) // replaced in tests
}

func newSupervisor(log *slog.Logger, reg prometheus.Registerer) *supervisor {
	return &supervisor{
		log: log,
		restarts: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "app",
			Name: "component_restarts_total", Help: "Components restarted after they stopped with an error, by component."}, []string{"component"}),
		sleep: backoff.Sleep,
	}
}

// run runs component until ctx is done, restarting it after each error.
func (s *supervisor) run(ctx context.Context, name string, component func(context.Context) error) {
	s.restarts.WithLabelValues(name)
	fails := 0
	for ctx.Err() == nil {
		start := time.Now()
		err := component(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil || errors.Is(err, http.ErrServerClosed) {
			err = errors.New("stopped without an error before shutdown")
		}
		if time.Since(start) >= restartHealthyRun {
			fails = 0
		}
		wait := restartBackoff(fails)
		fails++
		s.restarts.WithLabelValues(name).Inc()
		s.log.Error("component failed; restarting", "component", name, "err", err, "failures", fails, "retry_in", wait)
		s.sleep(ctx, wait)
	}
}

func restartBackoff(fails int) time.Duration {
	return backoff.Exp(fails, restartBackoffMin, restartBackoffMax)
}
