package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeDrainingFinishesWhatIsUnderWay proves the API's stop path: once ctx is
// done the instance is unready at once, a request under way (a long Prefer: wait)
// still gets its whole answer, the producer is flushed only after it, and the
// drain ends without an error.
func TestServeDrainingFinishesWhatIsUnderWay(t *testing.T) {
	var draining atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	var drainingSeen, handled atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		defer handled.Store(true)
		close(entered)
		<-release
		drainingSeen.Store(draining.Load())
		_, _ = w.Write([]byte("decided"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var flushedAfterAnswer atomic.Bool
	answered := make(chan string, 1)
	flush := func(context.Context) error {
		flushedAfterAnswer.Store(handled.Load())
		return nil
	}
	done := make(chan error, 1)
	go func() {
		done <- serveDraining(ctx, &http.Server{Handler: mux}, ln, &draining,
			drainPlan{timeout: time.Minute}, flush, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			t.Errorf("request under way: %v", err)
			close(answered)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	<-entered
	cancel()
	for !draining.Load() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if got := <-answered; got != "decided" {
		t.Errorf("request under way answered %q, want decided", got)
	}
	if err := <-done; err != nil {
		t.Errorf("serveDraining: %v", err)
	}
	if !drainingSeen.Load() {
		t.Error("the instance was not unready while the request finished")
	}
	if !flushedAfterAnswer.Load() {
		t.Error("the producer was not flushed after the last request")
	}
}

// TestServeDrainingIsBounded proves that a request that outlasts the bound does
// not hold the stop: the drain ends with an error saying it was cut short.
func TestServeDrainingIsBounded(t *testing.T) {
	var draining atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/stuck", func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveDraining(ctx, &http.Server{Handler: mux}, ln, &draining,
			drainPlan{timeout: 50 * time.Millisecond}, func(context.Context) error { return nil },
			slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("serveDraining returned %v, want the drain cut short", err)
	}
}

// TestStopWithinBoundsTheStop proves that Run's stop bound returns
// ErrShutdownTimeout for a component that does not stop, and the component's own
// answer when it does.
func TestStopWithinBoundsTheStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	never := make(chan struct{})
	defer close(never)
	if err := stopWithin(ctx, time.Millisecond, func() error { <-never; return nil }); !errors.Is(err, ErrShutdownTimeout) {
		t.Errorf("stuck component: %v, want ErrShutdownTimeout", err)
	}
	errOwn := errors.New("own")
	if err := stopWithin(ctx, time.Minute, func() error { return errOwn }); !errors.Is(err, errOwn) {
		t.Errorf("stopping component: %v, want its own error", err)
	}
}
