package api

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
)

// Defaults and bounds of the Config fields.
const (
	WaitMaxDefault           = 30 * time.Second
	WaitersMaxDefault        = 10_000
	WaitPollIntervalDefault  = 5 * time.Millisecond
	BodyBytesMaxDefault      = 64 << 10
	RateBurstDefault         = 20
	RateClientsMaxDefault    = 100_000
	ClockSkewMaxDefault      = 2 * time.Minute
	ReadyTimeoutDefault      = 2 * time.Second
	QueryTimeoutDefault      = 2 * time.Second
	PublishTimeoutDefault    = 10 * time.Second
	ZoneCacheTTLDefault      = time.Second
	ZoneStaleMaxDefault      = time.Minute
	InFlightMaxDefault       = 20_000
	AdmissionTargetDefault   = 50 * time.Millisecond
	AdmissionIntervalDefault = 500 * time.Millisecond
	KeyLookupWorkersDefault  = 2
	BatchBodyBytesMaxDefault = 1 << 20

	// BatchHoldsMax is the most holds one POST /holds/batch carries, and the
	// most ids one POST /requests/lookup asks for.
	BatchHoldsMax = 1000

	ReadHeaderTimeoutDefault = 5 * time.Second
	ReadTimeoutDefault       = 15 * time.Second
	// WriteTimeoutBeyondWaitDefault is what WriteTimeout adds to WaitMax by
	// default: a submit may wait WaitMax, then still has to publish and answer.
	WriteTimeoutBeyondWaitDefault = 15 * time.Second
	IdleTimeoutDefault            = 60 * time.Second
	HeaderBytesMaxDefault         = 16 << 10
	ConnectionsMaxDefault         = 10_000

	// PartitionsMax is how many partitions a request id can name: the partition
	// goes in the 12 rand_a bits of the UUIDv7.
	PartitionsMax = 1 << 12

	// AdminTokenBytesMin keeps guessable tokens out of the configuration.
	AdminTokenBytesMin = 16
)

