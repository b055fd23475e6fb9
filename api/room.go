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
	// BuyerRateLimit is the sustained joins and holds per second allowed per
	// verified buyer (a token bucket beside the per-IP ones); beyond it 429 with
	// Retry-After. Default 0: no per-buyer limit.
	BuyerRateLimit float64
	// BuyerRateBurst is that bucket's size. Default 10.
	BuyerRateBurst int
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

// BuyerVerifier verifies a buyer's bearer token (*buyer.Verifier).
type BuyerVerifier interface {
	// VerifyHeader returns the customer id (the token's subject) of the bearer
	// token in an Authorization header value. A refusal is a *buyer.Error, whose
	// reason is counted in ticket_api_buyer_rejected_total and shown to the client.
	VerifyHeader(ctx context.Context, authorization string, now time.Time) (string, error)
}

// Defaults of the per-buyer bucket.
const (
	BuyerRateBurstDefault = 10
	buyersMax             = 100_000 // buckets kept in memory, as RateClientsMaxDefault
)

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
	if d.BuyerRateLimit < 0 {
		return nil, errors.New("api: RoomDeps.BuyerRateLimit must not be negative")
	}
	if d.BuyerRateBurst <= 0 {
		d.BuyerRateBurst = BuyerRateBurstDefault
	}
	if d.JoinWait <= 0 {
		d.JoinWait = RoomJoinWaitDefault
	}
	d.JoinWait = min(d.JoinWait, waitMax)
	return &d, nil
}
