package app

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/api"
	"github.com/ultimate-ticket/ultimate-ticket/internal/setting"
	"github.com/ultimate-ticket/ultimate-ticket/internal/tracing"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// defaultDatabaseURL is the seed's default, kept with its meaning.
const defaultDatabaseURL = "postgres://ultimate_ticket:ultimate_ticket@localhost:5432/ultimate_ticket?sslmode=disable"

// Config is every setting of ticketd. Each comes from an environment variable and
// can be overridden by the flag of the same name in lower case with dashes. The
// packages own the defaults and bounds of what they run; ParseConfig only parses,
// and has each package validate the Config it will be given.
type Config struct {
	KafkaBrokers      string
	DatabaseURL       string
	HTTPAddr          string
	DebugAddr         string
	AdminToken        string
	Partitions        int
	ReplicationFactor int
	TopicPrefix       string
	Instance          string
	TrustedProxies    string
	RateLimit         float64
	RateBurst         int
	InFlightMax       int
	DBPoolSize        int
	ProduceLinger     time.Duration
	AdmissionTarget   time.Duration
	HoldTTLDefault    time.Duration
	ShutdownTimeout   time.Duration
	DrainDelay        time.Duration
	OTelExporter      string
	LogLevel          string

	// The waiting room's (see room.go).
	AdmissionSigningKey string
	PowSecret           string
	PowDifficulty       int
	BuyerJWKS           string
	BuyerIssuer         string
	BuyerAudience       string
	BuyerRateLimit      float64
	Payments            PaymentConfig // payments.go
	// tracing is the process's, set by Run from OTelExporter.
	tracing *tracing.Tracing
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// ParseConfig reads the environment, then the flags in args, for command cmd.
// Invalid settings are all reported at once, each named by its variable.
func ParseConfig(cmd string, args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("ticketd "+cmd, flag.ContinueOnError)
	fs.StringVar(&c.KafkaBrokers, "kafka-brokers", envString("KAFKA_BROKERS", "localhost:9092"), "KAFKA_BROKERS: comma-separated seed brokers")
	fs.StringVar(&c.DatabaseURL, "database-url", envString("DATABASE_URL", defaultDatabaseURL), "DATABASE_URL: Postgres connection URL")
	fs.StringVar(&c.HTTPAddr, "http-addr", envString("HTTP_ADDR", ":8080"), "HTTP_ADDR: address the API listens on")
	fs.StringVar(&c.DebugAddr, "debug-addr", envString("DEBUG_ADDR", ""), "DEBUG_ADDR: address of the profiling server (net/http/pprof: CPU, heap, mutex and block profiles); empty: off. Keep it private")
	fs.StringVar(&c.AdminToken, "admin-token", envString("ADMIN_TOKEN", ""), "ADMIN_TOKEN: bearer token(s) for the admin endpoints, comma-separated")
	fs.StringVar(&c.TopicPrefix, "topic-prefix", envString("TOPIC_PREFIX", ""), "TOPIC_PREFIX: put in front of every topic name")
	fs.StringVar(&c.Instance, "instance", envString("INSTANCE", ""), "INSTANCE: this instance's name, unique in the cluster and stable across restarts (default: host name)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", envString("TRUSTED_PROXIES", ""), "TRUSTED_PROXIES: proxy IPs or CIDRs, comma-separated, whose X-Forwarded-For names the client (for the rate limit)")
	fs.StringVar(&c.OTelExporter, "otel-exporter", envString("OTEL_EXPORTER", tracing.ExporterNone), "OTEL_EXPORTER: where traces go: none, stdout (JSON on standard output) or otlp (OTLP over HTTP; OTEL_EXPORTER_OTLP_* configure it)")
	fs.StringVar(&c.LogLevel, "log-level", envString("LOG_LEVEL", "info"), "LOG_LEVEL: debug, info, warn or error")
	c.roomFlags(func(p *string, name, env, usage string) { fs.StringVar(p, name, envString(env, ""), env+": "+usage) })
	def := topics.DefaultTopology
	numbers := []struct {
		env, flag, def, usage string
		parse                 func(string) error
	}{
		{"PARTITIONS", "partitions", itoa(def.Partitions), "partitions of the commands, events and state topics",
			parseInt(&c.Partitions, 32)},
		{"REPLICATION_FACTOR", "replication-factor", itoa(def.ReplicationFactor), "replicas of every topic",
			parseInt(&c.ReplicationFactor, 16)},
		{"RATE_LIMIT", "rate-limit", "0", "requests per second per client (0: off)",
			func(s string) (err error) { c.RateLimit, err = strconv.ParseFloat(s, 64); return err }},
		{"RATE_BURST", "rate-burst", itoa(api.RateBurstDefault), "token bucket size per client",
			parseInt(&c.RateBurst, 0)},
		{"IN_FLIGHT_MAX", "in-flight-max", itoa(api.InFlightMaxDefault),
			"commands being published at once, over all submits; beyond it submits answer 503 overloaded",
			parseInt(&c.InFlightMax, 0)},
		{"DB_POOL_SIZE", "db-pool-size", "16",
			"Postgres connections of each component's pool (unless DATABASE_URL sets pool_max_conns)",
			parseInt(&c.DBPoolSize, 16)},
		{"PRODUCE_LINGER", "produce-linger", "0s",
			"how long the API's producer lets a batch of commands wait for more (fewer, larger requests to Kafka under load)",
			func(s string) (err error) { c.ProduceLinger, err = time.ParseDuration(s); return err }},
		{"ADMISSION_TARGET", "admission-target", api.AdmissionTargetDefault.String(),
			"time in flight submits should not exceed; when even the fastest of an interval does, submits answer 503 overloaded",
			func(s string) (err error) { c.AdmissionTarget, err = time.ParseDuration(s); return err }},
		{"POW_DIFFICULTY", "pow-difficulty", itoa(PowDifficultyDefault),
			"leading zero bits of SHA-256 a join's proof of work needs (0: any nonce)",
			parseInt(&c.PowDifficulty, 0)},
		{"BUYER_RATE_LIMIT", "buyer-rate-limit", "0", "joins and holds per second per verified buyer (0: off)",
			func(s string) (err error) { c.BuyerRateLimit, err = strconv.ParseFloat(s, 64); return err }},
		{"HOLD_TTL_DEFAULT", "hold-ttl-default", topics.HoldTTLDefault.String(),
			"TTL of holds in zones created without one",
			func(s string) (err error) { c.HoldTTLDefault, err = time.ParseDuration(s); return err }},
		{"SHUTDOWN_TIMEOUT", "shutdown-timeout", shutdownTimeoutDefault.String(),
			"bound of a graceful stop (SIGTERM): the API finishes its requests and flushes, the processor commits its transaction, the sink its batch, and they leave their groups",
			func(s string) (err error) { c.ShutdownTimeout, err = time.ParseDuration(s); return err }},
		{"DRAIN_DELAY", "drain-delay", time.Duration(drainDelayDefault).String(),
			"how long a stopping API keeps accepting requests while GET /ready answers 503 draining, so that load balancers stop sending first (part of SHUTDOWN_TIMEOUT)",
			func(s string) (err error) { c.DrainDelay, err = time.ParseDuration(s); return err }},
	}
	c.paymentFlags(fs)
	raw := make([]string, len(numbers))
	for i, n := range numbers {
		fs.StringVar(&raw[i], n.flag, envString(n.env, n.def), n.env+": "+n.usage)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for i, n := range numbers {
		if err := n.parse(raw[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.env, err))
		}
	}
	if c.Instance == "" {
		c.Instance, _ = os.Hostname()
	}
	errs = append(errs, c.checkOwn(cmd), c.checkComponents(), c.checkRoom(), c.checkPayments(cmd))
	return c, errors.Join(errs...)
}

func itoa[T int16 | int32 | int](v T) string { return strconv.Itoa(int(v)) }

// parseInt parses a decimal integer of bits bits (0: int) into *v.
func parseInt(v *int, bits int) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseInt(s, 10, bits)
		*v = int(n)
		return err
	}
}

