package sink

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

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
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticket_sink_batches_total",
			Help: "Batches committed to Postgres.",
		}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticket_sink_events_applied_total",
			Help: "Events applied to the read model, by event type (other: types the sink does not know, skipped).",
		}, []string{"type"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticket_sink_records_already_applied_total",
			Help: "Records skipped because Postgres already had them (offset below the stored next_offset).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticket_sink_batch_duration_seconds",
			Help:    "Time to write one batch to Postgres, commit included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		size: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ticket_sink_batch_records",
			Help:    "Records in one batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 .. 65536
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ticket_sink_lag_records",
			Help: "Records of the events topic not yet applied, per partition: high watermark minus the sink's position (a transaction marker counts as one).",
		}, []string{"partition"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticket_sink_dead_letters_total",
			Help: "Records sent to the dead-letter topic because they could not be decoded or applied.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ticket_sink_batch_retries_total",
			Help: "Batches retried after Postgres failed them.",
		}),
		lastEventTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ticket_sink_last_event_timestamp_seconds",
			Help: "Processor time of the newest event applied (Unix seconds): how fresh the read model is.",
		}),
	}
	// Series exist from the start, so the first event of a kind shows as an increase.
	for _, t := range topics.OutcomeTypes {
		m.applied.WithLabelValues(string(t))
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.batches, m.applied, m.skipped, m.duration, m.size,
		m.lag, m.deadLetters, m.retries, m.lastEventTime} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func partitionLabel(p int32) string { return strconv.Itoa(int(p)) }
