package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Worker acts at the provider on what the single writer decided, read from the
// events topic: it refunds a payment.refund_required (the buyer paid for a hold
// that expired meanwhile) and cancels the intent of a hold that expired with its
// payment under way. Each call carries an idempotency key derived from the intent,
// so a redelivered outcome (the worker commits its offsets after acting) acts once
// at the provider.
type Worker struct {
	provider Provider
}

// NewWorker returns a worker acting on provider.
func NewWorker(p Provider) *Worker { return &Worker{provider: p} }

// Action is what the worker did for one outcome.
type Action string

const (
	// ActionNone: the outcome asks nothing of the provider.
	ActionNone Action = ""
	// ActionRefunded: a payment that bought nothing was refunded.
	ActionRefunded Action = "refunded"
	// ActionCanceled: the intent of an expired hold was cancelled.
	ActionCanceled Action = "canceled"
	// ActionPaidMeanwhile: the expired hold's intent succeeded before it could be
	// cancelled; its webhook's confirm answers payment.refund_required.
	ActionPaidMeanwhile Action = "paid_meanwhile"
	// ActionRefused: the provider refused for good (ErrRefused); recorded by the
	// consumer, reported by reconciliation.
	ActionRefused Action = "refused"
)

// Handle acts on one outcome. An error is an operating condition (the provider is
// unreachable): the caller retries the same outcome.
func (w *Worker) Handle(ctx context.Context, e *topics.Outcome) (Action, error) {
	switch {
	case e.Type == topics.OutPaymentRefundRequired && e.Payment != nil:
		req := RefundRequest{IntentID: e.Payment.IntentID, Amount: e.Payment.Amount, IdempotencyKey: RefundKey(e.Payment.IntentID)}
		if e.Rejection != nil {
			req.Reason = string(e.Rejection.Reason)
		}
		_, err := w.provider.Refund(ctx, req)
		if err != nil {
			return ActionNone, fmt.Errorf("payment: worker: refund %s: %w", e.Payment.IntentID, err)
		}
		return ActionRefunded, nil
	case e.Type == topics.OutHoldExpired && e.Payment != nil:
		err := w.provider.CancelIntent(ctx, e.Payment.IntentID, CancelKey(e.Payment.IntentID))
		if errors.Is(err, ErrIntentSucceeded) {
			return ActionPaidMeanwhile, nil
		}
		if err != nil {
			return ActionNone, fmt.Errorf("payment: worker: cancel %s: %w", e.Payment.IntentID, err)
		}
		return ActionCanceled, nil
	}
	return ActionNone, nil
}
