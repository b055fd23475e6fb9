package processor

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

type metrics struct {
	commands       prometheus.Counter
	outcomes       *prometheus.CounterVec
	deadLetters    prometheus.Counter
	txns           prometheus.Counter
	aborts         prometheus.Counter
	txnSeconds     prometheus.Histogram
	txnPhase       *prometheus.HistogramVec
	unrestored     prometheus.Gauge
	restoreSeconds prometheus.Histogram
	partitions     prometheus.Gauge
	rejections     *prometheus.CounterVec
	backlog        *prometheus.GaugeVec
	activeHolds    *prometheus.GaugeVec
	keys           *prometheus.GaugeVec
	evictedEarly   *prometheus.GaugeVec
	keysFull       *prometheus.GaugeVec

	resets          prometheus.Counter
	restoreFailures *prometheus.CounterVec
	ticks           prometheus.Counter
	clockSeconds    *prometheus.GaugeVec
	sunkThrough     *prometheus.GaugeVec

	forwarded     *prometheus.CounterVec
	queueWaiting  *prometheus.GaugeVec
	queueAdmitted *prometheus.GaugeVec
	queueSelling  *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commands: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "commands_total", Help: "Commands applied and committed."}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "events_total", Help: "Outcome records produced (committed or not), by type."}, []string{"type"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "dead_letters_total", Help: "Command records sent to the dead-letter topic."}),
		txns: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "transactions_total", Help: "Transactions committed."}),
		aborts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "transaction_aborts_total", Help: "Transactions aborted (rebalances, errors)."}),
		txnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "transaction_seconds", Help: "Time from begin to end of a transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		txnPhase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "transaction_phase_seconds", Help: "Time of each phase of a transaction: apply (decide and produce), flush (wait for the brokers' answers), end (commit offsets and end the transaction).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"phase"}),
		unrestored: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "partitions_unrestored", Help: "Partitions this instance owns whose state is not restored yet: their commands wait (restoring, or retrying a failed restore)."}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "restore_seconds", Help: "Time to restore one partition's state from the changelog.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "partitions_owned", Help: "Partitions this instance owns."}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "rejections_total", Help: "Requests rejected, by reason."}, []string{"reason"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "backlog_records", Help: "Commands waiting in the partition: high watermark minus the next offset to apply."}, []string{"partition"}),
		activeHolds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "active_holds", Help: "Active holds in the partition's state."}, []string{"partition"}),
		keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "idempotency_keys", Help: "Idempotency keys remembered in the partition's state."}, []string{"partition"}),
		evictedEarly: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "evicted_early", Help: "Keys and resolved holds forgotten before their retention because a bound was reached."}, []string{"partition", "kind"}),
		keysFull: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "keys_rejected_full", Help: "Commands with a new idempotency key rejected partition_full since the state was restored: KeysMax reached while the read model lacked the oldest keys."}, []string{"partition"}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "session_resets_total", Help: "Transactional sessions replaced after a failed transaction."}),
		restoreFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "restore_failures_total", Help: "Partition restores that failed and are retried, by reason (error, offset_mismatch)."}, []string{"reason"}),
		ticks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "ticks_total", Help: "Ticks appended to quiet commands partitions to move their clock by the broker's append time."}),
		clockSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "clock_seconds", Help: "The partition clock (broker append time of the newest record applied), Unix seconds."}, []string{"partition"}),
		sunkThrough: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "sunk_through_seconds", Help: "Partition-clock time through which every decision is in the read model, Unix seconds."}, []string{"partition"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "forwarded_commands_total", Help: "Commands one writer produced for another (committed or not), by type: admission holds forwarded to zones, credits and stock notices for waiting rooms."}, []string{"type"}),
		queueWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "queue_waiting", Help: "Buyers waiting in the waiting rooms of the partition's events."}, []string{"partition"}),
		queueAdmitted: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "queue_admitted", Help: "Live admissions (admitted, not expired) in the waiting rooms of the partition's events."}, []string{"partition"}),
		queueSelling: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ticket", Subsystem: "processor",
			Name: "queue_waiting_selling", Help: "Buyers waiting in rooms that should be admitting (enabled, sale started, not sold out)."}, []string{"partition"}),
	}
	for _, t := range []topics.CommandType{topics.CmdPlaceHold, topics.CmdCreditAdmission, topics.CmdZoneStock} {
		m.forwarded.WithLabelValues(string(t))
	}
	for _, r := range []string{"error", "offset_mismatch"} {
		m.restoreFailures.WithLabelValues(r)
	}
	// Series exist from the start, so the first outcome of a kind shows as an increase.
	for _, t := range topics.OutcomeTypes {
		m.outcomes.WithLabelValues(string(t))
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.outcomes, m.deadLetters, m.txns, m.aborts, m.txnSeconds, m.txnPhase, m.unrestored, m.restoreSeconds, m.partitions,
			m.rejections, m.backlog, m.activeHolds, m.keys, m.evictedEarly, m.keysFull,
			m.resets, m.restoreFailures, m.ticks, m.clockSeconds, m.sunkThrough, m.forwarded, m.queueWaiting, m.queueAdmitted, m.queueSelling)
	}
	return m
}

// forget removes the per-partition series of a partition this instance gave up.
func (m *metrics) forget(part int32) {
	label := strconv.Itoa(int(part))
	m.backlog.DeleteLabelValues(label)
	m.activeHolds.DeleteLabelValues(label)
	m.keys.DeleteLabelValues(label)
	m.evictedEarly.DeleteLabelValues(label, "key")
	m.evictedEarly.DeleteLabelValues(label, "resolved_hold")
	m.keysFull.DeleteLabelValues(label)
	m.clockSeconds.DeleteLabelValues(label)
	m.sunkThrough.DeleteLabelValues(label)
	m.queueWaiting.DeleteLabelValues(label)
	m.queueAdmitted.DeleteLabelValues(label)
	m.queueSelling.DeleteLabelValues(label)
}
