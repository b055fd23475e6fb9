package sink

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/payment"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func TestCollapsePayments(t *testing.T) {
	// Proves a batch's payment outcomes collapse to one payments row per intent in its newest state, the extended hold, the paid order and the refund, and that refund_required records a rejected request.
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	zone, show, hold, order := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	pay := &topics.Payment{IntentID: "pi_1", Amount: 5000, Currency: "eur"}
	inv := topics.Inventory{Capacity: 10, Available: 8, Held: 2}
	h := &topics.Hold{ID: hold, Status: topics.HoldActive, Quantity: 2, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	ext := *h
	ext.ExpiresAt = t0.Add(5 * time.Minute)
	conf := ext
	conf.Status = topics.HoldConfirmed
	base := func(typ topics.OutcomeType, cmd topics.CommandType, at time.Duration) *topics.Outcome {
		return &topics.Outcome{Version: 1, Type: typ, Time: t0.Add(at), EventID: show, ZoneID: zone, RequestID: uuid.New(),
			IdempotencyKey: "k" + string(typ), CommandType: cmd, Zone: inv}
	}
	placed := base(topics.OutHoldPlaced, topics.CmdPlaceHold, 0)
	placed.RequestID, placed.Hold = hold, h
	started := base(topics.OutHoldPaymentStarted, topics.CmdStartPayment, time.Second)
	started.Hold, started.Payment = &ext, pay
	confirmed := base(topics.OutHoldConfirmed, topics.CmdConfirmHold, 2*time.Second)
	confirmed.RequestID, confirmed.Hold, confirmed.Payment = order, &conf, pay
	confirmed.Zone = topics.Inventory{Capacity: 10, Available: 8, Sold: 2}
	confirmed.Order = &topics.Order{ID: order, HoldID: hold, Quantity: 2, CreatedAt: t0}
	refunded := base(topics.OutOrderRefunded, topics.CmdRefundOrder, 3*time.Second)
	refunded.Zone = topics.Inventory{Capacity: 10, Available: 9, Sold: 1}
	refunded.Refund = &topics.Refund{OrderID: order, HoldID: hold, Quantity: 1, RefundID: "re_1", Amount: 2500}
	late := base(topics.OutPaymentRefundRequired, topics.CmdConfirmHold, 4*time.Second)
	late.Payment = &topics.Payment{IntentID: "pi_2", Amount: 2500, Currency: "eur"}
	late.Rejection = &topics.Rejection{Reason: topics.ReasonHoldExpired, Message: "hold expired"}
	events := []*topics.Outcome{placed, started, confirmed, refunded, late}
	for _, e := range events {
		if err := check(e); err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
	}
	p := collapse(events)
	pp := p.pay
	if got := pp.payments; len(got.intent) != 2 || got.status[0] != "succeeded" || got.orderID[0].Bytes != order ||
		got.status[1] != "refund_required" || got.reason[1].String != "hold_expired" {
		t.Fatalf("payments %+v", got)
	}
	if len(pp.extended.id) != 1 || !pp.extended.expires[0].Equal(ext.ExpiresAt) || len(pp.paid.id) != 1 || pp.paid.amount[0] != 5000 {
		t.Fatalf("extended %+v paid %+v", pp.extended, pp.paid)
	}
	if len(pp.refunds.refundID) != 1 || pp.refunds.quantity[0] != 1 {
		t.Fatalf("refunds %+v", pp.refunds)
	}
	for i, id := range p.requests.id {
		if id == [16]byte(late.RequestID) && (p.requests.status[i] != "rejected" || p.requests.typ[i] != string(topics.CmdConfirmHold)) {
			t.Fatalf("refund_required request recorded %s %s", p.requests.status[i], p.requests.typ[i])
		}
	}
	bad := *late
	bad.Payment = nil
	if check(&bad) == nil {
		t.Fatal("payment.refund_required without a payment passed the check")
	}
}

