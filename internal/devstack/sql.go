package devstack

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitSQL waits until the server answers a query: the port can open a moment before
// the server takes logins.
func waitSQL(ctx context.Context, url string) error {
	var last error
	for range 100 {
		c, err := pgx.Connect(ctx, url)
		if err == nil {
			_, err = c.Exec(ctx, "SELECT 1")
			_ = c.Close(ctx)
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("devstack: postgres never answered: %w", last)
}
