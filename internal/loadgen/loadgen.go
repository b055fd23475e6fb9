// Package loadgen drives a steady, open-loop load of holds against a running
// ultimate-ticket API and measures, per request, the submit latency (POST until the
// 202) and the submit-to-visible latency (POST until GET /requests/{id} shows the
// decided result). cmd/loadgen is its front door; RunSelf also starts the whole
// system (Kafka and Postgres in Docker, ticketd in-process) around a run.
//
// Every loop is bounded in count and time, the run stops by itself, and only the
// given URL, on a loopback address, is ever contacted.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/devstack"
)

// Limits of the settings; every one bounds memory or time.
const (
	RateMax          = 20_000
	DurationMax      = time.Hour
	SendsMax         = 5_000_000 // rate * duration
	ZonesMax         = 64        // the API's limit per event
	CapacityMax      = 10_000_000
	ConcurrencyMax   = 10_000
	holdQuantityMax  = 4
	responseBytesMax = 1 << 20
	// pollRelative stretches the pause between polls of a slow request to at most
	// 1/pollRelative of its age, so the measure stays within about 2% while a
	// backlog of slow requests does not flood the API with polls.
	pollRelative   = 50
	visibleTimeout = time.Minute // an event's zones reaching the read model
	requestTimeout = 10 * time.Second
)

// Config is one run.
type Config struct {
	// URL is the API's base URL; its host must be a loopback address.
	URL string
	// AdminToken is the bearer token for POST /events.
	AdminToken string
	// Rate is holds submitted per second, open loop.
	Rate float64
	// Duration is how long holds are submitted.
	Duration time.Duration
	// Zones is the number of zones of the event; holds pick one at random. 1 is the
	// hot zone: every hold on one zone, one partition, one writer.
	Zones int
	// Capacity is the tickets of each zone.
	Capacity int64
	// Concurrency bounds the requests in flight (a hold with its polls and its
	// confirm or release). A send due while the bound is reached is shed and counted.
	Concurrency int
	// Poll is the pause between two GET /requests/{id} of one request while it is
	// young; a request older than 50*Poll is polled every 1/50 of its age.
	Poll time.Duration
	// DecideTimeout bounds the wait for one request's result.
	DecideTimeout time.Duration
	// PollOnly makes every request a plain submit (202) followed by polling
	// GET /requests/{id}. By default a submit carries `Prefer: wait=N` and the API's
	// one shared result poller answers it as soon as the read model has the result,
	// which is how a client should wait and costs the server one query per few ms
	// for all waiters; per-client polling at millisecond intervals loads the API and
	// Postgres far more than the requests themselves.
	PollOnly bool
	// ConfirmRatio and ReleaseRatio are the shares of placed holds then confirmed
	// and released; the rest are left to expire.
	ConfirmRatio, ReleaseRatio float64
	// Seed makes the choices (zone, quantity, confirm or release) repeatable.
	Seed uint64
	// Progress receives a line every second; nil for none.
	Progress io.Writer
}

// DefaultConfig is the hot zone at 200 holds/s for 30 s.
func DefaultConfig() Config {
	return Config{
		URL: "http://localhost:8080", Rate: 200, Duration: 30 * time.Second, Zones: 1, Capacity: 1_000_000,
		Concurrency: 512, Poll: 5 * time.Millisecond, DecideTimeout: 30 * time.Second,
		ConfirmRatio: 0.5, ReleaseRatio: 0.2, Seed: 1,
	}
}

