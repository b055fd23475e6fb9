package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ultimate-ticket/ultimate-ticket/ingest"
	"github.com/ultimate-ticket/ultimate-ticket/payment"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// fixMissingOrders publishes, for each payment without an order, the confirm its
// webhook would have published: the same request id and idempotency key, so a late
// webhook and the fix are one command.
func fixMissingOrders(ctx context.Context, cfg Config, log *slog.Logger, found []payment.Difference) error {
	var cmds []*topics.Command
	for _, d := range found {
		if d.Kind != payment.DiffMissingOrder || d.Intent == nil {
			continue
		}
		if cmd := payment.ConfirmCommand(*d.Intent, time.Now()); cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	prod, err := ingest.New(cfg.ingestConfig(), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer prod.Close()
	for i, err := range prod.PublishAll(ctx, cmds) {
		if err != nil {
			return fmt.Errorf("reconcile: publish confirm of %s: %w", cmds[i].Confirm.Payment.IntentID, err)
		}
		log.Info("reconcile: confirm sent", "intent", cmds[i].Confirm.Payment.IntentID, "request_id", cmds[i].RequestID)
	}
	return nil
}
