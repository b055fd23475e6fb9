package processor

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	commands       prometheus.Counter
	events         *prometheus.CounterVec
	deadLetters    prometheus.Counter
	txns           prometheus.Counter
	aborts         prometheus.Counter
	txnSeconds     prometheus.Histogram
	restoreSeconds prometheus.Histogram
	partitions     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commands: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "commands_total", Help: "Commands applied and committed."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "events_total", Help: "Events produced (committed or not), by type."}, []string{"type"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "dead_letters_total", Help: "Command records sent to the dead-letter topic."}),
		txns: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "transactions_total", Help: "Transactions committed."}),
		aborts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "transaction_aborts_total", Help: "Transactions aborted (rebalances, errors)."}),
		txnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "transaction_seconds", Help: "Time from begin to end of a transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "restore_seconds", Help: "Time to restore one partition's state from the changelog.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "partitions_owned", Help: "Partitions this instance owns."}),
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.events, m.deadLetters, m.txns, m.aborts, m.txnSeconds, m.restoreSeconds, m.partitions)
	}
	return m
}
