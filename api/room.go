package api

import (
	"context"
	"errors"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
)

// Defaults of RoomDeps.
const (
	RoomPollIntervalDefault = 250 * time.Millisecond
	RoomWatchersMaxDefault  = 10_000
	RoomJoinWaitDefault     = 5 * time.Second
)

// RoomDeps are the waiting room's collaborators. Without them (Deps.Room nil) the
// queue routes answer 503 and a hold in a zone behind a waiting room cannot be
// placed.
type RoomDeps struct {
	// Signer signs the admission tokens GET /queue/{id} hands out. Required.
	Signer *admittoken.Signer
	// Verifier checks the Admission-Token of holds. Default: Signer's key alone;
	// give one with the previous keys too while rotating.
	Verifier *admittoken.Verifier
	// PoW issues and checks the proof-of-work challenges of joins. nil: joins
	// need no challenge.
	PoW *pow.Issuer
	// Buyers verifies the buyer's bearer token (the platform's identity
	// provider): the customer id comes from it, never from the body. nil: the
	// buyer is self-declared by customer_id (development only).
	Buyers BuyerVerifier
	// BuyerLimit, when set, is asked before a join or a hold of a verified buyer:
	// false answers 429 with Retry-After (the per-buyer token bucket).
	BuyerLimit func(customerID string, now time.Time) (ok bool, retryAfter time.Duration)
	// Reads answers the room's reads. Default: Deps.Reads, which must then
	// implement QueueReadModel.
	Reads QueueReadModel
	// PollInterval is the pause between two queries of the shared poller that
	// wakes GET /queue/{id} long polls and streams. Default 250ms.
	PollInterval time.Duration
	// WatchersMax bounds the long polls and streams waiting at once; beyond it a
	// long poll answers at once and a stream answers 503. Default 10000.
	WatchersMax int
	// JoinWait is how long a join waits for its place before answering 202.
	// Default 5s (at most Config.WaitMax).
	JoinWait time.Duration
}

// BuyerVerifier verifies a buyer's bearer token.
type BuyerVerifier interface {
	// Customer returns the customer id (the token's subject) of the bearer token
	// in an Authorization header value. A refusal is a *BuyerError.
	Customer(ctx context.Context, authorization string, now time.Time) (string, error)
}

// BuyerError is a refused buyer token, with the reason counted in
// ticket_api_buyer_rejected_total and shown to the client (missing, malformed,
// invalid, expired, wrong_issuer, wrong_audience, unknown_key).
type BuyerError struct {
	Reason string
	Err    error
}

func (e *BuyerError) Error() string { return "buyer token " + e.Reason + ": " + e.Err.Error() }

// Unwrap gives the detail.
func (e *BuyerError) Unwrap() error { return e.Err }

// withDefaults checks the room's deps and fills their defaults; reads is
// Deps.Reads.
func (r *RoomDeps) withDefaults(reads ReadModel, waitMax time.Duration) (*RoomDeps, error) {
	if r == nil {
		return nil, nil
	}
	d := *r
	if d.Signer == nil {
		return nil, errors.New("api: RoomDeps.Signer is required")
	}
	if d.Verifier == nil {
		d.Verifier = d.Signer.Verifier()
	}
	if d.Reads == nil {
		q, ok := reads.(QueueReadModel)
		if !ok {
			return nil, errors.New("api: RoomDeps.Reads is required when Deps.Reads is not a QueueReadModel")
		}
		d.Reads = q
	}
	if d.PollInterval <= 0 {
		d.PollInterval = RoomPollIntervalDefault
	}
	if d.WatchersMax <= 0 {
		d.WatchersMax = RoomWatchersMaxDefault
	}
	if d.JoinWait <= 0 {
		d.JoinWait = RoomJoinWaitDefault
	}
	d.JoinWait = min(d.JoinWait, waitMax)
	return &d, nil
}
