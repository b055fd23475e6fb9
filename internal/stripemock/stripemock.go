// Package stripemock starts stripe-mock, Stripe's mock API server, for tests and
// `make run`: the binary `make deps` installs (deploy/deps.sh) on a free local
// port, stopped by Stop. stripe-mock answers every Stripe endpoint with canned
// objects validated against Stripe's OpenAPI spec: it reflects a create's amount
// and currency, but not metadata, and its ids are random per call; it keeps no
// state (a retrieve or a list answers a fixed fixture).
package stripemock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Version is the stripe-mock release deploy/deps.sh installs.
const Version = "v0.203.0" // keep in step with STRIPE_MOCK_VERSION in deploy/deps.sh

// SecretKey is a test key stripe-mock accepts.
const SecretKey = "sk_test_123"

// startTimeout bounds stripe-mock's start (it loads Stripe's spec).
const startTimeout = 2 * time.Minute

// Server is a running stripe-mock.
type Server struct {
	// URL is its HTTP base URL, for payment.StripeConfig.URL.
	URL string
	cmd *exec.Cmd
}

// Binary finds stripe-mock: STRIPE_MOCK_BIN, else .cache/bin/stripe-mock in the
// repository (what make deps installs), else stripe-mock on PATH.
func Binary() (string, error) {
	if p := os.Getenv("STRIPE_MOCK_BIN"); p != "" {
		return p, nil
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".cache", "bin", "stripe-mock")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("stripe-mock")
	if err != nil {
		return "", errors.New("stripemock: stripe-mock not found: run `make deps` (or set STRIPE_MOCK_BIN)")
	}
	return p, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stripemock: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start runs stripe-mock on a free port of 127.0.0.1 and returns once it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-http-addr", addr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stripemock: start %s: %w", bin, err)
	}
	s := &Server{URL: "http://" + addr, cmd: cmd}
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("stripemock: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v1/balance", nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(SecretKey, "")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stripemock: not ready at %s within %v", s.URL, startTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop ends the process and waits for it.
func (s *Server) Stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	return nil
}

// ForTest starts stripe-mock for t and stops it when t ends. Under -short the test
// is skipped, like the tests that need Kafka or Postgres.
func ForTest(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("stripe-mock: skipped under -short")
	}
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}
