package loadgen

import (
	"context"
	"fmt"
	"maps"
	"math"
	"time"
)

// FireResult is a fire run's figures. Counts are in holds (a batch request counts
// its holds), latencies per request.
type FireResult struct {
	Label    string  `json:"label,omitempty"`
	Rate     float64 `json:"rate_per_s"` // offered holds/s
	Batch    int     `json:"batch"`
	Zones    int     `json:"zones"`
	Requests int     `json:"requests"`
	// SendSeconds is the send phase: from the start to the last due send.
	SendSeconds float64 `json:"send_s"`

	Offered  int64 `json:"offered"`  // due in the run, shed ones included
	Shed     int64 `json:"shed"`     // due while Concurrency requests were in flight
	Accepted int64 `json:"accepted"` // 2xx: pending or succeeded
	Denied   int64 `json:"denied"`   // decided against at once (409, a batch item rejected)
	Rejected int64 `json:"rejected"` // 429/503: overload
	Errors   int64 `json:"errors"`   // other answers, invalid batch items, transport errors
	Timeouts int64 `json:"timeouts"` // no answer within RequestTimeout

	// AcceptedShare is Accepted/Offered.
	AcceptedShare float64 `json:"accepted_share"`
	// AcceptedPerSec is Accepted/SendSeconds.
	AcceptedPerSec float64 `json:"accepted_per_s"`
	// VisibleInWindow is the holds visible 1 s after the send phase (the knee's
	// grace); VisiblePerSec is it over SendSeconds: the end-to-end rate.
	VisibleInWindow int64   `json:"visible_in_window"`
	VisiblePerSec   float64 `json:"visible_per_s"`
	// Visible is the holds visible at the end of the wait for them.
	Visible int64 `json:"visible"`
	// VisibleLagSeconds is from the end of the send phase until every accepted hold
	// was visible (0 when already); -1 when that never happened within VisibleWait.
	VisibleLagSeconds float64 `json:"visible_lag_s"`
	// Lost is accepted holds never visible: Accepted - Visible when positive.
	Lost int64 `json:"lost"`

	AcceptedLatency Summary `json:"accepted_latency"`
	RejectedLatency Summary `json:"rejected_latency"`
	// SubmitToVisible is of the sampled requests: submit until GET /requests/{id}
	// showed the decision (or the final answer itself).
	SubmitToVisible Summary          `json:"submit_to_visible"`
	SamplesSkipped  int64            `json:"samples_skipped,omitempty"`
	SampleTimeouts  int64            `json:"sample_timeouts,omitempty"`
	SampleErrors    int64            `json:"sample_errors,omitempty"`
	ErrorKinds      map[string]int64 `json:"error_kinds,omitempty"`

	// GeneratorCPUSeconds is this process's CPU time over the run;
	// GeneratorCPUPer1000 per 1,000 holds answered (accepted or rejected).
	GeneratorCPUSeconds float64 `json:"generator_cpu_s"`
	GeneratorCPUPer1000 float64 `json:"generator_cpu_s_per_1000"`

	PerSecond  []SecondStats  `json:"per_second"`
	Visibility []VisiblePoint `json:"visibility"`
}

// SecondStats is one second of a run: holds offered by due time, answers by their
// arrival, visible holds by the read that saw them, and the p99 latencies of the
// answers that arrived in it.
type SecondStats struct {
	Second        int     `json:"s"`
	Offered       int64   `json:"offered"`
	Shed          int64   `json:"shed,omitempty"`
	Accepted      int64   `json:"accepted"`
	Denied        int64   `json:"denied,omitempty"`
	Rejected      int64   `json:"rejected,omitempty"`
	Errors        int64   `json:"errors,omitempty"`
	Timeouts      int64   `json:"timeouts,omitempty"`
	Visible       int64   `json:"visible"`
	AcceptedP99Ms float64 `json:"accepted_p99_ms"`
	RejectedP99Ms float64 `json:"rejected_p99_ms,omitempty"`
}

// Passed says whether the run carried its load: at least acceptedMin of the offered
// holds accepted and every accepted hold visible within within of the send phase's
// end.
func (r *FireResult) Passed(acceptedMin float64, within time.Duration) bool {
	return r.Accepted > 0 && r.AcceptedShare >= acceptedMin &&
		r.VisibleLagSeconds >= 0 && r.VisibleLagSeconds <= within.Seconds()
}

// knee's grace: holds visible this long after the send phase count to its rate.
const visibleGrace = time.Second

