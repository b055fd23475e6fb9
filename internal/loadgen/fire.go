package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Limits and defaults of a fire run.
const (
	// FireRateMax bounds the offered holds per second (batched runs reach highest).
	FireRateMax = 500_000
	// FireHoldsMax bounds the holds of one run (rate * duration).
	FireHoldsMax = 50_000_000
	// BatchMax is the most holds POST /holds/batch takes.
	BatchMax = 1000
	// FireConcurrencyDefault is the default bound on requests in flight.
	FireConcurrencyDefault = 512
	// SampleEveryDefault: one accepted request in this many is followed to its
	// decision.
	SampleEveryDefault = 100
	// VisiblePollDefault is the pause between two reads of the event's availability.
	VisiblePollDefault = 250 * time.Millisecond
	// VisibleWaitDefault bounds the wait, after the sends, for every accepted hold
	// to show in the availability.
	VisibleWaitDefault = 30 * time.Second
	// FireRequestTimeoutDefault bounds one submit.
	FireRequestTimeoutDefault = 10 * time.Second
	// samplersMax bounds the sampled requests followed at once; a sample due while
	// they are all busy is skipped (and counted).
	samplersMax = 256
	// samplePoll is the first pause between two GET /requests/{id} of a sample whose
	// wait ran out; an older sample is polled every 1/pollRelative of its age.
	samplePoll = 2 * time.Millisecond
	// sampleWait is the `Prefer: wait` of a sampled submit, in seconds: the server's
	// shared poller answers it once decided, as a client waiting for its result
	// should, instead of a GET /requests/{id} every few milliseconds per sample.
	sampleWait = "wait=10"
	// sampleTimeout bounds the wait for a sample's decision.
	sampleTimeout = 30 * time.Second
	// sleepMin is the shortest pause of the pacer: at high rates it wakes up every
	// sleepMin and sends all that is due, instead of waking once per send.
	sleepMin = time.Millisecond
	// fireResponseBytesMax bounds the answer read of one submit (a batch of 1000
	// pending items is about 100 KB; with hold objects about 400 KB).
	fireResponseBytesMax = 4 << 20
)

// FireConfig is one fire-and-forget run: holds submitted open loop at a fixed rate
// without waiting for their decision, on an event that exists (CreateTarget).
type FireConfig struct {
	// URL is the API's base URL; its host must be a loopback address.
	URL string
	// Target is the event and its zones; hold k goes to zone k mod len(ZoneIDs).
	Target Target
	// Rate is the offered holds per second; with Batch > 1 the requests per second
	// are Rate/Batch.
	Rate float64
	// Duration is how long holds are offered.
	Duration time.Duration
	// Batch is the holds per request: 1 sends POST /holds, more POST /holds/batch.
	// Default 1.
	Batch int
	// Concurrency bounds the requests in flight, and the kept-alive connections; a
	// request due while the bound is reached is shed and counted. Default
	// FireConcurrencyDefault.
	Concurrency int
	// SampleEvery: one accepted request in SampleEvery is followed (GET
	// /requests/{id} until decided) for the submit-to-visible latency; an answer
	// that is already final (201, or 200 for a batch) is its own decision. Default
	// SampleEveryDefault.
	SampleEvery int
	// RequestTimeout bounds one submit. Default FireRequestTimeoutDefault.
	RequestTimeout time.Duration
	// VisiblePoll is the pause between two reads of the availability. Default
	// VisiblePollDefault.
	VisiblePoll time.Duration
	// VisibleWait bounds the wait after the sends for every accepted hold to be
	// visible. Default VisibleWaitDefault.
	VisibleWait time.Duration
	// Tag makes the idempotency keys unique: <Tag>-<k>. Default: from the clock.
	Tag string
	// Label names the run in progress lines.
	Label string
	// Progress receives a line every second; nil for none.
	Progress io.Writer
}

