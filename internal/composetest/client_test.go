package composetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

const (
	// requestTimeout bounds one HTTP request to the stack.
	requestTimeout = 15 * time.Second
	// eventuallyTimeout bounds the wait for a condition the stack reaches on its own
	// (the read model catching up, a scrape, a rule evaluation).
	eventuallyTimeout = 60 * time.Second
	// eventuallyInterval is the pause between two looks.
	eventuallyInterval = 250 * time.Millisecond
	// bodyMax bounds how much of an answer is read.
	bodyMax = 4 << 20
)

// client speaks HTTP to one service of the stack, on loopback, never through a proxy.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, base string) *client {
	return &client{t: t, base: base, http: &http.Client{Timeout: requestTimeout, Transport: &http.Transport{Proxy: nil}}}
}

// response is an HTTP answer, its body read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as a JSON object.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// errorCode is the code of an error body {"error":{"code",...}}.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	if e == nil {
		t.Fatalf("body %s has no error object", r.body)
	}
	code, _ := e["code"].(string)
	return code
}

// do sends a request with body (nil, or a value sent as JSON) and headers (name,
// value, name, value, …); a transport error fails the test.
func (c *client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	r, err := c.try(method, path, body, headers...)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// try is do that returns a transport error instead of failing the test.
func (c *client) try(method, path string, body any, headers ...string) (response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, bodyMax))
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// expect fails the test unless r has the given status.
func (c *client) expect(r response, status int) response {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// eventually polls cond until it returns "" (met) or eventuallyTimeout has passed;
// then the test fails with the last thing cond said was missing.
func eventually(t testing.TB, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(eventuallyTimeout)
	for {
		missing := cond()
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, eventuallyTimeout, missing)
		}
		time.Sleep(eventuallyInterval)
	}
}

// bearer is the Authorization header of the admin endpoints.
func bearer() []string { return []string{"Authorization", "Bearer " + adminToken} }
