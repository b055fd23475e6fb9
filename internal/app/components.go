// Package app wires the components into the commands of ticketd: configuration,
// start-up order and shutdown. cmd/ticketd is only its front door; tests run the
// same wiring in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/api"
	"github.com/ultimate-ticket/ultimate-ticket/ingest"
	"github.com/ultimate-ticket/ultimate-ticket/internal/topology"
	"github.com/ultimate-ticket/ultimate-ticket/internal/tracing"
	"github.com/ultimate-ticket/ultimate-ticket/migrations"
	"github.com/ultimate-ticket/ultimate-ticket/processor"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/sink"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func (c Config) names() topics.Names { return topics.NamesWithPrefix(c.TopicPrefix) }

func (c Config) topology() topics.Topology {
	return topics.Topology{Partitions: int32(c.Partitions), ReplicationFactor: int16(c.ReplicationFactor)}
}

// apiConfig is the API's Config; the rate burst matters only with a rate limit.
func (c Config) apiConfig(log *slog.Logger) api.Config {
	cfg := api.Config{AdminTokens: c.adminTokens(), TrustedProxies: splitList(c.TrustedProxies),
		Partitions: int32(c.Partitions), RateLimit: c.RateLimit, InFlightMax: c.InFlightMax, AdmissionTarget: c.AdmissionTarget, Logger: log}
	if c.RateLimit > 0 {
		cfg.RateBurst = c.RateBurst
	}
	return cfg
}

func (c Config) ingestConfig() ingest.Config {
	return ingest.Config{Brokers: c.brokers(), Topics: c.names(), Linger: c.ProduceLinger, Tracing: c.tracing}
}

func (c Config) sinkConfig(log *slog.Logger) sink.Config {
	return sink.Config{Brokers: c.brokers(), Topics: c.names(), InstanceID: "ticket-sink-" + c.Instance,
		StopTimeout: c.ShutdownTimeout, Tracing: c.tracing, Logger: log}
}

// processorState is the state machine's Config: its defaults but for the TTL of
// zones configured without one.
func (c Config) processorState() zone.Config {
	st := zone.DefaultConfig()
	st.HoldTTLDefault = c.HoldTTLDefault
	st.PaymentExtension = c.Payments.PaymentExtension
	return st
}

func (c Config) processorConfig(log *slog.Logger) processor.LoopConfig {
	return processor.LoopConfig{
		Brokers:         c.brokers(),
		Topics:          c.names(),
		Partitions:      int32(c.Partitions),
		TransactionalID: "ticket-processor-" + c.Instance,
		InstanceID:      "ticket-processor-" + c.Instance,
		SinkGroup:       sink.GroupDefault,
		State:           c.processorState(),
		Tracing:         c.tracing,
		Logger:          log,
	}
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// openPool opens a pool of at most DB_POOL_SIZE connections, unless DATABASE_URL
// sets pool_max_conns itself. pgxpool's own default (the CPU count, at least 4)
// is too few for the API: its key lookups, result polls and reads all share it.
func openPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		pc.MaxConns = int32(cfg.DBPoolSize)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return pool, nil
}

// openMigratedPool opens the pool of a component that reads or writes the read
// model, applying the migrations first: every component that starts brings the
// schema up to date (the advisory lock makes concurrent starts take turns).
func openMigratedPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := migrations.Up(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

func migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := migrations.Up(ctx, pool)
	if err != nil {
		return err
	}
	v, _, _ := migrations.Version(ctx, pool)
	log.Info("migrations applied", "applied", n, "version", v)
	return nil
}

func ensureTopics(ctx context.Context, cfg Config, log *slog.Logger) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := topology.Ensure(ctx, kadm.NewClient(cl), cfg.topology(), cfg.names()); err != nil {
		return err
	}
	log.Info("topics ready", "partitions", cfg.Partitions, "prefix", cfg.TopicPrefix)
	return nil
}

// runAPI serves HTTP until ctx is done. With reg nil it serves its own metrics
// registry; in `all` the components share one.
func runAPI(ctx context.Context, cfg Config, log *slog.Logger, reg *prometheus.Registry) error {
	if reg == nil {
		reg = newRegistry()
	}
	pool, err := openMigratedPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ic := cfg.ingestConfig()
	ic.Logger = log
	prod, err := ingest.New(ic, reg)
	if err != nil {
		return err
	}
	defer prod.Close()
	apiCfg := cfg.apiConfig(log)
	room, err := cfg.roomDeps(ctx, log)
	if err != nil {
		return err
	}
	payments, err := cfg.apiPayments()
	if err != nil {
		return err
	}
	var draining atomic.Bool
	handler, err := api.New(apiCfg, api.Deps{
		Room:      room,
		Payments:  payments,
		Publisher: prod,
		Reads:     api.NewStore(pool, cfg.names().Events),
		Ready: func(ctx context.Context) error {
			if draining.Load() {
				return api.ErrDraining
			}
			if err := prod.Ping(ctx); err != nil {
				return fmt.Errorf("kafka: %w", err)
			}
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("postgres: %w", err)
			}
			return nil
		},
		Registry: reg,
	})
	if err != nil {
		return err
	}
	srv, err := api.HTTPServer(apiCfg, cfg.tracing.Handler(handler))
	if err != nil {
		return err
	}
	ln, err := api.Listen(apiCfg, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	log.Info("api listening", "addr", cfg.HTTPAddr)
	return serveDraining(ctx, srv, ln, &draining, drainPlan{delay: cfg.DrainDelay, timeout: cfg.ShutdownTimeout}, prod.Flush, log)
}

