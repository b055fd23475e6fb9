package sink

import (
	"testing"
	"time"

	"github.com/google/uuid"

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