func TestRefundOutboxFinishedWithTheRestock(t *testing.T) {
	// Proves the sink finishes admin refunds of the refund outbox in the transaction that applies the writer's answer: order.refunded (or its replay) marks a refund restocked with the provider's refund id, a rejection (or its replay) refused with the reason, and a row finished keeps its first answer; the outbox's own queries then see nothing left to do but the refusal.
	e := newEnv(t, 1)
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	zone, show := uuid.New(), uuid.New()
	refunds := payment.NewPgRefunds(e.pool)
	rec := func(key string, refundID string) payment.OrderRefund {
		r, err := refunds.Record(ctx, payment.OrderRefund{RequestID: uuid.New(), OrderID: uuid.New(), Key: key, EventID: show,
			ZoneID: zone, HoldID: uuid.New(), IntentID: "pi_" + key, Quantity: 1, Amount: 2500}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if refundID != "" {
			if err := refunds.MarkRefunded(ctx, r.RequestID, refundID, t0); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	restocked, replayed, refused, replayRefused, open := rec("a", "re_a"), rec("b", "re_b"), rec("c", "re_c"), rec("d", "re_d"), rec("e", "")
	inv := topics.Inventory{Capacity: 10, Available: 9, Sold: 1}
	out := func(typ topics.OutcomeType, r payment.OrderRefund, at time.Duration) *topics.Outcome {
		return &topics.Outcome{Version: 1, Type: typ, Time: t0.Add(at), EventID: show, ZoneID: zone, RequestID: r.RequestID,
			IdempotencyKey: payment.RefundCommandKeyPrefix + r.Key, CommandType: topics.CmdRefundOrder, Zone: inv}
	}
	done := out(topics.OutOrderRefunded, restocked, time.Second)
	done.Refund = &topics.Refund{OrderID: restocked.OrderID, HoldID: restocked.HoldID, Quantity: 1, RefundID: "re_a", Amount: 2500}
	again := out(topics.OutRequestReplayed, restocked, 2*time.Second)
	again.Replay = &topics.Replay{OriginalRequestID: restocked.RequestID, OriginalType: topics.OutRequestRejected,
		Rejection: &topics.Rejection{Reason: topics.ReasonRefundOverSold}}
	rep := out(topics.OutRequestReplayed, replayed, 3*time.Second)
	rep.Replay = &topics.Replay{OriginalRequestID: replayed.RequestID, OriginalType: topics.OutOrderRefunded}
	no := out(topics.OutRequestRejected, refused, 4*time.Second)
	no.Rejection = &topics.Rejection{Reason: topics.ReasonRefundOverSold, Message: "refund of more tickets than the zone sold"}
	repNo := out(topics.OutRequestReplayed, replayRefused, 5*time.Second)
	repNo.Replay = &topics.Replay{OriginalRequestID: replayRefused.RequestID, OriginalType: topics.OutRequestRejected,
		Rejection: &topics.Rejection{Reason: topics.ReasonIdempotencyConflict}}
	e.produce(t, []*topics.Outcome{done, again, rep, no, repNo})
	s, _ := e.sink(t, 100)
	stop, _ := run(ctx, s)
	e.caughtUp(t)
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	for _, c := range []struct {
		r              payment.OrderRefund
		status, reason string
	}{
		{restocked, "restocked", ""}, {replayed, "restocked", ""}, {refused, "refused", "refund_over_sold"},
		{replayRefused, "refused", "idempotency_conflict"}, {open, "requested", ""},
	} {
		got, err := refunds.Find(ctx, c.r.OrderID, c.r.Key)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Status) != c.status || got.Reason != c.reason {
			t.Errorf("refund %s: %s %q, want %s %q", c.r.Key, got.Status, got.Reason, c.status, c.reason)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM order_refunds WHERE refund_id = 're_a'`); n != 1 {
		t.Errorf("order_refunds rows of re_a = %d, want 1", n)
	}
	now := t0.Add(time.Hour)
	counts, err := refunds.Unrestocked(ctx, now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if counts[payment.RefundRestockRefused] != 2 || counts[payment.RefundRequested] != 1 || counts[payment.RefundRefunded] != 0 {
		t.Errorf("unrestocked %v, want 2 refused and 1 requested", counts)
	}
	claimed, err := refunds.Claim(ctx, now.Add(-time.Minute), now.Add(-payment.RestockAgeMax), payment.RestockBatchMax, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].RequestID != open.RequestID || claimed[0].Attempts != 1 {
		t.Fatalf("claimed %+v, want the open refund once", claimed)
	}
	if again, err := refunds.Claim(ctx, now.Add(-time.Minute), now.Add(-payment.RestockAgeMax), payment.RestockBatchMax, now); err != nil || len(again) != 0 {
		t.Fatalf("claimed again within the grace period: %+v %v", again, err)
	}
}