func runProcessor(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) error {
	p, err := processor.New(cfg.processorConfig(log), reg)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Run(ctx)
}

func runSink(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) error {
	pool, err := openMigratedPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	s, err := sink.New(cfg.sinkConfig(log), pool, reg)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// runAll migrates, creates the topics, and runs the three components in one process
// with one metrics registry. Each is supervised on its own: one that fails is
// restarted with a backoff and never stops the others. It returns when ctx is done.
func runAll(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := migrate(ctx, cfg, log); err != nil {
		return err
	}
	if err := ensureTopics(ctx, cfg, log); err != nil {
		return err
	}
	reg := newRegistry()
	sup := newSupervisor(log, reg)
	// The API stops first: the requests it drains (waits for a decision among
	// them) are decided by the processor and written by the sink, which stop only
	// once it has drained.
	pipeline, stopPipeline := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPipeline()
	var wg sync.WaitGroup
	runs := map[string]func(context.Context) error{
		"processor": func(ctx context.Context) error { return runProcessor(ctx, cfg, log, replacing{reg}) },
		"sink":      func(ctx context.Context) error { return runSink(ctx, cfg, log, replacing{reg}) },
	}
	if cfg.paymentsOn() {
		runs["payments"] = func(ctx context.Context) error { return runPayments(ctx, cfg, log, replacing{reg}) }
	}
	for name, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sup.run(pipeline, name, run)
		}()
	}
	sup.run(ctx, "api", func(ctx context.Context) error {
		own := prometheus.NewRegistry()
		own.MustRegister(bridge{reg})
		return runAPI(ctx, cfg, log, own)
	})
	stopPipeline()
	wg.Wait()
	return nil
}

// runAlone runs one component as the whole process, supervised, with /metrics
// served once for all its runs.
func runAlone(ctx context.Context, cfg Config, log *slog.Logger, name string,
	run func(context.Context, Config, *slog.Logger, prometheus.Registerer) error) error {
	reg := newRegistry()
	go serveMetricsOnly(ctx, cfg.HTTPAddr, reg, log)
	newSupervisor(log, reg).run(ctx, name, func(ctx context.Context) error { return run(ctx, cfg, log, replacing{reg}) })
	return nil
}

// serveMetricsOnly serves /metrics and /health for a component without the API.
func serveMetricsOnly(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("metrics server stopped", "err", err)
	}
}

// ErrUnknownCommand is returned by Run for a command it does not know.
var ErrUnknownCommand = errors.New("unknown command")

// Run runs one ticketd command until ctx is done (or, for migrate and topics, until
// it is finished).
func Run(ctx context.Context, cmd string, cfg Config, log *slog.Logger) error {
	if cfg.DebugAddr != "" && cmd != "migrate" && cmd != "topics" {
		stop, err := serveDebug(cfg.DebugAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	// A stop (ctx done) is bounded: past SHUTDOWN_TIMEOUT, Run returns whatever
	// is still finishing.
	switch cmd {
	case "api", "processor", "sink", "all":
		tr, err := tracing.New(cfg.OTelExporter, os.Stdout)
		if err != nil {
			return err
		}
		cfg.tracing = tr
		defer shutdownTracing(tr, log)
		return stopWithin(ctx, cfg.ShutdownTimeout, func() error { return runCommand(ctx, cmd, cfg, log) })
	}
	return runCommand(ctx, cmd, cfg, log)
}

// tracingFlushTimeout bounds exporting the spans still buffered at exit.
const tracingFlushTimeout = 5 * time.Second

func shutdownTracing(tr *tracing.Tracing, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("tracing: exporting the last spans", "err", err)
	}
}

// runCommand runs one ticketd command.
func runCommand(ctx context.Context, cmd string, cfg Config, log *slog.Logger) error {
	switch cmd {
	case "migrate":
		return migrate(ctx, cfg, log)
	case "topics":
		return ensureTopics(ctx, cfg, log)
	case "api":
		sup := prometheus.NewRegistry()
		newSupervisor(log, sup).run(ctx, "api", func(ctx context.Context) error {
			own := newRegistry()
			own.MustRegister(bridge{sup})
			return runAPI(ctx, cfg, log, own)
		})
		return nil
	case "processor":
		return runAlone(ctx, cfg, log, "processor", runProcessor)
	case "sink":
		return runAlone(ctx, cfg, log, "sink", runSink)
	case "payments":
		return runAlone(ctx, cfg, log, "payments", runPayments)
	case "reconcile":
		return runReconcile(ctx, cfg, log)
	case "all":
		return runAll(ctx, cfg, log)
	default:
		return fmt.Errorf("%w %q", ErrUnknownCommand, cmd)
	}
}
