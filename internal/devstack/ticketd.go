package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Bounds of starting and stopping ticketd.
const (
	// ReadyTimeout bounds the wait for GET /ready to answer 200: topic creation,
	// migrations and the processors' restore come first.
	ReadyTimeout = 3 * time.Minute
	// StopTimeout bounds a graceful stop; a process still running then is killed.
	StopTimeout = 30 * time.Second
	// readyPollInterval is the pause between two GET /ready.
	readyPollInterval = 100 * time.Millisecond
	// readyRequestTimeout bounds one GET /ready.
	readyRequestTimeout = 2 * time.Second
	// ticketdPackage is the import path BuildTicketd builds.
	ticketdPackage = "github.com/ultimate-ticket/ultimate-ticket/cmd/ticketd"
)

// Errors of a ticketd's life.
var (
	// ErrNotReady: GET /ready did not answer 200 within ReadyTimeout.
	ErrNotReady = errors.New("devstack: ticketd not ready")
	// ErrExited: ticketd stopped before it was ready.
	ErrExited = errors.New("devstack: ticketd exited")
	// ErrStopTimeout: ticketd did not stop within StopTimeout.
	ErrStopTimeout = errors.New("devstack: ticketd did not stop in time")
	// ErrInProcess: a signal was asked of a ticketd run in this process.
	ErrInProcess = errors.New("devstack: ticketd runs in this process")
)

// Ticketd is a running ticketd: a process (StartTicketd) or a function run in this
// process (RunTicketd). Its HTTP server answers at URL.
type Ticketd struct {
	URL string

	cmd    *exec.Cmd          // nil in this process
	cancel context.CancelFunc // stops the run in this process
	done   chan struct{}      // closed once it has stopped
	err    error              // why it stopped; read after done
}

// Process says how StartTicketd runs ticketd.
type Process struct {
	// Bin is the ticketd binary (BuildTicketd, or bin/ticketd of `make build`).
	Bin string
	// Command is ticketd's command: all, api, processor or sink.
	Command string
	// Addr is the HTTP address it listens on (HTTP_ADDR).
	Addr string
	// Env is added to this process's environment (later entries win).
	Env []string
	// Stdout and Stderr receive its output; nil discards it.
	Stdout, Stderr io.Writer
}

// StartTicketd starts a ticketd process and returns without waiting for it to be
// ready (WaitReady does). The process has a process group of its own, so that a
// Ctrl-C reaches only its parent, which stops it in order.
func StartTicketd(p Process) (*Ticketd, error) {
	cmd := exec.Command(p.Bin, p.Command)
	cmd.Env = append(append(os.Environ(), p.Env...), "HTTP_ADDR="+p.Addr)
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devstack: start %s %s: %w", p.Bin, p.Command, err)
	}
	t := &Ticketd{URL: addrURL(p.Addr), cmd: cmd, done: make(chan struct{})}
	go func() {
		t.err = cmd.Wait()
		close(t.done)
	}()
	return t, nil
}

// RunTicketd runs ticketd in this process: run (app.Run, typically) listens on addr
// until its context is cancelled by Stop. It returns without waiting for readiness.
func RunTicketd(addr string, run func(context.Context) error) *Ticketd {
	ctx, cancel := context.WithCancel(context.Background())
	t := &Ticketd{URL: addrURL(addr), cancel: cancel, done: make(chan struct{})}
	go func() {
		t.err = run(ctx)
		close(t.done)
	}()
	return t
}

// addrURL is the URL of an HTTP address; a bare port is on localhost.
func addrURL(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "http://localhost" + addr
	}
	return "http://" + addr
}

// Done is closed once ticketd has stopped.
func (t *Ticketd) Done() <-chan struct{} { return t.done }

// Err is why ticketd stopped (nil for a clean stop); valid once Done is closed.
func (t *Ticketd) Err() error {
	select {
	case <-t.done:
		return t.err
	default:
		return nil
	}
}

// WaitReady waits until GET /ready answers 200, ticketd stops (ErrExited), ctx is
// done, or ReadyTimeout has passed (ErrNotReady).
func (t *Ticketd) WaitReady(ctx context.Context) error {
	err := WaitReady(ctx, t.URL, t.done)
	if errors.Is(err, ErrExited) {
		return fmt.Errorf("%w: %v", err, t.err)
	}
	return err
}

// WaitReady polls base+"/ready" until it answers 200, exited is closed (ErrExited;
// nil never is), ctx is done, or ReadyTimeout has passed (ErrNotReady).
func WaitReady(ctx context.Context, base string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	// Loopback only: never through a proxy.
	client := &http.Client{Timeout: readyRequestTimeout, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	var last error
	for {
		if last = ready(ctx, client, base+"/ready"); last == nil {
			return nil
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w after %s at %s: %v", ErrNotReady, ReadyTimeout, base, last)
			}
			return ctx.Err()
		case <-time.After(readyPollInterval):
		}
	}
}

func ready(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// Signal sends sig to the process.
func (t *Ticketd) Signal(sig os.Signal) error {
	if t.cmd == nil {
		return ErrInProcess
	}
	return t.cmd.Process.Signal(sig)
}

// Kill kills the process with SIGKILL (no shutdown at all) and waits until it is gone.
func (t *Ticketd) Kill() error {
	if err := t.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-t.done
	return nil
}

// Stop stops ticketd gracefully (SIGCONT first, in case it was stopped, then SIGTERM;
// in this process, its context is cancelled) and waits for it. A process still
// running after StopTimeout is killed and ErrStopTimeout returned; otherwise Stop
// returns why it stopped, nil for a clean stop.
func (t *Ticketd) Stop() error {
	if t.cmd == nil {
		t.cancel()
	} else {
		_ = t.Signal(syscall.SIGCONT)
		_ = t.Signal(syscall.SIGTERM)
	}
	select {
	case <-t.done:
		return t.err
	case <-time.After(StopTimeout):
	}
	if t.cmd != nil {
		_ = t.Kill()
	}
	return fmt.Errorf("%w: %s", ErrStopTimeout, StopTimeout)
}

// BuildTicketd builds ticketd into dir and returns the binary's path.
func BuildTicketd(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "ticketd")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ticketdPackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("devstack: build ticketd: %w\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address whose port was free at the time of the call.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("devstack: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
