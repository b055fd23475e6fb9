package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// defaultDatabaseURL is the seed's default, kept with its meaning.
const defaultDatabaseURL = "postgres://ultimate_ticket:ultimate_ticket@localhost:5432/ultimate_ticket?sslmode=disable"

// Config is every setting of ticketd. Each comes from an environment variable and
// can be overridden by the flag of the same name in lower case with dashes.
type Config struct {
	KafkaBrokers      string
	DatabaseURL       string
	HTTPAddr          string
	AdminToken        string
	Partitions        int
	ReplicationFactor int
	TopicPrefix       string
	Instance          string
	TrustedProxies    string
	RateLimit         float64
	RateBurst         int
	HoldTTLDefault    time.Duration
	LogLevel          string
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// ParseConfig reads the environment, then the flags in args, for command cmd.
func ParseConfig(cmd string, args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("ticketd "+cmd, flag.ContinueOnError)
	fs.StringVar(&c.KafkaBrokers, "kafka-brokers", envString("KAFKA_BROKERS", "localhost:9092"), "KAFKA_BROKERS: comma-separated seed brokers")
	fs.StringVar(&c.DatabaseURL, "database-url", envString("DATABASE_URL", defaultDatabaseURL), "DATABASE_URL: Postgres connection URL")
	fs.StringVar(&c.HTTPAddr, "http-addr", envString("HTTP_ADDR", ":8080"), "HTTP_ADDR: address the API listens on")
	fs.StringVar(&c.AdminToken, "admin-token", envString("ADMIN_TOKEN", ""), "ADMIN_TOKEN: bearer token(s) for the admin endpoints, comma-separated")
	fs.StringVar(&c.TopicPrefix, "topic-prefix", envString("TOPIC_PREFIX", ""), "TOPIC_PREFIX: put in front of every topic name")
	fs.StringVar(&c.Instance, "instance", envString("INSTANCE", ""), "INSTANCE: this instance's name, unique in the cluster and stable across restarts (default: host name)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", envString("TRUSTED_PROXIES", ""), "TRUSTED_PROXIES: proxy IPs or CIDRs, comma-separated, whose X-Forwarded-For names the client (for the rate limit)")
	fs.StringVar(&c.LogLevel, "log-level", envString("LOG_LEVEL", "info"), "LOG_LEVEL: debug, info, warn or error")
	var partitions, rf, burst, rate, ttl string
	fs.StringVar(&partitions, "partitions", envString("PARTITIONS", "6"), "PARTITIONS: partitions of the commands, events and state topics")
	fs.StringVar(&rf, "replication-factor", envString("REPLICATION_FACTOR", "1"), "REPLICATION_FACTOR: replicas of every topic")
	fs.StringVar(&rate, "rate-limit", envString("RATE_LIMIT", "0"), "RATE_LIMIT: requests per second per client (0: off)")
	fs.StringVar(&burst, "rate-burst", envString("RATE_BURST", "20"), "RATE_BURST: token bucket size per client")
	fs.StringVar(&ttl, "hold-ttl-default", envString("HOLD_TTL_DEFAULT", "10m"), "HOLD_TTL_DEFAULT: TTL of holds in zones created without one")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	bad := func(setting string, err error) { errs = append(errs, fmt.Errorf("%s: %w", setting, err)) }
	var err error
	if c.Partitions, err = strconv.Atoi(partitions); err != nil || c.Partitions < 1 || c.Partitions > 1024 {
		bad("PARTITIONS", fmt.Errorf("%q is not a number from 1 to 1024", partitions))
	}
	if c.ReplicationFactor, err = strconv.Atoi(rf); err != nil || c.ReplicationFactor < 1 || c.ReplicationFactor > 16 {
		bad("REPLICATION_FACTOR", fmt.Errorf("%q is not a number from 1 to 16", rf))
	}
	if c.RateLimit, err = strconv.ParseFloat(rate, 64); err != nil || c.RateLimit < 0 {
		bad("RATE_LIMIT", fmt.Errorf("%q is not a non-negative number", rate))
	}
	if c.RateBurst, err = strconv.Atoi(burst); err != nil || c.RateBurst < 1 {
		bad("RATE_BURST", fmt.Errorf("%q is not a positive number", burst))
	}
	if c.HoldTTLDefault, err = time.ParseDuration(ttl); err != nil || c.HoldTTLDefault < 10*time.Second || c.HoldTTLDefault > time.Hour {
		bad("HOLD_TTL_DEFAULT", fmt.Errorf("%q is not a duration from 10s to 1h", ttl))
	}
	for _, b := range c.brokers() {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("KAFKA_BROKERS", fmt.Errorf("%q is not host:port", b))
		}
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL", fmt.Errorf("not a postgres:// URL"))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("HTTP_ADDR", fmt.Errorf("%q is not [host]:port", c.HTTPAddr))
	}
	if cmd == "api" || cmd == "all" {
		for _, t := range c.adminTokens() {
			if len(t) < 16 {
				bad("ADMIN_TOKEN", errors.New("every token needs at least 16 characters"))
			}
		}
		if len(c.adminTokens()) == 0 {
			bad("ADMIN_TOKEN", errors.New("required: the bearer token of the admin endpoints"))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", fmt.Errorf("%q is not debug, info, warn or error", c.LogLevel))
	}
	if c.Instance == "" {
		c.Instance, _ = os.Hostname()
	}
	return c, errors.Join(errs...)
}

func (c Config) brokers() []string { return splitList(c.KafkaBrokers) }

func (c Config) adminTokens() []string { return splitList(c.AdminToken) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
