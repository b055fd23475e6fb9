package api

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"
)

// Defaults for the zero values of Config.
const (
	waitMaxDefault          = 30 * time.Second
	waitersMaxDefault       = 10_000
	waitPollIntervalDefault = 5 * time.Millisecond
	bodyBytesMaxDefault     = 64 << 10
	rateClientsMaxDefault   = 100_000
	clockSkewMaxDefault     = 2 * time.Minute
	readyTimeoutDefault     = 2 * time.Second
	queryTimeoutDefault     = 2 * time.Second
	publishTimeoutDefault   = 10 * time.Second

	readHeaderTimeoutDefault = 5 * time.Second
	readTimeoutDefault       = 15 * time.Second
	// writeTimeoutBeyondWaitDefault is what WriteTimeout adds to WaitMax by
	// default: a submit may wait WaitMax, then still has to publish and answer.
	writeTimeoutBeyondWaitDefault = 15 * time.Second
	idleTimeoutDefault            = 60 * time.Second
	headerBytesMaxDefault         = 16 << 10
	connectionsMaxDefault         = 10_000

	// requestIDPartitionsMax is how many partitions a request id can name: the
	// partition goes in the 12 rand_a bits of the UUIDv7.
	requestIDPartitionsMax = 1 << 12

	// adminTokenBytesMin keeps guessable tokens out of the configuration.
	adminTokenBytesMin = 16
)

// Config configures the HTTP server. A zero field takes the default named in its
// comment; negative durations and counts are rejected by Validate.
type Config struct {
	// AdminTokens are the bearer tokens accepted on the admin routes (POST /events,
	// PATCH /events/{id}/zones/{zone_id}), each at least 16 bytes. Default: none,
	// and every admin request answers 401.
	AdminTokens []string

	// WaitMax caps the N of `Prefer: wait=N`. Default 30s.
	WaitMax time.Duration
	// WaitersMax bounds the submits waiting for their result at once; a submit
	// beyond it answers 202 at once. Default 10000.
	WaitersMax int
	// WaitPollInterval is the pause between two queries of the shared poller that
	// wakes waiting submits. Default 5ms.
	WaitPollInterval time.Duration

	// BodyBytesMax bounds a request body; a larger one answers 413. Default 64 KiB.
	BodyBytesMax int64

	// RateLimit is the sustained requests per second allowed per client IP (token
	// bucket). Default 0: no rate limit.
	RateLimit float64
	// RateBurst is the bucket size. Default: RateLimit rounded up (at least 1).
	RateBurst int
	// RateClientsMax bounds the client buckets kept in memory. Default 100000.
	RateClientsMax int
	// TrustedProxies are the proxy IPs or CIDRs whose X-Forwarded-For /
	// X-Real-IP headers name the client. Default: none, the client is the peer.
	TrustedProxies []string

	// Partitions is the partition count of the commands topic. Required: request
	// ids carry the partition of their command (see newRequestID), and an unknown
	// id is told from a pending one by that partition's progress.
	Partitions int32
	// ClockSkewMax is the largest difference allowed between the clocks of the API
	// hosts and the Kafka brokers. GET /requests/{id} answers 404 for an unknown id
	// only once its partition is decided through the id's time plus PublishTimeout
	// plus ClockSkewMax. Default 2m.
	ClockSkewMax time.Duration

	// ReadyTimeout bounds one GET /ready check. Default 2s.
	ReadyTimeout time.Duration
	// QueryTimeout bounds one read-model query. Default 2s.
	QueryTimeout time.Duration
	// PublishTimeout bounds publishing one command. Default 10s.
	PublishTimeout time.Duration

	// ReadHeaderTimeout bounds reading a request's headers. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a client sending
	// its body slowly is cut off. Default 15s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end of its
	// answer; it must exceed WaitMax, the longest `Prefer: wait`. Default WaitMax
	// + 15s.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its next
	// request. Default 60s.
	IdleTimeout time.Duration
	// HeaderBytesMax bounds a request's headers (net/http allows 4 KiB of slack on
	// top); larger headers answer 431. Default 16 KiB.
	HeaderBytesMax int
	// ConnectionsMax bounds the connections served at once; further clients wait
	// in the listen backlog until one closes. Default 10000.
	ConnectionsMax int

	// Logger receives errors worth an operator's attention. Default slog.Default().
	Logger *slog.Logger
}

