package api

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// metrics are the API's Prometheus collectors, registered on Deps.Registry.
type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	published       *prometheus.CounterVec
	publishFailures *prometheus.CounterVec
	waiters         prometheus.Gauge
	waitPolls       prometheus.Counter
	waitPollErrors  prometheus.Counter
	waitOutcomes    *prometheus.CounterVec
	rateLimited     prometheus.Counter
	keyReplays      *prometheus.CounterVec
	overloaded      *prometheus.CounterVec
	inFlightSeconds prometheus.Histogram
	batchHolds      prometheus.Histogram
	keyQuerySeconds prometheus.Histogram
	keyQueryKeys    prometheus.Histogram
	keyWaitSeconds  prometheus.Histogram
}

// routeUnmatched labels requests that matched no route, so that scanners probing
// random paths cannot blow up the label cardinality.
const routeUnmatched = "unmatched"

// newMetrics builds the API's collectors and registers them all on reg (none when
// reg is nil). Registering a collector twice is a programmer error and panics.
func newMetrics(reg prometheus.Registerer, inFlight *inFlight) *metrics {
	f := promauto.With(reg)
	httpLabels := []string{"route", "method", "status"}
	m := &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_http_requests_total",
			Help: "HTTP requests answered, by route template, method and status code."}, httpLabels),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "ticket_api_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, httpLabels),
		published: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_commands_published_total",
			Help: "Commands published to the processor, by command type."}, []string{"type"}),
		publishFailures: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_command_publish_failures_total",
			Help: "Commands that could not be published, by command type."}, []string{"type"}),
		waiters: f.NewGauge(prometheus.GaugeOpts{Name: "ticket_api_waiters",
			Help: "Submits waiting for their result (Prefer: wait)."}),
		waitPolls: f.NewCounter(prometheus.CounterOpts{Name: "ticket_api_wait_polls_total",
			Help: "Queries of the read model by the shared waiter poller."}),
		waitPollErrors: f.NewCounter(prometheus.CounterOpts{Name: "ticket_api_wait_poll_errors_total",
			Help: "Failed queries of the shared waiter poller."}),
		waitOutcomes: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_waits_total",
			Help: "Prefer: wait submits by outcome: decided, timeout, canceled, or full (WaitersMax reached)."}, []string{"outcome"}),
		rateLimited: f.NewCounter(prometheus.CounterOpts{Name: "ticket_api_rate_limited_total",
			Help: "Requests answered 429 by the per-client rate limit."}),
		keyReplays: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_key_replays_total",
			Help: "Retries answered from the read model without publishing, by command type and outcome (replay or conflict)."}, []string{"type", "outcome"}),
		overloaded: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_overloaded_total",
			Help: "Submits answered 503 overloaded, by reason: in_flight (the bound on commands in flight), latency (submits stayed in flight over AdmissionTarget), key_queue (the key lookup queue was full)."}, []string{"reason"}),
		inFlightSeconds: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_api_submit_in_flight_seconds",
			Help:    "Time a published submit was in flight: from admission (key lookup included) until Kafka had its commands.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15)}),
		batchHolds: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_api_batch_holds",
			Help:    "Holds per POST /holds/batch.",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000}}),
		keyQuerySeconds: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_api_key_query_seconds",
			Help:    "Time of one shared query of idempotency keys against the read model.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14)}),
		keyQueryKeys: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_api_key_query_keys",
			Help:    "Idempotency keys checked by one shared query.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}}),
		keyWaitSeconds: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_api_key_lookup_seconds",
			Help:    "Time a submit waits for its idempotency keys to be checked (queue and query).",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14)}),
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "ticket_api_commands_in_flight",
		Help: "Commands being published (sent to Kafka, not yet acknowledged), against Config.InFlightMax."},
		func() float64 { return float64(inFlight.n.Load()) })
	// Pre-create the series dashboards query, so they exist before the first event.
	for _, t := range []topics.CommandType{topics.CmdConfigureZone, topics.CmdPlaceHold,
		topics.CmdConfirmHold, topics.CmdReleaseHold} {
		m.published.WithLabelValues(string(t))
		m.publishFailures.WithLabelValues(string(t))
	}
	for _, r := range []string{"in_flight", "latency", "key_queue"} {
		m.overloaded.WithLabelValues(r)
	}
	for _, o := range []string{waitDecided, waitTimeout, waitCanceled, waitFull} {
		m.waitOutcomes.WithLabelValues(o)
	}
	return m
}
