package hotbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

// The components whose CPU is measured.
const (
	CompAPI         = "api"
	CompProcessor   = "processor"
	CompSink        = "sink"
	CompKafka       = "kafka"
	CompPostgres    = "postgres"
	CompDockerProxy = "docker-proxy"
	CompGenerator   = "generator"
	CompClassic     = "classic"
)

// The systems compared.
const (
	SystemPipeline = "pipeline"
	SystemClassic  = "classic"
)

// Components of each system, in the order of the CPU table.
var Components = map[string][]string{
	SystemPipeline: {CompAPI, CompProcessor, CompSink, CompKafka, CompPostgres, CompDockerProxy, CompGenerator},
	SystemClassic:  {CompClassic, CompPostgres, CompDockerProxy, CompGenerator},
}

// Bounds of the rig's set-up.
const (
	buildTimeout   = 10 * time.Minute
	setupTimeout   = 5 * time.Minute
	healthTimeout  = 3 * time.Minute
	stopTimeout    = 30 * time.Second
	classicPackage = "github.com/ultimate-ticket/ultimate-ticket/cmd/classic"
)

// Rig is everything a hot-zone run measures, running on loopback: Kafka and
// Postgres in Docker, ticketd as three processes (api, processor, sink) and the
// classic server as one.
type Rig struct {
	Token       string
	PipelineURL string
	ClassicURL  string
	Brokers     []string
	Meter       *Meter

	stack *devstack.Stack
	procs []*process
	dir   string
}

// process is a child process the rig started.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRig builds ticketd and cmd/classic, starts the stack and every process, and
// waits until each answers. logs receives the processes' output; progress a line
// per step. Whatever started is stopped again when a later step fails.
func StartRig(ctx context.Context, logs, progress io.Writer) (r *Rig, err error) {
	logf := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }
	r = &Rig{Meter: &Meter{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.Stop())
			r = nil
		}
	}()
	if r.dir, err = os.MkdirTemp("", "hotbench-"); err != nil {
		return r, err
	}
	logf("==> building ticketd and classic")
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	ticketd, err := devstack.BuildTicketd(bctx, r.dir)
	if err != nil {
		return r, err
	}
	classic := filepath.Join(r.dir, "classic")
	if out, err := exec.CommandContext(bctx, "go", "build", "-o", classic, classicPackage).CombinedOutput(); err != nil {
		return r, fmt.Errorf("build classic: %w\n%s", err, out)
	}
	if r.Token, err = token(); err != nil {
		return r, err
	}
	sctx, cancelSetup := context.WithTimeout(ctx, setupTimeout)
	defer cancelSetup()
	if r.stack, err = devstack.Up(sctx, devstack.Options{Log: progress}); err != nil {
		return r, err
	}
	r.Brokers = r.stack.Brokers()
	env := append(r.stack.Env(), "ADMIN_TOKEN="+r.Token, "INSTANCE=hotbench", "LOG_LEVEL=warn")
	logf("==> ticketd migrate, topics")
	for _, cmd := range []string{"migrate", "topics"} {
		c := exec.CommandContext(sctx, ticketd, cmd)
		c.Env, c.Stdout, c.Stderr = append(os.Environ(), env...), logs, logs
		if err := c.Run(); err != nil {
			return r, fmt.Errorf("ticketd %s: %w", cmd, err)
		}
	}
	for _, cmd := range []string{"processor", "sink", "api"} {
		addr, err := devstack.FreeAddr()
		if err != nil {
			return r, err
		}
		logf("==> ticketd %s on %s", cmd, addr)
		p, err := r.start(cmd, ticketd, []string{cmd}, append(env, "HTTP_ADDR="+addr), logs)
		if err != nil {
			return r, err
		}
		path := "/health"
		if cmd == "api" {
			path, r.PipelineURL = "/ready", "http://"+addr
		}
		if err := waitOK(sctx, "http://"+addr+path, p.done); err != nil {
			return r, fmt.Errorf("ticketd %s: %w", cmd, err)
		}
		r.Meter.Sources = append(r.Meter.Sources, procSource(cmd, p.cmd.Process.Pid))
	}
	addr, err := devstack.FreeAddr()
	if err != nil {
		return r, err
	}
	logf("==> classic on %s", addr)
	p, err := r.start(CompClassic, classic, []string{"-http-addr", addr, "-database-url", r.stack.Postgres.URL,
		"-admin-token", r.Token}, nil, logs)
	if err != nil {
		return r, err
	}
	r.ClassicURL = "http://" + addr
	if err := waitOK(sctx, r.ClassicURL+"/ready", p.done); err != nil {
		return r, fmt.Errorf("classic: %w", err)
	}
	r.Meter.Sources = append(r.Meter.Sources, procSource(CompClassic, p.cmd.Process.Pid))
	r.addContainerSources(sctx, progress)
	r.Meter.Sources = append(r.Meter.Sources,
		CPUSource{Name: CompDockerProxy, Read: func() (time.Duration, error) { return NamedCPU("docker-proxy") }},
		SelfSource())
	return r, nil
}

