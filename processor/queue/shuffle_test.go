package queue_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// preQueueOrder runs one room with k joiners before the start, whose event id is
// event, and returns the join index of the entry at each position.
func preQueueOrder(t *testing.T, event uuid.UUID, k int) []int {
	t.Helper()
	s := queue.NewState(queue.DefaultConfig())
	startsAt := t0.Add(10 * time.Second)
	cfg := configureCmd(idOf('c', 0), topics.ConfigureQueue{Enabled: true, OpensAt: t0, StartsAt: startsAt, RatePerSecond: 1})
	cfg.EventID = event
	out, _ := s.Apply(nil, nil, cfg, t0)
	index := map[uuid.UUID]int{}
	for i := range k {
		j := joinCmd(idOf('j', uint64(i)), "")
		j.EventID = event
		index[j.RequestID] = i
		out, _ = s.Apply(out, nil, j, t0.Add(time.Second))
	}
	out = s.Advance(out, startsAt)
	order := make([]int, k)
	seen := 0
	for _, o := range out {
		if o.Type == topics.OutQueuePositioned {
			order[o.Entry.Position-1] = index[o.Entry.QueueID]
			seen++
		}
	}
	if seen != k {
		t.Fatalf("%d positioned, want %d", seen, k)
	}
	return order
}

// chiSquareCritical is the chi-square value that a sample exceeds with probability
// 1e-6 at df degrees of freedom (Wilson–Hilferty approximation).
func chiSquareCritical(df float64) float64 {
	const z = 4.753 // the standard normal's 1 - 1e-6 quantile
	a := 2 / (9 * df)
	return df * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// TestPreQueueIsAUniformPermutation proves that the pre-queue's order is a uniform
// random permutation of the joiners: over 24,000 rooms (event ids fixed, so seeds
// are fixed and the test cannot flake) of 4 joiners, each of the 24 orders turns up
// about equally often (chi-square, df 23, rejected at p < 1e-6); and over 8,000
// rooms of 8 joiners, each joiner lands on each position about equally often (df 49).
func TestPreQueueIsAUniformPermutation(t *testing.T) {
	t.Run("orders of 4", func(t *testing.T) {
		const k, runs = 4, 24_000
		counts := map[[k]int]int{}
		for r := range runs {
			order := preQueueOrder(t, idOf('e', uint64(r)), k)
			counts[[k]int(order)]++
		}
		if len(counts) != 24 {
			t.Fatalf("%d distinct orders, want 24", len(counts))
		}
		exp := float64(runs) / 24
		chi := 0.0
		for _, n := range counts {
			chi += (float64(n) - exp) * (float64(n) - exp) / exp
		}
		t.Logf("chi-square %.1f, df 23, critical %.1f", chi, chiSquareCritical(23))
		if chi > chiSquareCritical(23) {
			t.Fatalf("orders not uniform: chi-square %.1f > %.1f", chi, chiSquareCritical(23))
		}
	})
	t.Run("positions of 8", func(t *testing.T) {
		const k, runs = 8, 8_000
		var counts [k][k]int
		for r := range runs {
			for pos, joiner := range preQueueOrder(t, idOf('f', uint64(r)), k) {
				counts[joiner][pos]++
			}
		}
		exp := float64(runs) / k
		chi := 0.0
		for i := range k {
			for j := range k {
				d := float64(counts[i][j]) - exp
				chi += d * d / exp
			}
		}
		df := float64((k - 1) * (k - 1))
		t.Logf("chi-square %.1f, df %v, critical %.1f", chi, df, chiSquareCritical(df))
		if chi > chiSquareCritical(df) {
			t.Fatalf("positions not uniform: chi-square %.1f > %.1f", chi, chiSquareCritical(df))
		}
	})
}
