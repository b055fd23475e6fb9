package chaos

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Short run bounds: a minute of faults, a lighter load, and a drain long enough for
// a slow shared machine.
const (
	shortDuration     = 60 * time.Second
	shortRate         = 40
	shortDrainTimeout = 2 * time.Minute
	// shortTimeout stays under go test's default -timeout of 10 minutes.
	shortTimeout = 9 * time.Minute
)

// TestChaosShort runs the chaos harness for a minute of faults (CHAOS_SEED replays
// a schedule) and fails on any broken invariant.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kafka cluster, Postgres and ticketd; skipped under -short")
	}
	seed := time.Now().UnixNano() % 1_000_000_000
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), shortTimeout)
	defer cancel()
	// The logs are kept when the test fails, and named in the report.
	dir, err := os.MkdirTemp("", "chaos-short-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	var out strings.Builder
	rep, err := Run(ctx, Config{Duration: shortDuration, Seed: seed, Rate: shortRate, DrainTimeout: shortDrainTimeout,
		Dir: dir, Out: testWriter{t}})
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	rep.Print(&out)
	t.Log("\n" + out.String())
	if n := rep.ViolationCount(); n > 0 {
		t.Errorf("seed %d: %d violations", seed, n)
	}
	if rep.Accepted == 0 {
		t.Errorf("seed %d: no request accepted", seed)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestScheduleReplays checks that a seed gives the same schedule every time, and
// that a run of a few minutes sees every kind of fault.
func TestScheduleReplays(t *testing.T) {
	a := NewSchedule(42, 5*time.Minute, zoneTTL, brokers)
	b := NewSchedule(42, 5*time.Minute, zoneTTL, brokers)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed planned two schedules")
	}
	if c := NewSchedule(43, 5*time.Minute, zoneTTL, brokers); slices.Equal(a, c) {
		t.Error("two seeds planned the same schedule")
	}
	seen := map[Kind]bool{}
	for _, f := range a {
		seen[f.Kind] = true
		if f.Kind == ProcessorsDown && f.Hold <= zoneTTL {
			t.Errorf("%s: processors down no longer than a TTL", f)
		}
	}
	for _, k := range kinds {
		if !seen[k] {
			t.Errorf("5 minutes of faults without %s", k)
		}
	}
}
