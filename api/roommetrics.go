package api

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
)

// roomMetrics are the waiting room's collectors in the API. Joins and admissions
// per second, queue length and waits are the sink's (it sees every queue
// outcome); these count what only the API sees.
type roomMetrics struct {
	joins             *prometheus.CounterVec
	answers           *prometheus.CounterVec
	admissionRejected *prometheus.CounterVec
	tokensIssued      prometheus.Counter
	challenges        prometheus.Counter
	challengeRejected *prometheus.CounterVec
	challengeSolve    prometheus.Histogram
	buyerRejected     *prometheus.CounterVec
	watchers          prometheus.Gauge
	watchPolls        prometheus.Counter
}

// Outcomes of a join, as counted in ticket_api_queue_joins_total.
const (
	joinJoined   = "joined"
	joinReplayed = "replayed"
	joinRejected = "rejected"
	joinPending  = "pending"
)

// Reasons of ticket_api_admission_rejected_total beyond the token's own.
const admissionMissing = "missing"

func newRoomMetrics(reg prometheus.Registerer) *roomMetrics {
	f := promauto.With(reg)
	m := &roomMetrics{
		joins: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_queue_joins_total",
			Help: "POST /events/{id}/queue answered, by outcome: joined, replayed (the buyer's place already), rejected, pending (not decided within the join's wait)."}, []string{"outcome"}),
		answers: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_queue_answers_total",
			Help: "Queue places told to buyers (joins, GET /queue/{id}, stream events), by status: pending, waiting, admitted, sold_out (a sold-out notice), admission_expired."}, []string{"status"}),
		admissionRejected: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_admission_rejected_total",
			Help: "Holds in a waiting room's zone refused for their Admission-Token, by reason: missing, malformed, forged, expired, wrong_event, wrong_buyer."}, []string{"reason"}),
		tokensIssued: f.NewCounter(prometheus.CounterOpts{Name: "ticket_api_admission_tokens_issued_total",
			Help: "Admission tokens signed for admitted buyers."}),
		challenges: f.NewCounter(prometheus.CounterOpts{Name: "ticket_api_challenges_issued_total",
			Help: "Proof-of-work challenges issued (GET /events/{id}/challenge)."}),
		challengeRejected: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_challenge_rejected_total",
			Help: "Joins refused for their proof of work, by reason: missing, malformed, forged, expired, wrong_event, insufficient_work, replayed."}, []string{"reason"}),
		challengeSolve: f.NewHistogram(prometheus.HistogramOpts{Name: "ticket_api_challenge_solve_seconds",
			Help:    "Time from a challenge's issue to the join that solved it.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}), // 50ms .. 102s
		buyerRejected: f.NewCounterVec(prometheus.CounterOpts{Name: "ticket_api_buyer_rejected_total",
			Help: "Requests refused for the buyer's bearer token, by reason: missing, malformed, invalid, expired, wrong_issuer, wrong_audience, unknown_key, mismatch (a body customer_id that is not the token's)."}, []string{"reason"}),
		watchers: f.NewGauge(prometheus.GaugeOpts{Name: "ticket_api_queue_watchers",
			Help: "GET /queue/{id} long polls and streams following their place."}),
		watchPolls: f.NewCounter(prometheus.CounterOpts{Name: "ticket_api_queue_watch_polls_total",
			Help: "Queries of the read model by the shared queue poller."}),
	}
	// Series exist from the start, so dashboards show zeros before the first.
	for _, o := range []string{joinJoined, joinReplayed, joinRejected, joinPending} {
		m.joins.WithLabelValues(o)
	}
	for _, s := range []string{queuePending, queueWaiting, queueAdmitted, queueSoldOut, queueAdmissionExpired} {
		m.answers.WithLabelValues(s)
	}
	for _, r := range []admittoken.Reason{admissionMissing, admittoken.ReasonMalformed, admittoken.ReasonForged,
		admittoken.ReasonExpired, admittoken.ReasonWrongEvent, admittoken.ReasonWrongBuyer} {
		m.admissionRejected.WithLabelValues(string(r))
	}
	for _, r := range []pow.Reason{"missing", pow.ReasonMalformed, pow.ReasonForged, pow.ReasonExpired,
		pow.ReasonWrongEvent, pow.ReasonInsufficientWork, pow.ReasonReplayed} {
		m.challengeRejected.WithLabelValues(string(r))
	}
	for _, r := range []string{"missing", "malformed", "invalid", "expired", "wrong_issuer", "wrong_audience",
		"unknown_key", "mismatch"} {
		m.buyerRejected.WithLabelValues(r)
	}
	return m
}