func procSource(name string, pid int) CPUSource {
	return CPUSource{Name: name, Read: func() (time.Duration, error) { return ProcessCPU(pid) }}
}

// addContainerSources measures Kafka and Postgres by their containers' cgroups, or
// by their process trees where the cgroup cannot be read; a container whose
// processes are not on this machine is left out (and said so).
func (r *Rig) addContainerSources(ctx context.Context, progress io.Writer) {
	type pidder interface {
		ContainerPID(context.Context) (int, error)
	}
	var kafka pidder
	if r.stack.Kafka != nil {
		kafka = r.stack.Kafka
	}
	for _, c := range []struct {
		name string
		srv  pidder
	}{{CompKafka, kafka}, {CompPostgres, r.stack.Postgres}} {
		if c.srv == nil {
			continue
		}
		pid, err := c.srv.ContainerPID(ctx)
		if err != nil {
			fmt.Fprintf(progress, "    %s: no CPU figures: %v\n", c.name, err)
			continue
		}
		if read, err := CgroupCPU(pid); err == nil {
			r.Meter.Sources = append(r.Meter.Sources, CPUSource{Name: c.name, Read: read})
			continue
		}
		if _, err := TreeCPU(pid); err != nil {
			fmt.Fprintf(progress, "    %s: no CPU figures: %v\n", c.name, err)
			continue
		}
		fmt.Fprintf(progress, "    %s: CPU from its process tree (its cgroup cannot be read)\n", c.name)
		r.Meter.Sources = append(r.Meter.Sources, CPUSource{Name: c.name, Read: func() (time.Duration, error) { return TreeCPU(pid) }})
	}
}

// start starts a child process in a process group of its own (a Ctrl-C reaches the
// rig, which stops it in order).
func (r *Rig) start(name, bin string, args, env []string, logs io.Writer) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	r.procs = append(r.procs, p)
	return p, nil
}

// waitOK polls url until it answers 200, the process exits, or healthTimeout.
func waitOK(ctx context.Context, url string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the processes (SIGTERM, SIGKILL after stopTimeout), in the reverse
// order of their start, then the containers, and removes the binaries.
func (r *Rig) Stop() error {
	var errs []error
	for i := len(r.procs) - 1; i >= 0; i-- {
		p := r.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s did not stop within %s", p.name, stopTimeout))
		}
	}
	r.procs = nil
	if r.stack != nil {
		errs = append(errs, r.stack.Down(context.Background()))
		r.stack = nil
	}
	if r.dir != "" {
		errs = append(errs, os.RemoveAll(r.dir))
		r.dir = ""
	}
	return errors.Join(errs...)
}

func token() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "hotbench-" + hex.EncodeToString(b), nil
}

// describe is the rig for the report's header.
func (r *Rig) describe() string {
	var names []string
	for _, s := range r.Meter.Sources {
		names = append(names, s.Name)
	}
	return "CPU measured: " + strings.Join(names, ", ")
}
