package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// guardWait bounds how long a test waits on a connection, so that a server that
// never answers fails the test instead of hanging it. It is no assertion on speed.
const guardWait = 10 * time.Second

// serve runs handler behind HTTPServer and Listen with cfg, and returns its address.
func serve(t *testing.T, cfg Config, handler http.Handler) string {
	t.Helper()
	cfg.Partitions = testPartitions
	srv, err := HTTPServer(cfg, handler)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(guardWait))
	return conn
}

func TestSlowBodyIsCutOff(t *testing.T) {
	// A client that sends its headers and then trickles (here: stops sending) its
	// body is cut off by ReadTimeout instead of holding the connection.
	f := newFixture(t, Config{})
	addr := serve(t, Config{ReadTimeout: 300 * time.Millisecond}, f.h)
	conn := dial(t, addr)
	_, err := io.WriteString(conn, "POST /holds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\n\r\n{\"event_id\":")
	if err != nil {
		t.Fatal(err)
	}
	// The server gives up on the body: it answers an error or closes; either way
	// the connection ends without the client sending more.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("status %d for a body never finished", resp.StatusCode)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_, err = conn.Read(make([]byte, 1))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still holds the connection after %v", guardWait)
	}
	f.assertNothingPublished()
}

func TestOversizedHeadersAre431(t *testing.T) {
	// Headers beyond HeaderBytesMax (plus net/http's 4 KiB of slack) answer 431.
	f := newFixture(t, Config{})
	addr := serve(t, Config{}, f.h)
	conn := dial(t, addr)
	big := strings.Repeat("a", HeaderBytesMaxDefault+8<<10)
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "+big+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

func TestConnectionsBeyondTheBoundWait(t *testing.T) {
	// With ConnectionsMax 1, a second client is not served while the first one's
	// connection is open: the handler never runs twice at once, and the second
	// request is served once the first connection closes.
	var (
		mu                sync.Mutex
		inside, maxInside int
	)
	second := make(chan struct{}, 1)
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inside++
		maxInside = max(maxInside, inside)
		mu.Unlock()
		if r.URL.Path == "/first" {
			// Hold the only connection until the second request gets in (which the
			// bound forbids) or the guard runs out.
			select {
			case <-second:
			case <-release:
			case <-time.After(2 * time.Second):
			}
		} else {
			second <- struct{}{}
		}
		mu.Lock()
		inside--
		mu.Unlock()
	})
	addr := serve(t, Config{ConnectionsMax: 1}, handler)
	first := dial(t, addr)
	if _, err := io.WriteString(first, "GET /first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Timeout: guardWait}).Get("http://" + addr + "/second")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if _, err := http.ReadResponse(bufio.NewReader(first), nil); err != nil {
		t.Fatal(err)
	}
	first.Close()
	if err := <-done; err != nil {
		t.Fatalf("second request: %v", err)
	}
	close(release)
	mu.Lock()
	defer mu.Unlock()
	if maxInside != 1 {
		t.Fatalf("%d requests served at once, want 1", maxInside)
	}
}