// checkOwn checks the settings no package owns: how ticketd is reached and logs.
func (c Config) checkOwn(cmd string) error {
	var errs []error
	bad := func(env string, err error) { errs = append(errs, fmt.Errorf("%s: %w", env, err)) }
	for _, b := range c.brokers() {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("KAFKA_BROKERS", fmt.Errorf("%q is not host:port", b))
		}
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL", errors.New("not a postgres:// URL"))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("HTTP_ADDR", fmt.Errorf("%q is not [host]:port", c.HTTPAddr))
	}
	if c.DBPoolSize < 1 {
		bad("DB_POOL_SIZE", fmt.Errorf("%d is not at least 1", c.DBPoolSize))
	}
	if _, _, err := net.SplitHostPort(c.DebugAddr); c.DebugAddr != "" && err != nil {
		bad("DEBUG_ADDR", fmt.Errorf("%q is not [host]:port", c.DebugAddr))
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", fmt.Errorf("%v is not positive", c.ShutdownTimeout))
	}
	if c.DrainDelay < 0 || (c.ShutdownTimeout > 0 && c.DrainDelay >= c.ShutdownTimeout) {
		bad("DRAIN_DELAY", fmt.Errorf("%v is not in [0, SHUTDOWN_TIMEOUT %v)", c.DrainDelay, c.ShutdownTimeout))
	}
	if (cmd == "api" || cmd == "all") && len(c.adminTokens()) == 0 {
		bad("ADMIN_TOKEN", errors.New("required: the bearer token of the admin endpoints"))
	}
	if err := tracing.CheckExporter(c.OTelExporter); err != nil {
		bad("OTEL_EXPORTER", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", fmt.Errorf("%q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// envOf names the variable that sets each package setting ticketd sets, so that a
// package's complaint names what the operator wrote.
var envOf = map[string]string{
	"api.AdminTokens":     "ADMIN_TOKEN",
	"api.TrustedProxies":  "TRUSTED_PROXIES",
	"api.RateLimit":       "RATE_LIMIT",
	"api.RateBurst":       "RATE_BURST",
	"api.InFlightMax":     "IN_FLIGHT_MAX",
	"api.AdmissionTarget": "ADMISSION_TARGET",
	"api.Partitions":      "PARTITIONS",
	"ingest.Brokers":      "KAFKA_BROKERS",
	"ingest.Linger":       "PRODUCE_LINGER",
	"sink.Brokers":        "KAFKA_BROKERS",
	"sink.InstanceID":     "INSTANCE",
	"sink.StopTimeout":    "SHUTDOWN_TIMEOUT",
}

// checkComponents has each package validate the Config it will be given.
func (c Config) checkComponents() error {
	var errs []error
	named := func(err error) {
		setting.Each(err, func(e *setting.Error) {
			field, _, _ := strings.Cut(e.Setting, "[") // AdminTokens[2] is set by ADMIN_TOKEN
			errs = append(errs, fmt.Errorf("%s: %w", cmp.Or(envOf[e.Package+"."+field], e.Package), e))
		})
	}
	named(c.apiConfig(nil).Validate())
	named(c.ingestConfig().Validate())
	named(c.sinkConfig(nil).Validate())
	// topics and processor report untyped errors; each setting checked alone is
	// named by its variable.
	def := topics.DefaultTopology
	if err := (topics.Topology{Partitions: int32(c.Partitions), ReplicationFactor: def.ReplicationFactor}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("PARTITIONS: %w", err))
	}
	if err := (topics.Topology{Partitions: def.Partitions, ReplicationFactor: int16(c.ReplicationFactor)}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("REPLICATION_FACTOR: %w", err))
	}
	if err := c.processorState().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("HOLD_TTL_DEFAULT: %w", err))
	}
	return errors.Join(errs...)
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