// WithDefaults fills the settings left at zero.
func (c FireConfig) WithDefaults() FireConfig {
	if c.Batch == 0 {
		c.Batch = 1
	}
	if c.Concurrency == 0 {
		c.Concurrency = FireConcurrencyDefault
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = SampleEveryDefault
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = FireRequestTimeoutDefault
	}
	if c.VisiblePoll == 0 {
		c.VisiblePoll = VisiblePollDefault
	}
	if c.VisibleWait == 0 {
		c.VisibleWait = VisibleWaitDefault
	}
	if c.Tag == "" {
		c.Tag = fmt.Sprintf("ff%d", time.Now().UnixNano())
	}
	return c
}

// Validate checks the settings against their bounds.
func (c FireConfig) Validate() error {
	var errs []error
	if err := CheckLoopback(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.Target.EventID == "" || len(c.Target.ZoneIDs) == 0 || len(c.Target.ZoneIDs) > ZonesMax {
		errs = append(errs, fmt.Errorf("target needs an event and 1 to %d zones", ZonesMax))
	}
	if c.Rate <= 0 || c.Rate > FireRateMax {
		errs = append(errs, fmt.Errorf("rate %v is not in (0, %d]", c.Rate, FireRateMax))
	}
	if c.Duration < time.Second || c.Duration > DurationMax {
		errs = append(errs, fmt.Errorf("duration %v is not in [1s, %v]", c.Duration, DurationMax))
	}
	if c.Rate*c.Duration.Seconds() > FireHoldsMax {
		errs = append(errs, fmt.Errorf("rate * duration is over %d holds", FireHoldsMax))
	}
	if c.Batch < 1 || c.Batch > BatchMax {
		errs = append(errs, fmt.Errorf("batch %d is not in [1, %d]", c.Batch, BatchMax))
	}
	if c.Concurrency < 1 || c.Concurrency > ConcurrencyMax {
		errs = append(errs, fmt.Errorf("concurrency %d is not in [1, %d]", c.Concurrency, ConcurrencyMax))
	}
	if c.SampleEvery < 1 {
		errs = append(errs, fmt.Errorf("sample every %d is not >= 1", c.SampleEvery))
	}
	if c.RequestTimeout < 100*time.Millisecond || c.RequestTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("request timeout %v is not in [100ms, 1m]", c.RequestTimeout))
	}
	if c.VisiblePoll < 10*time.Millisecond || c.VisiblePoll > 5*time.Second {
		errs = append(errs, fmt.Errorf("visible poll %v is not in [10ms, 5s]", c.VisiblePoll))
	}
	if c.VisibleWait < time.Second || c.VisibleWait > 10*time.Minute {
		errs = append(errs, fmt.Errorf("visible wait %v is not in [1s, 10m]", c.VisibleWait))
	}
	return errors.Join(errs...)
}

// NewFireClient is a client for fire runs: kept-alive connections, as many idle as
// may be in flight, no proxy, no compression.
func NewFireClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
}

// newSubmitClient is the client of the submits. It is fasthttp's rather than
// net/http's: profiled at 5,000 submits/s, net/http's client (a reader and a writer
// goroutine per connection, a request and a response allocated and parsed per
// submit) took about two thirds of the generator's 70 µs of CPU per submit, CPU
// the measured system then lacks on a shared machine.
func newSubmitClient(cfg FireConfig) *fasthttp.HostClient {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		panic(fmt.Sprintf("fire: checked URL: %v", err)) // Validate parsed it
	}
	return &fasthttp.HostClient{
		Addr:                          u.Host,
		IsTLS:                         u.Scheme == "https",
		MaxConns:                      cfg.Concurrency,
		MaxConnWaitTimeout:            cfg.RequestTimeout,
		MaxIdleConnDuration:           time.Minute,
		ReadTimeout:                   cfg.RequestTimeout,
		WriteTimeout:                  cfg.RequestTimeout,
		MaxResponseBodySize:           fireResponseBytesMax,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		Dial:                          (&fasthttp.TCPDialer{Concurrency: 64}).Dial,
	}
}

