// Package backoff is the wait between retries shared by the components that retry:
// doubling per failure from a floor up to a ceiling, and a sleep that ends with its
// context.
package backoff

import (
	"context"
	"time"
)

// doublingsMax bounds the doublings computed, so that a long run of failures
// cannot overflow the duration.
const doublingsMax = 30

// Exp is floor doubled once per failure in fails, at most ceiling.
func Exp(fails int, floor, ceiling time.Duration) time.Duration {
	d := floor
	for range min(fails, doublingsMax) {
		if d *= 2; d >= ceiling {
			return ceiling
		}
	}
	return d
}

// Sleep waits d, or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
