package api

import (
	"math"
	"time"

	"github.com/google/uuid"
)

// Statuses GET /queue/{id} answers. Pending: the join is not in the read model
// yet.
const (
	queuePending          = "pending"
	queueWaiting          = "waiting"
	queueAdmitted         = "admitted"
	queueSoldOut          = "sold_out"
	queueAdmissionExpired = "admission_expired"
)

// queueJSON is a buyer's place in a waiting room: POST /events/{id}/queue and GET
// /queue/{id}.
type queueJSON struct {
	QueueID    uuid.UUID `json:"queue_id"`
	EventID    uuid.UUID `json:"event_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	Status     string    `json:"status"`
	// Position is null while the buyer is in the pre-queue (shuffled at the start).
	Position *int64 `json:"position"`
	// Ahead is position − admitted_through: the admissions still to come before
	// the buyer's, the buyer's own included.
	Ahead *int64 `json:"ahead,omitempty"`
	// EstimatedWaitSeconds is ahead / rate, null when unknown.
	EstimatedWaitSeconds *float64   `json:"estimated_wait_seconds"`
	StartsAt             *time.Time `json:"starts_at,omitempty"`
	AdmissionToken       string     `json:"admission_token,omitempty"`
	AdmissionExpiresAt   *time.Time `json:"admission_expires_at,omitempty"`
	Allowance            int64      `json:"allowance,omitempty"`
	Replayed             bool       `json:"replayed,omitempty"`
}

// queueState is what a long poll compares: it answers once this changes.
type queueState struct {
	status string
	ahead  int64
}

func (j *queueJSON) state() queueState {
	s := queueState{status: j.Status, ahead: -1}
	if j.Ahead != nil {
		s.ahead = *j.Ahead
	}
	return s
}

// terminal reports whether the answer can change no more.
func (j *queueJSON) terminal() bool { return j.Status == queueAdmissionExpired }

// viewJSON computes a buyer's answer from the read model at now (without the
// admission token, which the handler signs): an admission whose window closed on
// the API's clock is expired even before the queue writer says so, and a room
// sold out tells every waiting buyer.
func viewJSON(v *QueueView, now time.Time) queueJSON {
	e, r := &v.Entry, &v.Room
	j := queueJSON{QueueID: e.QueueID, EventID: e.EventID, CustomerID: e.CustomerID, Status: e.Status}
	if e.Position > 0 {
		p := e.Position
		j.Position = &p
	}
	switch {
	case e.Status == queueAdmitted && e.ExpiresAt != nil && !now.Before(*e.ExpiresAt):
		j.Status = queueAdmissionExpired
	case e.Status == queueAdmitted:
		t := e.ExpiresAt.UTC()
		j.AdmissionExpiresAt, j.Allowance = &t, e.Allowance
	case e.Status == queueWaiting && r.SoldOut:
		j.Status = queueSoldOut
	case e.Status == queueWaiting:
		waitingJSON(&j, v, now)
	}
	return j
}

// waitingJSON fills the place and estimate of a waiting buyer: ahead = position −
// admitted_through, estimate = ahead / rate (the rate in effect, else the
// configured one); in the pre-queue, the time until the start.
func waitingJSON(j *queueJSON, v *QueueView, now time.Time) {
	e, r := &v.Entry, &v.Room
	if e.Position == 0 {
		starts := r.StartsAt.UTC()
		j.StartsAt = &starts
		if d := r.StartsAt.Sub(now).Seconds(); d > 0 {
			j.EstimatedWaitSeconds = &d
		}
		return
	}
	ahead := max(0, e.Position-r.AdmittedThrough)
	j.Ahead = &ahead
	rate := r.CurrentRate
	if rate <= 0 {
		rate = r.RatePerSecond
	}
	if rate > 0 {
		est := math.Ceil(float64(ahead)/rate*10) / 10
		j.EstimatedWaitSeconds = &est
	}
}
