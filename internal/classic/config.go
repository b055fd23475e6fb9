package classic

import (
	"log/slog"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
)

// Defaults and bounds of Config.
const (
	BatchConcurrencyDefault  = 4
	InFlightMaxDefault       = 256
	QueryTimeoutDefault      = 5 * time.Second
	ReadyTimeoutDefault      = 2 * time.Second
	BodyBytesMaxDefault      = 64 << 10
	BatchBodyBytesMaxDefault = 1 << 20
)

// Config configures the server. A zero field takes the default in its comment.
type Config struct {
	// AdminTokens are the bearer tokens POST /events accepts. Required.
	AdminTokens []string
	// BatchConcurrency bounds the holds of one POST /holds/batch in flight at once,
	// each in its own transaction. Default 4.
	BatchConcurrency int
	// InFlightMax bounds the requests that use Postgres at once (waiting for a
	// connection, a row lock or a commit); beyond it a request answers 503 at once
	// with Retry-After, instead of queueing without bound. Default 256.
	InFlightMax int
	// QueryTimeout bounds the database work of one request (one hold of a batch).
	// Default 5s.
	QueryTimeout time.Duration
	// ReadyTimeout bounds the ping of GET /ready and GET /health. Default 2s.
	ReadyTimeout time.Duration
	// BodyBytesMax bounds a request body, except a batch's; a larger one answers
	// 413. Default 64 KiB.
	BodyBytesMax int64
	// BatchBodyBytesMax bounds the body of POST /holds/batch. Default 1 MiB.
	BatchBodyBytesMax int64
	// Logger logs server-side failures. Default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	return setting.Fill(c, Config{BatchConcurrency: BatchConcurrencyDefault, InFlightMax: InFlightMaxDefault,
		QueryTimeout: QueryTimeoutDefault, ReadyTimeout: ReadyTimeoutDefault, BodyBytesMax: BodyBytesMaxDefault,
		BatchBodyBytesMax: BatchBodyBytesMaxDefault, Logger: slog.Default()})
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	p := setting.For("classic")
	if len(c.AdminTokens) == 0 {
		p.Add("AdminTokens", "is required")
	}
	for _, t := range c.AdminTokens {
		if t == "" {
			p.Add("AdminTokens", "must not hold an empty token")
		}
	}
	setting.AtLeast(p, "BatchConcurrency", c.BatchConcurrency, 0)
	setting.AtLeast(p, "InFlightMax", c.InFlightMax, 0)
	setting.AtLeast(p, "QueryTimeout", c.QueryTimeout, 0)
	setting.AtLeast(p, "ReadyTimeout", c.ReadyTimeout, 0)
	setting.AtLeast(p, "BodyBytesMax", c.BodyBytesMax, 0)
	setting.AtLeast(p, "BatchBodyBytesMax", c.BatchBodyBytesMax, 0)
	return p.Err()
}
