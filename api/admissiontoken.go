package api

import (
	"github.com/gin-gonic/gin"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// AdmissionTokenHeader carries the admission token of a hold in a zone behind a
// waiting room. It is not Authorization, so that the buyer's own bearer token
// stays the buyer's identity.
const AdmissionTokenHeader = "Admission-Token"

// admitHold checks the admission token of a hold in a zone behind its event's
// waiting room and points the command at the admission: the queue writer (the
// command is then keyed by the event) checks it is live and has allowance left,
// debits it, and forwards the hold to the zone. The buyer is the verified one, or
// the body's customer_id; the token must be theirs and the event's.
func (s *server) admitHold(c *gin.Context, cmd *topics.Command) *Error {
	if s.room == nil {
		return roomUnavailable()
	}
	var declared *string
	if cmd.Place.CustomerID != "" {
		declared = &cmd.Place.CustomerID
	}
	customer, err := s.buyer(c, declared)
	if err != nil {
		return err
	}
	if customer == "" {
		return invalid("missing_field", "a hold in a zone behind a waiting room names its buyer: customer_id (or the buyer's bearer token)")
	}
	token := c.GetHeader(AdmissionTokenHeader)
	if token == "" {
		s.roomMetrics.admissionRejected.WithLabelValues(admissionMissing).Inc()
		e := newError(KindUnauthorized, "admission_required",
			"this event sells through its waiting room: send the admission token of GET /queue/{id} in the Admission-Token header")
		e.Reason = admissionMissing
		return e
	}
	claims, verr := s.room.Verifier.Verify(token, cmd.EventID, customer, s.now())
	if verr != nil {
		reason := string(admittoken.ReasonOf(verr))
		if reason == "" {
			reason = string(admittoken.ReasonMalformed)
		}
		s.roomMetrics.admissionRejected.WithLabelValues(reason).Inc()
		e := newError(KindForbidden, "admission_invalid", "the admission token is not accepted: "+reason)
		e.Reason = reason
		return e
	}
	cmd.Place.CustomerID = claims.CustomerID
	cmd.Place.Admission = &topics.AdmissionRef{QueueID: claims.QueueID}
	return nil
}
