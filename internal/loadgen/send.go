package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// Send sends one request, its body (when not nil) as JSON, with the given headers,
// and returns the answer's status and body (at most 1 MiB of it). The load
// generators of loadgen and chaos both talk to the API through it.
func Send(ctx context.Context, client *http.Client, method, url string, body any, hdr map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, responseBytesMax))
	return resp.StatusCode, raw, err
}
