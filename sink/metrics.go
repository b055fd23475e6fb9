package sink

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// metrics are the sink's Prometheus collectors.
type metrics struct {
	batches       prometheus.Counter
	applied       *prometheus.CounterVec
	skipped       prometheus.Counter
	duration      prometheus.Histogram
	size          prometheus.Histogram
	lag           *prometheus.GaugeVec
	deadLetters   prometheus.Counter
	retries       prometheus.Counter
	lastEventTime prometheus.Gauge
	queueWait     prometheus.Histogram
	queueWaiting  prometheus.Gauge
}

// newMetrics builds the sink's collectors and registers them all on reg (none when
// reg is nil). Registering a collector twice is a programmer error and panics.
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		batches: f.NewCounter(prometheus.CounterOpts{Name: "ticket_sink_batches_total",
			Help: "Batches committed to Postgres."}),
		applied: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_sink_events_applied_total",
			Help: "Events applied to the read model, by event type (other: types the sink does not know, skipped)."}, []string{"type"}),
		skipped: f.NewCounter(prometheus.CounterOpts{Name: "ticket_sink_records_already_applied_total",
			Help: "Records skipped because Postgres already had them (offset below the stored next_offset)."}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_sink_batch_duration_seconds",
			Help:    "Time to write one batch to Postgres, commit included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		size: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_sink_batch_records",
			Help:    "Records in one batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}), // 1 .. 65536
		lag: f.NewGaugeVec(prometheus.GaugeOpts{Name: "ticket_sink_lag_records",
			Help: "Records of the events topic not yet applied, per partition: high watermark minus the sink's position (a transaction marker counts as one)."}, []string{"partition"}),
		deadLetters: f.NewCounter(prometheus.CounterOpts{Name: "ticket_sink_dead_letters_total",
			Help: "Records sent to the dead-letter topic because they could not be decoded or applied."}),
		retries: f.NewCounter(prometheus.CounterOpts{Name: "ticket_sink_batch_retries_total",
			Help: "Batches retried after Postgres failed them."}),
		lastEventTime: f.NewGauge(prometheus.GaugeOpts{Name: "ticket_sink_last_event_timestamp_seconds",
			Help: "Processor time of the newest event applied (Unix seconds): how fresh the read model is."}),
		queueWait: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_sink_queue_wait_seconds",
			Help:    "Waiting-room wait of each admission applied: from joining to being admitted (processor time).",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 16)}), // 0.25 s .. 2.3 h
		queueWaiting: f.NewGauge(prometheus.GaugeOpts{Name: "ticket_sink_queue_waiting",
			Help: "Buyers waiting in the waiting rooms, summed over rooms, as the newest queue progress applied says."}),
	}
	// Series exist from the start, so the first event of a kind shows as an increase.
	for _, t := range topics.OutcomeTypes {
		m.applied.WithLabelValues(string(t))
	}
	return m
}

func partitionLabel(p int32) string { return strconv.Itoa(int(p)) }
