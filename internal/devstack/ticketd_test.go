package devstack

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serveReady is a stand-in for app.Run: it answers GET /ready with 503 until it has
// been asked notReady times, then 200, until ctx is done.
func serveReady(addr string, notReady int64) func(context.Context) error {
	return func(ctx context.Context) error {
		var asked atomic.Int64
		srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/ready" || asked.Add(1) <= notReady {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		go func() {
			<-ctx.Done()
			_ = srv.Close()
		}()
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestRunTicketdReadyThenStop proves that WaitReady waits through answers other than
// 200, and that Stop cancels the run's context and reports a clean stop.
func TestRunTicketdReadyThenStop(t *testing.T) {
	addr := freeAddr(t)
	td := RunTicketd(addr, serveReady(addr, 3))
	if err := td.WaitReady(context.Background()); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if err := td.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-td.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := td.Signal(os.Interrupt); !errors.Is(err, ErrInProcess) {
		t.Fatalf("Signal in this process: %v, want ErrInProcess", err)
	}
}

// TestWaitReadyExited proves that a ticketd that stops before it is ready ends the
// wait at once with ErrExited and its reason.
func TestWaitReadyExited(t *testing.T) {
	boom := errors.New("no kafka")
	td := RunTicketd(freeAddr(t), func(context.Context) error { return boom })
	err := td.WaitReady(context.Background())
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), boom.Error()) {
		t.Fatalf("WaitReady: %v, want ErrExited with %q", err, boom)
	}
	if err := td.Stop(); !errors.Is(err, boom) {
		t.Fatalf("Stop after the exit: %v, want %v", err, boom)
	}
}

// TestWaitReadyCancelled proves that the wait ends with ctx.
func TestWaitReadyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitReady(ctx, "http://"+freeAddr(t), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady: %v, want context.Canceled", err)
	}
}

// fakeTicketd writes a script that stands in for the ticketd binary: it runs until
// SIGTERM and then exits 0, and records its command and HTTP_ADDR.
func fakeTicketd(t *testing.T) (bin, record string) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	dir := t.TempDir()
	bin, record = filepath.Join(dir, "ticketd"), filepath.Join(dir, "record")
	script := "#!/bin/sh\necho \"$1 $HTTP_ADDR $EXTRA\" > " + record + "\ntrap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, record
}

// TestStartTicketdStopAndKill proves that a process gets its command, address and
// environment, that Stop ends it with SIGTERM (a clean exit), and that Kill ends it
// with SIGKILL.
func TestStartTicketdStopAndKill(t *testing.T) {
	bin, record := fakeTicketd(t)
	p := Process{Bin: bin, Command: "all", Addr: ":8123", Env: []string{"EXTRA=yes"}}
	td, err := StartTicketd(p)
	if err != nil {
		t.Fatal(err)
	}
	if td.URL != "http://localhost:8123" {
		t.Errorf("URL %q, want http://localhost:8123", td.URL)
	}
	waitFile(t, record, td)
	got, _ := os.ReadFile(record)
	if string(got) != "all :8123 yes\n" {
		t.Errorf("the process saw %q, want %q", got, "all :8123 yes\n")
	}
	if err := td.Stop(); err != nil {
		t.Fatalf("Stop: %v, want a clean exit", err)
	}

	td, err = StartTicketd(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := td.Kill(); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if !errors.As(td.Err(), &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("after Kill: %v, want a death by signal", td.Err())
	}
}

// waitFile waits until the process has written its record (or has exited).
func waitFile(t *testing.T, path string, td *Ticketd) {
	t.Helper()
	for {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return
		}
		select {
		case <-td.Done():
			t.Fatalf("the process exited: %v", td.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestStackEnv proves that ticketd is told the replication factor of a cluster only.
func TestStackEnv(t *testing.T) {
	single := &Stack{Kafka: &Kafka{Brokers: []string{"h:1"}}, Postgres: &Postgres{URL: "pg"}}
	if got, want := single.Env(), []string{"KAFKA_BROKERS=h:1", "DATABASE_URL=pg"}; !slices.Equal(got, want) {
		t.Errorf("single node: %q, want %q", got, want)
	}
	cluster := &Stack{Cluster: &KafkaCluster{Brokers: []string{"h:1", "h:2"}, replication: 2}, Postgres: &Postgres{URL: "pg"}}
	if got, want := cluster.Env(), []string{"KAFKA_BROKERS=h:1,h:2", "DATABASE_URL=pg", "REPLICATION_FACTOR=2"}; !slices.Equal(got, want) {
		t.Errorf("cluster: %q, want %q", got, want)
	}
}

// TestUpRefusesNegativeNodes proves the option check comes before any container.
func TestUpRefusesNegativeNodes(t *testing.T) {
	if _, err := Up(context.Background(), Options{KafkaNodes: -1}); !errors.Is(err, ErrKafkaNodes) {
		t.Fatalf("Up: %v, want ErrKafkaNodes", err)
	}
}
