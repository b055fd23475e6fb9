package loadgen

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond},
		{99.5, 100 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one sample: %v", got)
	}
}

func TestSummarize(t *testing.T) {
	s := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 10 * time.Millisecond}
	got := Summarize(s)
	want := Summary{Count: 4, P50: 2, P90: 10, P99: 10, Max: 10, Mean: 4}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if !slices.IsSorted(s) {
		t.Error("samples not sorted in place")
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty summary not zero")
	}
}

func TestHistogramWithinOnePercent(t *testing.T) {
	var h Histogram
	var exact []time.Duration
	for i := range 10_000 {
		// a spread from 100 µs to about 2 s
		d := time.Duration(100e3 * math.Pow(1.001, float64(i)))
		h.Add(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	for _, p := range []float64{1, 50, 90, 99, 99.9, 100} {
		e, got := Percentile(exact, p), h.Percentile(p)
		if rel := math.Abs(float64(got-e)) / float64(e); rel > 0.011 {
			t.Errorf("p%v = %v, exact %v (%.2f%% off)", p, got, e, rel*100)
		}
	}
	if h.Count() != 10_000 {
		t.Errorf("count %d", h.Count())
	}
	h.Add(0)
	h.Add(time.Hour) // clamped into the first and last bucket
	if h.Percentile(100) < histMax {
		t.Errorf("max bucket %v", h.Percentile(100))
	}
	h.Reset()
	if h.Percentile(50) != 0 {
		t.Error("reset histogram not empty")
	}
}

func TestPacerSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		rate float64
		d    time.Duration
		want int
	}{{200, 30 * time.Second, 6000}, {3, time.Second, 3}, {1.5, 2 * time.Second, 3}, {7, 1500 * time.Millisecond, 11}} {
		p := NewPacer(start, c.rate, c.d)
		if got := p.Total(); got != c.want {
			t.Errorf("rate %v for %v: %d sends, want %d", c.rate, c.d, got, c.want)
		}
		last, ok := p.Due(p.Total() - 1)
		if !ok || !last.Before(start.Add(c.d)) {
			t.Errorf("rate %v: last send %v not within the run", c.rate, last)
		}
		if _, ok := p.Due(p.Total()); ok {
			t.Errorf("rate %v: send %d is within the run", c.rate, p.Total())
		}
	}
	p := NewPacer(start, 200, time.Minute)
	if d, _ := p.Due(200); !d.Equal(start.Add(time.Second)) {
		t.Errorf("send 200 at 200/s due %v after start", d.Sub(start))
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"http://localhost:8080", "http://127.0.0.1:1", "http://[::1]:80/", "https://127.0.0.2"} {
		if err := CheckLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "ftp://localhost", "http://8.8.8.8", "::"} {
		if err := CheckLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestWindowsGroupBySubmitSecond(t *testing.T) {
	ms := time.Millisecond
	samples := []Sample{
		{Op: OpHold, Start: 100 * ms, Visible: 10 * ms, Outcome: OutcomeSucceeded},
		{Op: OpHold, Start: 900 * ms, Visible: 30 * ms, Outcome: OutcomeRejected},
		{Op: OpHold, Start: 2500 * ms, Visible: 50 * ms, Outcome: OutcomeSucceeded},
		{Op: OpHold, Start: 2600 * ms, Outcome: OutcomeError},
		{Op: OpConfirm, Start: 2700 * ms, Visible: 90 * ms, Outcome: OutcomeSucceeded},
	}
	w := Windows(samples)
	if len(w) != 2 || w[0].Second != 0 || w[0].Count != 2 || w[0].P50 != 10 || w[0].P99 != 30 ||
		w[1].Second != 2 || w[1].Count != 1 || w[1].P50 != 50 {
		t.Errorf("windows %+v", w)
	}
}