// Validate checks the settings against their bounds.
func (c Config) Validate() error {
	var errs []error
	if err := CheckLoopback(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.Rate <= 0 || c.Rate > RateMax {
		errs = append(errs, fmt.Errorf("rate %v is not in (0, %d]", c.Rate, RateMax))
	}
	if c.Duration < time.Second || c.Duration > DurationMax {
		errs = append(errs, fmt.Errorf("duration %v is not in [1s, %v]", c.Duration, DurationMax))
	}
	if c.Rate*c.Duration.Seconds() > SendsMax {
		errs = append(errs, fmt.Errorf("rate * duration is over %d holds", SendsMax))
	}
	if c.Zones < 1 || c.Zones > ZonesMax {
		errs = append(errs, fmt.Errorf("zones %d is not in [1, %d]", c.Zones, ZonesMax))
	}
	if c.Capacity < 1 || c.Capacity > CapacityMax {
		errs = append(errs, fmt.Errorf("capacity %d is not in [1, %d]", c.Capacity, CapacityMax))
	}
	if c.Concurrency < 1 || c.Concurrency > ConcurrencyMax {
		errs = append(errs, fmt.Errorf("concurrency %d is not in [1, %d]", c.Concurrency, ConcurrencyMax))
	}
	if c.Poll < time.Millisecond || c.Poll > time.Second {
		errs = append(errs, fmt.Errorf("poll %v is not in [1ms, 1s]", c.Poll))
	}
	if c.DecideTimeout < time.Second || c.DecideTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("decide timeout %v is not in [1s, 10m]", c.DecideTimeout))
	}
	if c.ConfirmRatio < 0 || c.ReleaseRatio < 0 || c.ConfirmRatio+c.ReleaseRatio > 1 {
		errs = append(errs, errors.New("confirm and release ratios must be >= 0 with a sum <= 1"))
	}
	return errors.Join(errs...)
}

// CheckLoopback accepts an http(s) URL whose host is a loopback address (or a name
// resolving only to loopback addresses).
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("url %q: %s is not a loopback address", raw, host)
		}
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("url %q: cannot resolve %q", raw, host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("url %q: %s resolves to %s, not a loopback address", raw, host, ip)
		}
	}
	return nil
}

// Op names a kind of request.
type Op string

// The requests a run makes.
const (
	OpHold    Op = "hold"
	OpConfirm Op = "confirm"
	OpRelease Op = "release"
)

// Outcomes of a request.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeRejected  = "rejected"
	OutcomeError     = "error"
)

// Sample is one request's measurements.
type Sample struct {
	Op      Op
	Start   time.Duration // since the run's start
	Submit  time.Duration // POST until its answer
	Visible time.Duration // POST until the decided result was read; 0 when none
	Outcome string
	Reason  string // rejection reason or error kind
}

// runner is one run's shared state.
type runner struct {
	cfg     Config
	base    string
	client  *http.Client
	start   time.Time
	eventID string
	zoneIDs []string
	runTag  string

	sent, decided, errs, shed, inFlight atomic.Int64

	mu       sync.Mutex
	samples  []Sample
	visible  Histogram // holds, cumulative
	submit   Histogram // holds, cumulative
	errKinds map[string]int64
}

// Run creates an event, drives the load and returns the results. ctx stops it early.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		MaxIdleConns:        cfg.Concurrency + 16,
		MaxIdleConnsPerHost: cfg.Concurrency + 16,
		MaxConnsPerHost:     cfg.Concurrency + 16,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	r := &runner{
		cfg: cfg, base: strings.TrimRight(cfg.URL, "/"),
		client:   &http.Client{Transport: tr, Timeout: requestTimeout},
		errKinds: map[string]int64{},
		runTag:   fmt.Sprintf("lg%d", time.Now().UnixNano()),
	}
	if err := devstack.WaitReady(ctx, r.base, nil); err != nil {
		return nil, err
	}
	if err := r.createEvent(ctx); err != nil {
		return nil, err
	}
	pacer := NewPacer(time.Now(), cfg.Rate, cfg.Duration)
	r.samples = make([]Sample, 0, 2*pacer.Total()+16)
	return r.drive(ctx, pacer)
}

func (r *runner) drive(ctx context.Context, pacer Pacer) (*Results, error) {
	r.start = pacer.start
	sem := make(chan struct{}, r.cfg.Concurrency)
	var wg sync.WaitGroup
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()

	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progress(stopProgress)
	}()

	total := pacer.Total()
	timer := time.NewTimer(0)
	<-timer.C
	sends := 0