// fire is one fire run's state.
type fire struct {
	cfg      FireConfig
	base     string
	holdsURL string
	holdsURI *fasthttp.URI // holdsURL parsed once
	bodies   bodies
	client   *fasthttp.HostClient // submits
	side     *http.Client         // availability reads and sample polls
	start    time.Time
	counts   *counters
	samplers chan struct{}
	inFlight atomic.Int64
}

// Fire runs one fire-and-forget load and returns its figures; ctx stops it early
// (the figures so far are returned).
func Fire(ctx context.Context, cfg FireConfig) (*FireResult, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &fire{cfg: cfg, base: strings.TrimRight(cfg.URL, "/"), bodies: newBodies(cfg.Target, cfg.Tag, cfg.Batch),
		client:   newSubmitClient(cfg),
		side:     NewFireClient(samplersMax+4, cfg.RequestTimeout),
		samplers: make(chan struct{}, samplersMax)}
	defer f.client.CloseIdleConnections()
	defer f.side.CloseIdleConnections()
	f.holdsURL = f.base + "/holds"
	if cfg.Batch > 1 {
		f.holdsURL += "/batch"
	}
	f.holdsURI = fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(f.holdsURI)
	if err := f.holdsURI.Parse(nil, []byte(f.holdsURL)); err != nil {
		return nil, fmt.Errorf("fire: %s: %w", f.holdsURL, err)
	}
	before, err := ReadAvailability(ctx, f.side, f.base, cfg.Target.EventID)
	if err != nil {
		return nil, fmt.Errorf("fire: availability before the run: %w", err)
	}
	cpu0 := SelfCPU()
	f.start = time.Now()
	seconds := int(cfg.Duration/time.Second) + int((cfg.RequestTimeout+cfg.VisibleWait)/time.Second) + 4
	f.counts = newCounters(seconds)
	vis := newVisibility(f, before.Taken())
	visDone := make(chan struct{})
	visCtx, stopVis := context.WithCancel(ctx)
	go func() { defer close(visDone); vis.run(visCtx) }()
	stopProgress := f.startProgress(vis)

	sendEnd, sends := f.send(ctx)
	vis.sendsDone(sendEnd, f.counts.accepted.Load())
	select {
	case <-vis.reached:
	case <-visDone:
	case <-ctx.Done():
	}
	stopVis()
	<-visDone
	stopProgress()
	res := f.result(sendEnd, sends, vis)
	res.GeneratorCPUSeconds = (SelfCPU() - cpu0).Seconds()
	if n := res.Accepted + res.Rejected; n > 0 {
		res.GeneratorCPUPer1000 = round3(res.GeneratorCPUSeconds * 1000 / float64(n))
	}
	return res, nil
}

// send paces the requests, open loop, and waits for the last answer (each bounded
// by RequestTimeout). It returns when the sends ended and how many were made.
func (f *fire) send(ctx context.Context) (time.Time, int) {
	batch := f.cfg.Batch
	pacer := NewPacer(f.start, f.cfg.Rate/float64(batch), f.cfg.Duration)
	total := pacer.Total()
	// Concurrency workers, each one request at a time: a goroutine per request
	// would grow a fresh stack for the client's deep calls every time. A request
	// is handed over only while fewer than Concurrency are queued or running, so
	// the hand-over never blocks.
	jobs := make(chan int, f.cfg.Concurrency)
	var wg sync.WaitGroup
	for range f.cfg.Concurrency {
		wg.Go(func() {
			for seq := range jobs {
				f.submit(seq)
				f.inFlight.Add(-1)
			}
		})
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sends := 0
	for i := 0; i < total; {
		due, _ := pacer.Due(i)
		now := time.Now()
		if wait := due.Sub(now); wait > 0 {
			timer.Reset(max(wait, sleepMin))
			select {
			case <-ctx.Done():
				total = i
			case <-timer.C:
			}
			continue
		}
		for ; i < total; i++ {
			due, _ := pacer.Due(i)
			if due.After(now) {
				break
			}
			sec := f.counts.second(due.Sub(f.start))
			sec.offered.Add(int64(batch))
			if f.inFlight.Load() >= int64(f.cfg.Concurrency) {
				sec.shed.Add(int64(batch))
				continue
			}
			f.inFlight.Add(1)
			sends++
			jobs <- i
		}
	}
	end := time.Now()
	close(jobs)
	wg.Wait()
	return end, sends
}

// submit sends request seq and counts its answer.
func (f *fire) submit(seq int) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(http.MethodPost)
	req.SetURI(f.holdsURI)
	req.Header.SetContentType("application/json")
	// The body is built in the request's own buffer, which fasthttp reuses.
	req.SetBodyRaw(f.bodies.body(req.Body()[:0], seq))
	sampled := seq%f.cfg.SampleEvery == 0
	if sampled {
		req.Header.Set("Prefer", sampleWait)
	}
	t0 := time.Now()
	if err := f.client.DoTimeout(req, resp, f.cfg.RequestTimeout); err != nil {
		f.counts.failed(time.Since(f.start), f.cfg.Batch, err)
		return
	}
	f.answer(resp.StatusCode(), resp.Body(), t0, sampled)
}

