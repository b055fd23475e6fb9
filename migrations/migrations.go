// Package migrations holds the read model's SQL migrations, embedded in the binary,
// and applies them at startup under a Postgres advisory lock, recording each applied
// version in schema_migrations the way golang-migrate does (version, dirty), so the
// golang-migrate CLI can take over the same database.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed *.sql
var files embed.FS

// lockID is the advisory lock key taken while migrating ("ticket" in ASCII), so that
// instances starting together migrate one at a time.
const lockID int64 = 0x7469636b6574

// Migration is one numbered step.
type Migration struct {
	Version uint64
	Name    string
	Up      string
	Down    string
}

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	byVersion := map[uint64]*Migration{}
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("migrations: %s: want NNN_name.up.sql or .down.sql", name)
		}
		v, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migrations: %s: bad version: %w", name, err)
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		m := byVersion[v]
		if m == nil {
			m = &Migration{Version: v}
			byVersion[v] = m
		}
		switch {
		case strings.HasSuffix(rest, ".up.sql"):
			m.Name, m.Up = strings.TrimSuffix(rest, ".up.sql"), string(body)
		case strings.HasSuffix(rest, ".down.sql"):
			m.Down = string(body)
		default:
			return nil, fmt.Errorf("migrations: %s: want .up.sql or .down.sql", name)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migrations: version %d needs both up and down files", m.Version)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`

// Up applies every migration newer than the recorded version, each in its own
// transaction, under the advisory lock. It refuses to run on a dirty database (a
// migration that failed half-way outside a transaction needs a person).
func Up(ctx context.Context, pool *pgxpool.Pool) (applied int, err error) {
	all, err := All()
	if err != nil {
		return 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrations: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return 0, fmt.Errorf("migrations: lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be given back even when ctx is done.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockID)
	}()
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return 0, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	current, dirty, err := version(ctx, conn.Conn())
	if err != nil {
		return 0, err
	}
	if dirty {
		return 0, fmt.Errorf("migrations: database is dirty at version %d: fix it by hand, then clear the flag", current)
	}
	for _, m := range all {
		if m.Version <= current {
			continue
		}
		if err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.Up); err != nil {
				return fmt.Errorf("migrations: %d_%s: %w", m.Version, m.Name, err)
			}
			// golang-migrate keeps a single row: the current version.
			if _, err := tx.Exec(ctx, `DELETE FROM schema_migrations`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)`, int64(m.Version))
			return err
		}); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

// Version reports the recorded version (0 when none).
func Version(ctx context.Context, pool *pgxpool.Pool) (uint64, bool, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, false, err
	}
	defer conn.Release()
	return version(ctx, conn.Conn())
}

func version(ctx context.Context, conn *pgx.Conn) (uint64, bool, error) {
	var v int64
	var dirty bool
	err := conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("migrations: read version: %w", err)
	}
	return uint64(v), dirty, nil
}