sendLoop:
	for i := range total {
		due, ok := pacer.Due(i)
		if !ok {
			break
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				break sendLoop
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			r.shed.Add(1)
			continue
		}
		sends++
		wg.Add(1)
		r.inFlight.Add(1)
		go func(i int) {
			defer func() { <-sem; r.inFlight.Add(-1); wg.Done() }()
			r.holdFlow(reqCtx, i)
		}(i)
	}
	sendPhase := time.Since(r.start)

	// Drain: every request is bounded by DecideTimeout (plus one confirm or release
	// and their own timeouts); past that, cancel what is left.
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	drainLimit := time.NewTimer(2*r.cfg.DecideTimeout + 2*requestTimeout)
	select {
	case <-drained:
	case <-drainLimit.C:
		cancelReqs()
		<-drained
	case <-ctx.Done():
		cancelReqs()
		<-drained
	}
	drainLimit.Stop()
	close(stopProgress)
	<-progressDone
	return r.results(sendPhase), nil
}

// holdFlow places hold i, polls for its result, and confirms or releases it by the
// mix.
func (r *runner) holdFlow(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(i)))
	zone := r.zoneIDs[rng.IntN(len(r.zoneIDs))]
	key := fmt.Sprintf("%s-%d", r.runTag, i)
	body := map[string]any{
		"event_id": r.eventID, "zone_id": zone, "quantity": 1 + rng.IntN(holdQuantityMax),
		"idempotency_key": key, "customer_id": fmt.Sprintf("cust-%d", rng.IntN(1_000_000)),
	}
	r.sent.Add(1)
	res := r.submitAndPoll(ctx, OpHold, http.MethodPost, "/holds", body, nil)
	if res.Status != OutcomeSucceeded || res.Hold == nil || res.Hold.ID == "" {
		return
	}
	x := rng.Float64()
	switch {
	case x < r.cfg.ConfirmRatio:
		r.submitAndPoll(ctx, OpConfirm, http.MethodPost, "/holds/"+res.Hold.ID+"/confirm", nil,
			map[string]string{"Idempotency-Key": "confirm-" + key})
	case x < r.cfg.ConfirmRatio+r.cfg.ReleaseRatio:
		r.submitAndPoll(ctx, OpRelease, http.MethodDelete, "/holds/"+res.Hold.ID, nil, nil)
	}
}

