package composetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

const (
	repoRoot    = "../.."
	composeFile = "deploy/compose/docker-compose.yml"
	composeSh   = "deploy/compose/compose.sh"
	adminToken  = "composetest-admin-token-0123456789"
	// upTimeout bounds compose.sh up: the first run builds ticketd and the
	// Prometheus and Alertmanager images; every run waits for the Kafka quorum.
	upTimeout = 8 * time.Minute
	// downTimeout bounds compose.sh down.
	downTimeout = 2 * time.Minute
	// logLinesMax is how many of each service's last log lines a failed test shows.
	logLinesMax = 40
	// projectPrefix names the compose project of a run, followed by its pid.
	projectPrefix = "ut-composetest-"
)

// stack is a compose stack of this test run: its own project name and free
// loopback ports, so it clashes neither with `make compose-up` nor with `make run`.
type stack struct {
	t       testing.TB
	root    string
	project string
	env     []string // added to compose.sh's and docker-compose's environment
	api     string   // base URL of the API
	prom    string   // base URL of Prometheus
	grafana string   // base URL of Grafana; empty when it does not run
	images  map[string]string
}

// newStack names the stack and picks its ports; nothing runs yet.
func newStack(t testing.TB) *stack {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, root: root, project: fmt.Sprintf("%s%d", projectPrefix, os.Getpid())}
	apiPort, promPort, grafanaPort := freePort(t), freePort(t), freePort(t)
	s.env = []string{
		"COMPOSE_PROJECT_NAME=" + s.project,
		"COMPOSE_API_PORT=" + apiPort,
		"COMPOSE_PROMETHEUS_PORT=" + promPort,
		"COMPOSE_GRAFANA_PORT=" + grafanaPort,
		"ADMIN_TOKEN=" + adminToken,
	}
	s.api = "http://127.0.0.1:" + apiPort
	s.prom = "http://127.0.0.1:" + promPort
	s.grafana = "http://127.0.0.1:" + grafanaPort
	return s
}

func freePort(t testing.TB) string {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// run runs a command in the repository root with the stack's environment and
// returns its combined output.
func (s *stack) run(ctx context.Context, extraEnv []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.root
	cmd.Env = append(append(os.Environ(), s.env...), extraEnv...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// buildImages runs compose.sh images, which builds what is missing (and installs
// docker-compose from Debian when it is not there), and keeps the image names.
func (s *stack) buildImages() error {
	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", composeSh, "images")
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), s.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	s.t.Logf("compose.sh images:\n%s%s", stderr.String(), out)
	if err != nil {
		return fmt.Errorf("compose.sh images: %w", err)
	}
	s.images = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), "="); ok {
			s.images[name] = value
			s.env = append(s.env, sc.Text())
		}
	}
	return nil
}

// up starts the stack (with the grafana profile when withGrafana) and registers its
// teardown; compose.sh up returns once the API is ready.
func (s *stack) up(withGrafana bool) {
	s.t.Helper()
	s.t.Cleanup(s.down)
	extra := []string{"GRAFANA=0"}
	if withGrafana {
		extra = []string{"GRAFANA=1"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	start := time.Now()
	out, err := s.run(ctx, extra, "bash", composeSh, "up")
	s.t.Logf("compose.sh up (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		s.t.Fatal(err)
	}
}

// down shows the services' last log lines when the test failed, then removes the
// stack, its volumes and network.
func (s *stack) down() {
	ctx, cancel := context.WithTimeout(context.Background(), downTimeout)
	defer cancel()
	if s.t.Failed() {
		out, _ := s.run(ctx, nil, "docker-compose", "-p", s.project, "-f", composeFile, "--profile", "grafana",
			"logs", "--no-color", "--tail", fmt.Sprint(logLinesMax))
		s.t.Logf("services' last log lines:\n%s", out)
	}
	start := time.Now()
	out, err := s.run(ctx, nil, "bash", composeSh, "down")
	if err != nil {
		s.t.Errorf("%v\n%s", err, out)
		return
	}
	s.t.Logf("compose.sh down (%s)", time.Since(start).Round(time.Second))
}

// removeLeftovers tears down the stacks of earlier runs that were killed before
// their cleanup: every project ut-composetest-<pid> whose process is gone. Their
// containers would otherwise stay, and come back whenever Docker restarts (restart:
// unless-stopped). The pid is this machine's: the runs share it and its Docker.
func (s *stack) removeLeftovers() {
	ctx, cancel := context.WithTimeout(context.Background(), downTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label=com.docker.compose.project",
		"--format", `{{.Label "com.docker.compose.project"}}`).Output()
	if err != nil {
		s.t.Logf("listing compose projects for leftovers: %v", err)
		return
	}
	seen := map[string]bool{}
	for _, project := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(strings.TrimPrefix(project, projectPrefix))
		if !strings.HasPrefix(project, projectPrefix) || err != nil || seen[project] || processRunning(pid) {
			continue
		}
		seen[project] = true
		out, err := s.run(ctx, nil, "docker-compose", "-p", project, "-f", composeFile,
			"--profile", "grafana", "--profile", "payments", "down", "-v", "--remove-orphans", "--timeout", "5")
		if err != nil {
			s.t.Logf("removing the leftover stack %s: %v\n%s", project, err, out)
			continue
		}
		s.t.Logf("removed the leftover stack %s of an earlier run (process %d is gone)", project, pid)
	}
}

// processRunning reports whether a process of this pid exists (its owner may be
// another user).
func processRunning(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// imagePresent reports whether Docker has image locally.
func imagePresent(image string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "image", "inspect", image).Run() == nil
}
