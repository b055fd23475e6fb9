package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestSupervisorRestartsOnlyTheFailedComponent proves that a component that fails
// is restarted and counted while another keeps running untouched, and that only
// the end of ctx stops them. (With the errgroup before, the first failure stopped
// every component and the process.)
func TestSupervisorRestartsOnlyTheFailedComponent(t *testing.T) {
	reg := prometheus.NewRegistry()
	sup := newSupervisor(slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	var waits []time.Duration
	sup.sleep = func(_ context.Context, d time.Duration) { waits = append(waits, d) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const failures = 3
	healthyStarted, healthyStopped := make(chan struct{}), make(chan struct{})
	go sup.run(ctx, "healthy", func(ctx context.Context) error {
		close(healthyStarted)
		<-ctx.Done()
		close(healthyStopped)
		return nil
	})
	<-healthyStarted
	runs, recovered := 0, make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sup.run(ctx, "failing", func(ctx context.Context) error {
			if runs++; runs <= failures {
				return errors.New("broker away")
			}
			close(recovered)
			<-ctx.Done()
			return nil
		})
	}()
	<-recovered
	select {
	case <-healthyStopped:
		t.Fatal("the healthy component was stopped by the other's failures")
	default:
	}
	if got := counter(t, reg, "failing"); got != failures {
		t.Errorf("%v restarts of the failing component, want %d", got, failures)
	}
	if got := counter(t, reg, "healthy"); got != 0 {
		t.Errorf("%v restarts of the healthy component, want 0", got)
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1] {
			t.Errorf("backoff %v after %v does not grow", waits[i], waits[i-1])
		}
	}
	cancel()
	<-done
	<-healthyStopped
}

func counter(t *testing.T, reg *prometheus.Registry, component string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "ticket_app_component_restarts_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelIs(m, "component", component) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestReplacingRegistersAgain proves that a restarted component can register its
// collectors again on the shared registry, and the bridge serves them.
func TestReplacingRegistersAgain(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "runs_total", Help: "Runs."})
		replacing{reg}.MustRegister(c)
		c.Inc()
	}
	own := prometheus.NewRegistry()
	own.MustRegister(bridge{reg})
	families, err := own.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || families[0].GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Fatalf("bridged families %v, want runs_total = 1", families)
	}
}