// Config configures the HTTP server. A zero field takes the default named in its
// comment; negative durations and counts are rejected by Validate.
type Config struct {
	// AdminTokens are the bearer tokens accepted on the admin routes (POST /events,
	// PATCH /events/{id}/zones/{zone_id}), each at least 16 bytes (AdminTokenBytesMin). Default: none,
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
	// RateBurst is the bucket size, when RateLimit is set. Default 20.
	RateBurst int
	// RateClientsMax bounds the client buckets kept in memory. Default 100000.
	RateClientsMax int
	// TrustedProxies are the proxy IPs or CIDRs whose X-Forwarded-For /
	// X-Real-IP headers name the client. Default: none, the client is the peer.
	TrustedProxies []string

	// Partitions is the partition count of the commands topic, at most 4096.
	// Required: request ids carry the partition of their command (see
	// newRequestID), and an unknown id is told from a pending one by that
	// partition's progress.
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
	// PublishTimeout bounds publishing one command; the Publisher is given no
	// longer. Default 10s.
	PublishTimeout time.Duration

	// ZoneCacheTTL is how old the API's copy of a zone's settings may be before a
	// submit to the zone refreshes it from the read model (in the background: the
	// submit goes on with the copy it has). Default 1s.
	ZoneCacheTTL time.Duration
	// ZoneStaleMax is how old that copy may grow while the read model cannot be
	// reached; past it, submits to the zone answer 503. Default 1m.
	ZoneStaleMax time.Duration
	// InFlightMax bounds the commands being published at once (sent to Kafka and
	// not yet acknowledged), summed over all submits. A submit that would go over
	// it answers 503 overloaded with Retry-After at once, without publishing.
	// Default 20000.
	InFlightMax int
	// AdmissionTarget is the time in flight (from admission until Kafka has the
	// commands) that submits should not exceed: when even the fastest submit of an
	// AdmissionInterval took longer, new submits answer 503 overloaded at once
	// until one completes within the target again (see sojourn). Default 50ms.
	AdmissionTarget time.Duration
	// AdmissionInterval is the window of that judgement. Default 500ms.
	AdmissionInterval time.Duration
	// KeyLookupWorkers is how many queries at once check idempotency keys against
	// the read model; each query checks every key waiting (up to BatchHoldsMax), so
	// under load one query serves many submits. Default 2.
	KeyLookupWorkers int
	// BatchBodyBytesMax bounds the body of POST /holds/batch and POST
	// /requests/lookup. Default 1 MiB.
	BatchBodyBytesMax int64

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

// Validate reports every setting that cannot work, or that contradicts another.
func (c Config) Validate() error {
	p := setting.For("api")
	for i, t := range c.AdminTokens {
		if len(t) < AdminTokenBytesMin {
			p.Add(fmt.Sprintf("AdminTokens[%d]", i), "is shorter than %d bytes", AdminTokenBytesMin)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"WaitMax", c.WaitMax}, {"WaitPollInterval", c.WaitPollInterval},
		{"ClockSkewMax", c.ClockSkewMax}, {"ReadyTimeout", c.ReadyTimeout},
		{"QueryTimeout", c.QueryTimeout}, {"PublishTimeout", c.PublishTimeout},
		{"ZoneCacheTTL", c.ZoneCacheTTL}, {"ZoneStaleMax", c.ZoneStaleMax},
		{"AdmissionTarget", c.AdmissionTarget}, {"AdmissionInterval", c.AdmissionInterval},
		{"ReadHeaderTimeout", c.ReadHeaderTimeout}, {"ReadTimeout", c.ReadTimeout},
		{"WriteTimeout", c.WriteTimeout}, {"IdleTimeout", c.IdleTimeout},
	} {
		setting.AtLeast(p, d.name, d.v, 0)
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"WaitersMax", int64(c.WaitersMax)}, {"BodyBytesMax", c.BodyBytesMax},
		{"RateBurst", int64(c.RateBurst)}, {"RateClientsMax", int64(c.RateClientsMax)},
		{"HeaderBytesMax", int64(c.HeaderBytesMax)}, {"ConnectionsMax", int64(c.ConnectionsMax)},
		{"InFlightMax", int64(c.InFlightMax)}, {"KeyLookupWorkers", int64(c.KeyLookupWorkers)},
		{"BatchBodyBytesMax", c.BatchBodyBytesMax},
	} {
		setting.AtLeast(p, n.name, n.v, 0)
	}
	setting.Range(p, "Partitions", c.Partitions, 1, PartitionsMax)
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		p.Add("RateLimit", "%v is not a finite number >= 0", c.RateLimit)
	}
	if c.RateLimit == 0 && c.RateBurst > 0 {
		p.Add("RateBurst", "is set but RateLimit is 0 (rate limiting off)")
	}
	d := c.withDefaults()
	if d.WaitPollInterval >= d.WaitMax {
		p.Add("WaitPollInterval", "%s must be shorter than WaitMax %s", d.WaitPollInterval, d.WaitMax)
	}
	if d.ZoneStaleMax < d.ZoneCacheTTL {
		p.Add("ZoneStaleMax", "%s must not be shorter than ZoneCacheTTL %s", d.ZoneStaleMax, d.ZoneCacheTTL)
	}
	if d.InFlightMax < BatchHoldsMax {
		p.Add("InFlightMax", "%d must be at least %d, the holds of one batch", d.InFlightMax, BatchHoldsMax)
	}
	if d.WriteTimeout <= d.WaitMax {
		p.Add("WriteTimeout", "%s must be longer than WaitMax %s: a waiting submit would be cut off", d.WriteTimeout, d.WaitMax)
	}
	for i, proxy := range c.TrustedProxies {
		if net.ParseIP(proxy) == nil {
			if _, _, err := net.ParseCIDR(proxy); err != nil {
				p.Add(fmt.Sprintf("TrustedProxies[%d]", i), "%q is neither an IP nor a CIDR", proxy)
			}
		}
	}
	return p.Err()
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c = setting.Fill(c, Config{
		WaitMax:           WaitMaxDefault,
		WaitersMax:        WaitersMaxDefault,
		WaitPollInterval:  WaitPollIntervalDefault,
		BodyBytesMax:      BodyBytesMaxDefault,
		RateClientsMax:    RateClientsMaxDefault,
		ClockSkewMax:      ClockSkewMaxDefault,
		ReadyTimeout:      ReadyTimeoutDefault,
		QueryTimeout:      QueryTimeoutDefault,
		PublishTimeout:    PublishTimeoutDefault,
		ZoneCacheTTL:      ZoneCacheTTLDefault,
		ZoneStaleMax:      ZoneStaleMaxDefault,
		InFlightMax:       InFlightMaxDefault,
		AdmissionTarget:   AdmissionTargetDefault,
		AdmissionInterval: AdmissionIntervalDefault,
		KeyLookupWorkers:  KeyLookupWorkersDefault,
		BatchBodyBytesMax: BatchBodyBytesMaxDefault,
		ReadHeaderTimeout: ReadHeaderTimeoutDefault,
		ReadTimeout:       ReadTimeoutDefault,
		IdleTimeout:       IdleTimeoutDefault,
		HeaderBytesMax:    HeaderBytesMaxDefault,
		ConnectionsMax:    ConnectionsMaxDefault,
		Logger:            slog.Default(),
	})
	if c.WriteTimeout == 0 {
		c.WriteTimeout = c.WaitMax + WriteTimeoutBeyondWaitDefault
	}
	if c.RateLimit > 0 && c.RateBurst == 0 {
		c.RateBurst = RateBurstDefault
	}
	return c
}
