package chaos

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

// Process bounds.
const (
	// restartAfterExit is how long the harness waits before starting again a process
	// that stopped on its own (like a supervisor's back-off).
	restartAfterExit = 2 * time.Second
)

// proc is one supervised ticketd process: a component (api, p1, p2, sink) or a
// duplicate processor. While wanted, a process that exits on its own is counted as
// an unexpected exit and started again after restartAfterExit.
type proc struct {
	name    string
	spec    devstack.Process
	logPath string

	mu       sync.Mutex
	td       *devstack.Ticketd // the running process, or nil
	done     chan struct{}     // closed when the running process has exited and td is nil
	wanted   bool              // restart after an exit we did not cause
	expected bool              // the running process is being stopped by the harness
	stopped  bool              // SIGSTOPped
	starts   int
	exits    []string // unexpected exits, with their status
	closed   bool
}

func newProc(name string, spec devstack.Process, logDir string) *proc {
	return &proc{name: name, spec: spec, logPath: filepath.Join(logDir, name+".log")}
}

// start starts the process (if not running) and keeps it wanted.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wanted = true
	return p.startLocked()
}

func (p *proc) startLocked() error {
	if p.td != nil || p.closed {
		return nil
	}
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.starts++
	fmt.Fprintf(log, "=== chaos: start %d of %s at %s\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	spec := p.spec
	spec.Stdout, spec.Stderr = log, log
	td, err := devstack.StartTicketd(spec)
	if err != nil {
		_ = log.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.td, p.done, p.expected, p.stopped = td, make(chan struct{}), false, false
	go p.wait(td, p.done, log)
	return nil
}

func (p *proc) wait(td *devstack.Ticketd, done chan struct{}, log *os.File) {
	<-td.Done()
	err := td.Err()
	fmt.Fprintf(log, "=== chaos: %s exited at %s: %v\n", p.name, time.Now().Format(time.RFC3339Nano), err)
	_ = log.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	close(done)
	p.td = nil
	if p.expected || !p.wanted || p.closed {
		return
	}
	status := "exit 0"
	if err != nil {
		status = err.Error()
	}
	p.exits = append(p.exits, status)
	time.AfterFunc(restartAfterExit, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.wanted {
			_ = p.startLocked()
		}
	})
}

// signal sends sig to the running process; expected marks an exit it causes as the
// harness's doing.
func (p *proc) signal(sig syscall.Signal, expected bool) (chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.td == nil {
		return nil, false
	}
	if expected {
		p.expected = true
	}
	switch sig {
	case syscall.SIGSTOP:
		p.stopped = true
	case syscall.SIGCONT:
		p.stopped = false
	}
	_ = p.td.Signal(sig)
	return p.done, true
}

// kill sends SIGKILL and waits for the exit; the process stays down until start.
func (p *proc) kill() {
	p.mu.Lock()
	p.wanted = false
	p.mu.Unlock()
	if done, ok := p.signal(syscall.SIGKILL, true); ok {
		<-done
	}
}

func (p *proc) pause()  { p.signal(syscall.SIGSTOP, false) }
func (p *proc) resume() { p.signal(syscall.SIGCONT, false) }

// terminate stops the process gracefully (devstack's Ticketd.Stop: SIGCONT, SIGTERM,
// and SIGKILL after devstack.StopTimeout), keeping it down.
func (p *proc) terminate() {
	p.mu.Lock()
	p.wanted = false
	td, done := p.td, p.done
	if td != nil {
		p.expected, p.stopped = true, false
	}
	p.mu.Unlock()
	if td == nil {
		return
	}
	_ = td.Stop()
	<-done
}

// close terminates the process for good.
func (p *proc) close() {
	p.terminate()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.td != nil
}

// unexpectedExits returns the exits the harness did not cause.
func (p *proc) unexpectedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.exits...)
}

// logLinesMax bounds the panic lines kept per log.
const logLinesMax = 5

// panics returns the first lines of the panics and fatal errors in the log.
func (p *proc) panics() []string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			if len(out) < logLinesMax {
				out = append(out, line)
			}
		}
	}
	return out
}

// errNotReady is returned when a component does not get ready in time.
var errNotReady = errors.New("chaos: not ready")