func (f *fire) result(sendEnd time.Time, sends int, vis *visibility) *FireResult {
	c := f.counts
	send := sendEnd.Sub(f.start).Seconds()
	r := &FireResult{
		Label: f.cfg.Label, Rate: f.cfg.Rate, Batch: f.cfg.Batch, Zones: len(f.cfg.Target.ZoneIDs), Requests: sends,
		SendSeconds: round3(send), Accepted: c.accepted.Load(), Denied: c.denied.Load(), Rejected: c.rejected.Load(),
		Errors: c.errors.Load(), Timeouts: c.timeouts.Load(), SamplesSkipped: c.sampleSkipped.Load(),
		SampleTimeouts: c.sampleTimeouts.Load(), SampleErrors: c.sampleErrors.Load(), VisibleLagSeconds: -1,
	}
	for i := range c.secs {
		r.Offered += c.secs[i].offered.Load()
		r.Shed += c.secs[i].shed.Load()
	}
	c.mu.Lock()
	r.AcceptedLatency, r.RejectedLatency, r.SubmitToVisible = c.acc.Summary(), c.rej.Summary(), c.vis.Summary()
	r.ErrorKinds = maps.Clone(c.kinds)
	perSecond := f.perSecond()
	c.mu.Unlock()
	if len(r.ErrorKinds) == 0 {
		r.ErrorKinds = nil
	}
	if r.Offered > 0 {
		r.AcceptedShare = round3(float64(r.Accepted) / float64(r.Offered))
	}
	if send > 0 {
		r.AcceptedPerSec = round3(float64(r.Accepted) / send)
	}
	r.Visibility = vis.snapshot()
	end := sendEnd.Sub(f.start).Seconds()
	for _, p := range r.Visibility {
		if p.T <= end+visibleGrace.Seconds() {
			r.VisibleInWindow = p.Visible
		}
		if r.VisibleLagSeconds < 0 && p.Visible >= r.Accepted {
			r.VisibleLagSeconds = round3(max(p.T-end, 0))
		}
		r.Visible = max(r.Visible, p.Visible)
	}
	if send > 0 {
		r.VisiblePerSec = round3(float64(r.VisibleInWindow) / send)
	}
	r.Lost = max(r.Accepted-r.Visible, 0)
	r.PerSecond = visiblePerSecond(perSecond, r.Visibility)
	return r
}

// perSecond are the seconds up to the last with anything in it; c.mu is held.
func (f *fire) perSecond() []SecondStats {
	c := f.counts
	var out []SecondStats
	last := -1
	for i := range c.secs {
		s := &c.secs[i]
		st := SecondStats{Second: i, Offered: s.offered.Load(), Shed: s.shed.Load(), Accepted: s.accepted.Load(),
			Denied: s.denied.Load(), Rejected: s.rejected.Load(), Errors: s.errors.Load(), Timeouts: s.timeouts.Load()}
		if h := c.accSec[i]; h != nil {
			st.AcceptedP99Ms = h.Summary().P99
		}
		if h := c.rejSec[i]; h != nil {
			st.RejectedP99Ms = h.Summary().P99
		}
		if st != (SecondStats{Second: i}) {
			last = i
		}
		out = append(out, st)
	}
	return out[:last+1]
}

// visiblePerSecond adds to each second the holds that became visible between the
// read before it and the last read in it.
func visiblePerSecond(secs []SecondStats, points []VisiblePoint) []SecondStats {
	var prev int64
	for _, p := range points {
		i := int(math.Floor(p.T))
		for len(secs) <= i {
			secs = append(secs, SecondStats{Second: len(secs)})
		}
		secs[i].Visible += p.Visible - prev
		prev = p.Visible
	}
	return secs
}

// startProgress prints a line every second until the returned stop is called.
func (f *fire) startProgress(vis *visibility) (stop func()) {
	if f.cfg.Progress == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastAcc, lastVis int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			acc := f.counts.accepted.Load()
			var v int64
			if pts := vis.snapshot(); len(pts) > 0 {
				v = pts[len(pts)-1].Visible
			}
			f.counts.mu.Lock()
			p99, rp99 := f.counts.acc.Summary().P99, f.counts.rej.Summary().P99
			f.counts.mu.Unlock()
			fmt.Fprintf(f.cfg.Progress, "%s t=%3.0fs offered %.0f/s | accepted %d (+%d) rejected %d errors %d timeouts %d shed %d in_flight %d | visible %d (+%d) | p99 accepted %.1fms rejected %.1fms\n",
				f.cfg.Label, time.Since(f.start).Seconds(), f.cfg.Rate, acc, acc-lastAcc, f.counts.rejected.Load(),
				f.counts.errors.Load(), f.counts.timeouts.Load(), f.shedSoFar(), f.inFlight.Load(), v, v-lastVis, p99, rp99)
			lastAcc, lastVis = acc, v
		}
	}()
	return func() { cancel(); <-done }
}

func (f *fire) shedSoFar() int64 {
	var n int64
	for i := range f.counts.secs {
		n += f.counts.secs[i].shed.Load()
	}
	return n
}

// Line is a one-line summary of the run.
func (r *FireResult) Line() string {
	return fmt.Sprintf("%s %.0f holds/s offered (batch %d, %d zone(s)): accepted %.1f%% (%.0f/s), visible %.0f/s, lag %.2fs, lost %d; rejected %d p99 %.1fms; accepted p50 %.1fms p99 %.1fms; submit-to-visible p99 %.1fms; errors %d timeouts %d shed %d; generator %.3f CPU s/1000",
		r.Label, r.Rate, r.Batch, r.Zones, 100*r.AcceptedShare, r.AcceptedPerSec, r.VisiblePerSec, r.VisibleLagSeconds,
		r.Lost, r.Rejected, r.RejectedLatency.P99, r.AcceptedLatency.P50, r.AcceptedLatency.P99, r.SubmitToVisible.P99,
		r.Errors, r.Timeouts, r.Shed, r.GeneratorCPUPer1000)
}
