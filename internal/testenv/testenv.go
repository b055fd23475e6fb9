// Package testenv gives tests real Kafka and Postgres servers: one of each per test
// binary, started on first use with testcontainers-go and shared by the binary's tests,
// or the servers named by KAFKA_BROKERS and DATABASE_URL when those are set. Each test
// gets its own topics (a unique prefix) and its own migrated database, so tests can run
// side by side. Under `go test -short` the tests that ask for a server are skipped.
//
// Images come from KAFKA_IMAGE and POSTGRES_IMAGE, defaulting to the official
// apache/kafka and postgres images; `make deps` builds local equivalents where no
// registry can be reached and sets the variables.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
	"github.com/ultimate-ticket/ultimate-ticket/internal/topology"
	"github.com/ultimate-ticket/ultimate-ticket/migrations"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// startTimeout bounds starting one server, pulls and JVM start-up included.
const startTimeout = 3 * time.Minute

var (
	kafkaOnce    sync.Once
	kafkaBrokers []string
	kafkaErr     error

	pgOnce  sync.Once
	pgAdmin string // URL of the maintenance database on the shared server
	pgErr   error

	stopMu sync.Mutex
	stops  []func()

	seq atomic.Int64
)

// Main runs the tests of a package and then stops the servers they started. Every
// package that uses testenv calls it from TestMain, so no container outlives its test
// binary.
func Main(m *testing.M) {
	code := m.Run()
	stopAll()
	os.Exit(code)
}

func stopAll() {
	stopMu.Lock()
	defer stopMu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	stops = nil
}

func onStop(f func()) {
	stopMu.Lock()
	stops = append(stops, f)
	stopMu.Unlock()
}

func skipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs Kafka and Postgres; skipped under -short")
	}
}

// Kafka returns the seed brokers of the shared Kafka.
func Kafka(tb testing.TB) []string {
	tb.Helper()
	skipShort(tb)
	kafkaOnce.Do(func() {
		if b := os.Getenv("KAFKA_BROKERS"); b != "" {
			kafkaBrokers = strings.Split(b, ",")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		var k *devstack.Kafka
		k, kafkaErr = devstack.StartKafka(ctx, devstack.KafkaImage())
		if kafkaErr == nil {
			kafkaBrokers = k.Brokers
			onStop(func() { _ = k.Stop(context.Background()) })
		}
	})
	if kafkaErr != nil {
		tb.Fatalf("testenv: start Kafka: %v", kafkaErr)
	}
	return kafkaBrokers
}

// Topics creates the declared topics with a prefix unique to this test and returns
// their names.
func Topics(tb testing.TB, partitions int32) topics.Names {
	tb.Helper()
	brokers := Kafka(tb)
	prefix := fmt.Sprintf("t%d-%d-", time.Now().UnixNano()%1e9, seq.Add(1))
	names := topics.NamesWithPrefix(prefix)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := topology.Ensure(ctx, kadm.NewClient(cl), topics.Topology{Partitions: partitions, ReplicationFactor: 1}, names); err != nil {
		tb.Fatalf("testenv: create topics: %v", err)
	}
	return names
}

// Postgres returns the URL of a new database on the shared server, with the
// migrations applied. The database is dropped when the test ends.
func Postgres(tb testing.TB) string {
	tb.Helper()
	skipShort(tb)
	pgOnce.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			pgAdmin = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		var p *devstack.Postgres
		p, pgErr = devstack.StartPostgres(ctx, devstack.PostgresImage())
		if pgErr == nil {
			pgAdmin = p.URL
			onStop(func() { _ = p.Stop(context.Background()) })
		}
	})
	if pgErr != nil {
		tb.Fatalf("testenv: start Postgres: %v", pgErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("test_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
	admin, err := pgx.Connect(ctx, pgAdmin)
	if err != nil {
		tb.Fatalf("testenv: connect Postgres: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("testenv: create database: %v", err)
	}
	url := replaceDatabase(pgAdmin, name)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		tb.Fatalf("testenv: migrate: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, pgAdmin); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	return url
}

// Pool opens a pool on a new migrated database (see Postgres), closed when the test
// ends.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), Postgres(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// replaceDatabase swaps the database name in a postgres:// URL.
func replaceDatabase(url, db string) string {
	rest, query, _ := strings.Cut(url, "?")
	i := strings.LastIndex(rest, "/")
	if i < len("postgres://") {
		rest += "/"
		i = len(rest) - 1
	}
	out := rest[:i+1] + db
	if query != "" {
		out += "?" + query
	}
	return out
}