// requestResult is the part of GET /requests/{id} the load generator reads.
type requestResult struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	Hold      *struct {
		ID string `json:"id"`
	} `json:"hold"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// submitAndPoll sends one submit, expects 202, and polls its request until decided
// or DecideTimeout; it records one sample and returns the decided result (Status
// "" when there is none).
func (r *runner) submitAndPoll(ctx context.Context, op Op, method, path string, body any, hdr map[string]string) requestResult {
	s := Sample{Op: op}
	t0 := time.Now()
	s.Start = t0.Sub(r.start)
	if !r.cfg.PollOnly {
		h := map[string]string{"Prefer": fmt.Sprintf("wait=%d", waitSeconds(r.cfg.DecideTimeout))}
		for k, v := range hdr {
			h[k] = v
		}
		hdr = h
	}
	status, raw, err := r.do(ctx, method, path, body, hdr)
	s.Submit = time.Since(t0)
	if err == nil && status != http.StatusAccepted && !r.cfg.PollOnly {
		return r.waited(s, t0, status, raw)
	}
	var pending requestResult
	switch {
	case err != nil:
		return r.fail(s, "submit_transport")
	case status != http.StatusAccepted:
		return r.fail(s, fmt.Sprintf("submit_http_%d", status))
	case json.Unmarshal(raw, &pending) != nil || pending.RequestID == "":
		return r.fail(s, "submit_bad_body")
	}
	deadline := t0.Add(r.cfg.DecideTimeout)
	pollsMax := int(r.cfg.DecideTimeout/r.cfg.Poll) + 1 // an upper bound: pauses only grow
	timer := time.NewTimer(r.cfg.Poll)
	defer timer.Stop()
	for range pollsMax {
		select {
		case <-ctx.Done():
			return r.fail(s, "cancelled")
		case <-timer.C:
		}
		status, raw, err := r.do(ctx, http.MethodGet, "/requests/"+pending.RequestID, nil, nil)
		if err == nil && status == http.StatusOK {
			var res requestResult
			if json.Unmarshal(raw, &res) == nil && res.Status != "" && res.Status != "pending" {
				s.Visible = time.Since(t0)
				s.Outcome = OutcomeSucceeded
				if res.Status != OutcomeSucceeded {
					s.Outcome, s.Reason = OutcomeRejected, res.Reason
				}
				r.record(s, true)
				return res
			}
		} else if err == nil && status != http.StatusTooManyRequests && status < 500 {
			return r.fail(s, fmt.Sprintf("poll_http_%d", status))
		}
		if time.Now().After(deadline) {
			break
		}
		timer.Reset(max(r.cfg.Poll, time.Since(t0)/pollRelative))
	}
	return r.fail(s, "undecided_timeout")
}

// waitSeconds is the Prefer wait for a decide timeout: whole seconds, 1 to 30.
func waitSeconds(d time.Duration) int { return min(max(int(d/time.Second), 1), 30) }

// waited records the answer to a submit that waited for its result: 201 or 200
// with the hold or order, or an error status with the rejection's code.
func (r *runner) waited(s Sample, t0 time.Time, status int, raw []byte) requestResult {
	s.Visible = time.Since(t0)
	switch {
	case status == http.StatusCreated || status == http.StatusOK:
		var body struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &body) != nil || body.ID == "" {
			return r.fail(s, "waited_bad_body")
		}
		s.Outcome = OutcomeSucceeded
		r.record(s, true)
		res := requestResult{Status: OutcomeSucceeded}
		res.Hold = &struct {
			ID string `json:"id"`
		}{ID: body.ID}
		return res
	case status == http.StatusConflict || status == http.StatusNotFound || status == http.StatusUnprocessableEntity:
		var body struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &body)
		s.Outcome, s.Reason = OutcomeRejected, body.Error.Code
		r.record(s, true)
		return requestResult{Status: "rejected", Reason: body.Error.Code}
	default:
		return r.fail(s, fmt.Sprintf("submit_http_%d", status))
	}
}

func (r *runner) fail(s Sample, kind string) requestResult {
	s.Outcome, s.Reason = OutcomeError, kind
	r.record(s, false)
	return requestResult{}
}

func (r *runner) record(s Sample, decided bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) < cap(r.samples) {
		r.samples = append(r.samples, s)
	}
	if s.Op == OpHold {
		r.submit.Add(s.Submit)
		if decided {
			r.visible.Add(s.Visible)
		}
	}
	if decided {
		r.decided.Add(1)
	} else {
		r.errs.Add(1)
		r.errKinds[string(s.Op)+":"+s.Reason]++
	}
}

// do sends one request to the API and reads its answer.
func (r *runner) do(ctx context.Context, method, path string, body any, hdr map[string]string) (int, []byte, error) {
	return Send(ctx, r.client, method, r.base+path, body, hdr)
}

// createEvent creates the event with its zones and waits until the read model shows
// every zone.
func (r *runner) createEvent(ctx context.Context) error {
	t, err := CreateTarget(ctx, r.client, r.base, r.cfg.AdminToken, TargetSpec{
		Name: "loadgen " + r.runTag, Zones: r.cfg.Zones, Capacity: r.cfg.Capacity, HoldQuantityMax: holdQuantityMax,
	})
	if err != nil {
		return err
	}
	r.eventID, r.zoneIDs = t.EventID, t.ZoneIDs
	return nil
}

// progress prints a line every second until stop is closed.
func (r *runner) progress(stop <-chan struct{}) {
	if r.cfg.Progress == nil {
		<-stop
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSent int64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		sent := r.sent.Load()
		r.mu.Lock()
		vp50, vp99 := r.visible.Percentile(50), r.visible.Percentile(99)
		sp50, sp99 := r.submit.Percentile(50), r.submit.Percentile(99)
		r.mu.Unlock()
		fmt.Fprintf(r.cfg.Progress,
			"t=%3.0fs sent=%d (+%d) decided=%d in_flight=%d errors=%d shed=%d | visible p50=%s p99=%s | submit p50=%s p99=%s\n",
			time.Since(r.start).Seconds(), sent, sent-lastSent, r.decided.Load(), r.inFlight.Load(),
			r.errs.Load(), r.shed.Load(), round(vp50), round(vp99), round(sp50), round(sp99))
		lastSent = sent
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
