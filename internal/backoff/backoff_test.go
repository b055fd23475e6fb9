package backoff

import (
	"context"
	"testing"
	"time"
)

// TestExpDoublesUpToCeiling proves that the wait starts at the floor, doubles per
// failure and stays at the ceiling, even after very many failures.
func TestExpDoublesUpToCeiling(t *testing.T) {
	const floor, ceiling = 500 * time.Millisecond, 30 * time.Second
	for fails, want := range map[int]time.Duration{0: floor, 1: time.Second, 2: 2 * time.Second,
		6: ceiling, 1 << 40: ceiling} {
		if got := Exp(fails, floor, ceiling); got != want {
			t.Errorf("Exp(%d) = %v, want %v", fails, got, want)
		}
	}
}

// TestSleepEndsWithContext proves that Sleep returns once its context is done,
// however long the wait asked for.
func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Sleep(ctx, time.Hour)
}