// Validate rejects settings that contradict each other or cannot work.
func (c Config) Validate() error {
	var errs []error
	for i, t := range c.AdminTokens {
		if len(t) < adminTokenBytesMin {
			errs = append(errs, fmt.Errorf("api: admin token %d is shorter than %d bytes", i, adminTokenBytesMin))
		}
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"WaitMax", c.WaitMax}, {"WaitPollInterval", c.WaitPollInterval},
		{"ClockSkewMax", c.ClockSkewMax}, {"ReadyTimeout", c.ReadyTimeout},
		{"QueryTimeout", c.QueryTimeout}, {"PublishTimeout", c.PublishTimeout},
		{"ReadHeaderTimeout", c.ReadHeaderTimeout}, {"ReadTimeout", c.ReadTimeout},
		{"WriteTimeout", c.WriteTimeout}, {"IdleTimeout", c.IdleTimeout},
	}
	for _, d := range durations {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("api: %s is negative (%s)", d.name, d.d))
		}
	}
	if c.WaitersMax < 0 || c.BodyBytesMax < 0 || c.RateBurst < 0 || c.RateClientsMax < 0 ||
		c.HeaderBytesMax < 0 || c.ConnectionsMax < 0 {
		errs = append(errs, errors.New("api: WaitersMax, BodyBytesMax, RateBurst, RateClientsMax, HeaderBytesMax and ConnectionsMax must not be negative"))
	}
	if c.Partitions < 1 || c.Partitions > requestIDPartitionsMax {
		errs = append(errs, fmt.Errorf("api: Partitions %d is not in [1, %d]", c.Partitions, requestIDPartitionsMax))
	}
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("api: RateLimit %v must be a finite number >= 0", c.RateLimit))
	}
	if c.RateLimit == 0 && c.RateBurst > 0 {
		errs = append(errs, errors.New("api: RateBurst is set but RateLimit is 0 (rate limiting off)"))
	}
	d := c.withDefaults()
	if d.WaitPollInterval >= d.WaitMax {
		errs = append(errs, fmt.Errorf("api: WaitPollInterval %s must be shorter than WaitMax %s", d.WaitPollInterval, d.WaitMax))
	}
	if d.WriteTimeout <= d.WaitMax {
		errs = append(errs, fmt.Errorf("api: WriteTimeout %s must be longer than WaitMax %s: a waiting submit would be cut off", d.WriteTimeout, d.WaitMax))
	}
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				errs = append(errs, fmt.Errorf("api: trusted proxy %q is neither an IP nor a CIDR", p))
			}
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDuration(&c.WaitMax, waitMaxDefault)
	setDuration(&c.WaitPollInterval, waitPollIntervalDefault)
	setDuration(&c.ClockSkewMax, clockSkewMaxDefault)
	setDuration(&c.ReadHeaderTimeout, readHeaderTimeoutDefault)
	setDuration(&c.ReadTimeout, readTimeoutDefault)
	setDuration(&c.WriteTimeout, c.WaitMax+writeTimeoutBeyondWaitDefault)
	setDuration(&c.IdleTimeout, idleTimeoutDefault)
	if c.HeaderBytesMax == 0 {
		c.HeaderBytesMax = headerBytesMaxDefault
	}
	if c.ConnectionsMax == 0 {
		c.ConnectionsMax = connectionsMaxDefault
	}
	setDuration(&c.ReadyTimeout, readyTimeoutDefault)
	setDuration(&c.QueryTimeout, queryTimeoutDefault)
	setDuration(&c.PublishTimeout, publishTimeoutDefault)
	if c.WaitersMax == 0 {
		c.WaitersMax = waitersMaxDefault
	}
	if c.BodyBytesMax == 0 {
		c.BodyBytesMax = bodyBytesMaxDefault
	}
	if c.RateClientsMax == 0 {
		c.RateClientsMax = rateClientsMaxDefault
	}
	if c.RateLimit > 0 && c.RateBurst == 0 {
		c.RateBurst = max(1, int(math.Ceil(c.RateLimit)))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