// answer counts one submit's answer: a batch's items by status, and a sampled
// request (one in SampleEvery sent with `Prefer: wait`) to its decision: its
// answer is the decision when it came in time, else it is followed by polling.
// A sampled request's latency is its submit-to-visible time, not a submit's.
func (f *fire) answer(status int, raw []byte, t0 time.Time, sampled bool) {
	batch := f.cfg.Batch
	lat := time.Since(t0)
	at := t0.Add(lat).Sub(f.start)
	took := lat
	if sampled && (status == http.StatusAccepted || status == http.StatusCreated || status == http.StatusOK) {
		lat = -1
	}
	accepted := status == http.StatusAccepted || status == http.StatusCreated || status == http.StatusOK
	switch {
	case accepted && batch == 1:
		f.counts.answered(at, lat, 1, 0, 0, 0)
	case accepted:
		c, ok := countBatch(raw, batch)
		if !ok {
			f.counts.errorKind(at, batch, "batch_bad_body")
			return
		}
		f.counts.answered(at, lat, c.pending+c.succeeded, c.rejected, c.invalid, 0)
	case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
		f.counts.answered(at, lat, 0, 0, 0, batch)
	case status == http.StatusConflict || status == http.StatusNotFound || status == http.StatusUnprocessableEntity:
		f.counts.answered(at, lat, 0, batch, 0, 0)
	default:
		f.counts.errorKind(at, batch, fmt.Sprintf("http_%d", status))
	}
	if !sampled {
		return
	}
	if !accepted || status != http.StatusAccepted {
		// A final answer (201, a batch's 200, or a decided rejection) is its
		// own decision.
		if accepted || status == http.StatusConflict {
			f.counts.visible(took)
		}
		return
	}
	id := firstRequestID(raw)
	if id == "" {
		f.counts.sampleSkipped.Add(1)
		return
	}
	select {
	case f.samplers <- struct{}{}:
		go func() {
			defer func() { <-f.samplers }()
			f.follow(id, t0)
		}()
	default:
		f.counts.sampleSkipped.Add(1)
	}
}

// follow polls GET /requests/{id} until it is decided and counts the
// submit-to-visible latency.
func (f *fire) follow(id string, t0 time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), sampleTimeout)
	defer cancel()
	url := f.base + "/requests/" + id
	timer := time.NewTimer(samplePoll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			f.counts.sampleTimeouts.Add(1)
			return
		case <-timer.C:
		}
		status, raw, err := Send(ctx, f.side, http.MethodGet, url, nil, nil)
		if err == nil && status == http.StatusOK && !bytes.Contains(raw, statusPending) {
			f.counts.visible(time.Since(t0))
			return
		}
		if err == nil && status != http.StatusOK && status != http.StatusTooManyRequests && status < 500 {
			f.counts.sampleErrors.Add(1)
			return
		}
		timer.Reset(max(samplePoll, time.Since(t0)/pollRelative))
	}
}
