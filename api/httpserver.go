package api

import (
	"fmt"
	"net"
	"net/http"

	"golang.org/x/net/netutil"
)

// HTTPServer returns the http.Server that serves handler with cfg's limits: header,
// read, write and idle timeouts and the header size bound, so that a slow or idle
// client cannot hold a connection and its goroutine for ever. Serve it on Listen's
// listener, which bounds the connections.
func HTTPServer(cfg Config, handler http.Handler) (*http.Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.HeaderBytesMax,
	}, nil
}

// Listen listens on addr and accepts at most cfg.ConnectionsMax connections at
// once: beyond it, clients wait in the kernel's backlog until a connection closes,
// instead of each costing a goroutine and buffers.
func Listen(cfg Config, addr string) (net.Listener, error) {
	cfg = cfg.withDefaults()
	if cfg.ConnectionsMax < 1 {
		return nil, fmt.Errorf("api: ConnectionsMax %d must be at least 1", cfg.ConnectionsMax)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	return netutil.LimitListener(l, cfg.ConnectionsMax), nil
}
