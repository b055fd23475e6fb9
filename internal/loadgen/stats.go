package loadgen

import (
	"math"
	"slices"
	"time"
)

// Percentile is the nearest-rank percentile p (0 < p <= 100) of sorted, ascending
// samples: the smallest sample with at least p% of the samples at or below it. It is
// 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Summary is the distribution of one set of latencies, in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summarize sorts samples in place and summarises them.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Summary{
		Count: len(samples),
		P50:   ms(Percentile(samples, 50)),
		P90:   ms(Percentile(samples, 90)),
		P99:   ms(Percentile(samples, 99)),
		Max:   ms(samples[len(samples)-1]),
		Mean:  ms(sum / time.Duration(len(samples))),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Histogram counts latencies in logarithmic buckets, each about 1% wide, from
// histMin to histMax (smaller and larger values land in the first and last
// bucket): constant memory and cost, a percentile within about 1%.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    time.Duration // exact, for the mean
	max    time.Duration // exact
}

const (
	histMin     = time.Microsecond
	histMax     = 100 * time.Second
	histGrowth  = 1.01
	histBuckets = 1860 // ceil(log(histMax/histMin) / log(histGrowth)) + 1
)

var histLogGrowth = math.Log(histGrowth)

func histIndex(d time.Duration) int {
	if d <= histMin {
		return 0
	}
	i := int(math.Log(float64(d)/float64(histMin)) / histLogGrowth)
	return min(i, histBuckets-1)
}

// histUpper is the upper bound of bucket i.
func histUpper(i int) time.Duration {
	return time.Duration(float64(histMin) * math.Pow(histGrowth, float64(i+1)))
}

// Add counts one latency.
func (h *Histogram) Add(d time.Duration) {
	h.counts[histIndex(d)]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// Merge adds every latency counted by o.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Summary summarises the histogram: percentiles within about 1%, the mean and
// the maximum exact.
func (h *Histogram) Summary() Summary {
	if h.n == 0 {
		return Summary{}
	}
	return Summary{
		Count: int(h.n),
		P50:   ms(min(h.Percentile(50), h.max)),
		P90:   ms(min(h.Percentile(90), h.max)),
		P99:   ms(min(h.Percentile(99), h.max)),
		Max:   ms(h.max),
		Mean:  ms(h.sum / time.Duration(h.n)),
	}
}

// Count is the number of latencies added.
func (h *Histogram) Count() uint64 { return h.n }

// Percentile is the upper bound of the bucket holding the nearest-rank percentile
// p; 0 when empty.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return histUpper(i)
		}
	}
	return histUpper(histBuckets - 1)
}

// Reset empties the histogram.
func (h *Histogram) Reset() { *h = Histogram{} }

// Pacer schedules sends at a constant rate from a start time: send i is due at
// start + i/rate. Open loop: a late send is due all the same, so that a slow system
// does not slow the offered load down.
type Pacer struct {
	start    time.Time
	interval float64 // nanoseconds between sends
	end      time.Time
}

// NewPacer paces rate sends per second from start for d.
func NewPacer(start time.Time, rate float64, d time.Duration) Pacer {
	return Pacer{start: start, interval: float64(time.Second) / rate, end: start.Add(d)}
}

// Due is when send i is due, and whether it is within the run.
func (p Pacer) Due(i int) (time.Time, bool) {
	t := p.start.Add(time.Duration(float64(i) * p.interval))
	return t, t.Before(p.end)
}

// Total is the number of sends the run holds.
func (p Pacer) Total() int {
	d := float64(p.end.Sub(p.start))
	n := int(math.Ceil(d / p.interval))
	if _, ok := p.Due(n - 1); !ok {
		n--
	}
	return max(n, 0)
}
