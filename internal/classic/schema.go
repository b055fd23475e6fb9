package classic

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed schema.sql
var schemaSQL string

// schemaLockID is the advisory lock taken while the schema is ensured ("classic" in
// ASCII), so that servers starting together do not race on CREATE ... IF NOT EXISTS.
const schemaLockID int64 = 0x636c6173736963

// EnsureSchema creates the classic schema and its tables when they are missing.
func EnsureSchema(ctx context.Context, pool *pgxpool.Pool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schemaSQL)
		return err
	})
	if err != nil {
		return fmt.Errorf("classic: ensure schema: %w", err)
	}
	return nil
}
