package zone

import (
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Payments (docs/adr/0008-payments.md). A priced zone's hold becomes an order only
// through a confirm that carries a succeeded payment. hold.start_payment records the
// payment under way and extends the hold once; a paid confirm that finds the hold
// gone answers payment.refund_required, so the money goes back; order.refund gives
// refunded tickets back on sale.

// holdPayment is the payment under way for a hold.
type holdPayment struct {
	intentID   string
	amount     int64
	extendedAt int64  // unix ns; 0 when the start did not move expires_at
	extendSeq  uint64 // s.seq at the extension: the extension queue's order
}

// configurePrice applies a configure's price fields to next, or says why not.
func configurePrice(next *zone, c *topics.ConfigureZone) string {
	if c.Currency != "" {
		if !topics.ValidCurrency(c.Currency) {
			return "currency must be a three-letter lower-case ISO 4217 code"
		}
		next.currency = c.Currency
	}
	if c.PriceMinor != nil {
		if *c.PriceMinor < 0 || *c.PriceMinor > topics.PriceMinorMax {
			return "price_minor out of range"
		}
		next.priceMinor = *c.PriceMinor
	}
	if next.priceMinor > 0 && next.currency == "" {
		return "a price needs a currency"
	}
	return ""
}

// amountOf is what a hold costs in its zone now.
func amountOf(h *hold) int64 { return h.qty * h.zone.priceMinor }

// queueKey is the key of the expiry queue a hold belongs in: its TTL, or for a hold
// extended by a payment the negated extension, so that each queue stays sorted by
// expires_at (extensions are pushed in clock order).
func (h *hold) queueKey() time.Duration {
	if p := h.payment; p != nil && p.extendedAt != 0 {
		return -time.Duration(h.expiresAt - p.extendedAt)
	}
	return time.Duration(h.expiresAt - h.createdAt)
}

// startPayment records a payment under way for an active hold of a priced zone and
// extends the hold, once. The same intent again changes nothing and answers the
// same; another intent is a mismatch: the provider's idempotency key (the hold id)
// makes one intent per hold.
func (s *State) startPayment(cmd *topics.Command) decision {
	sp := cmd.StartPayment
	h, o, ok := s.resolvable(cmd.ZoneID, sp.HoldID)
	if !ok {
		return o
	}
	z := h.zone
	p := &sp.Payment
	switch {
	case z.priceMinor == 0:
		return rejected(z, topics.ReasonZoneFree, "the zone is free: confirm the hold without payment")
	case !validRef(p.IntentID):
		return rejected(z, topics.ReasonInvalidCommand, "payment intent id missing or too long")
	case p.Currency != z.currency || p.Amount != amountOf(h):
		return rejected(z, topics.ReasonPaymentMismatch, "payment amount or currency is not the hold's price")
	case h.payment != nil && h.payment.intentID != p.IntentID:
		return rejected(z, topics.ReasonPaymentMismatch, "another payment is under way for this hold")
	}
	if h.payment == nil {
		h.payment = &holdPayment{intentID: p.IntentID, amount: p.Amount}
		if until := s.clock + int64(s.cfg.PaymentExtension); until > h.expiresAt {
			h.queue.live--
			h.queue = nil
			s.seq++
			h.expiresAt = until
			h.payment.extendedAt, h.payment.extendSeq = s.clock, s.seq
			s.enqueueExpiry(h)
		}
		s.markHold(h)
	}
	return decision{typ: topics.OutHoldPaymentStarted, zone: z, hold: h}
}

func validRef(ref string) bool { return ref != "" && len(ref) <= topics.PaymentRefBytesMax }

// confirmPaid turns an active hold into an order against a succeeded payment. When
// the hold cannot become an order (gone, expired, released, confirmed already, or
// the payment is not the hold's), the money was taken for nothing: the answer is
// payment.refund_required with the reason, never a silent rejection.
func (s *State) confirmPaid(cmd *topics.Command) decision {
	p := cmd.Confirm.Payment
	z := s.zones[cmd.ZoneID]
	if !validRef(p.IntentID) || p.Amount <= 0 || !topics.ValidCurrency(p.Currency) {
		return rejected(z, topics.ReasonInvalidCommand, "payment needs an intent id, an amount > 0 and a currency")
	}
	h, o, ok := s.resolvable(cmd.ZoneID, cmd.Confirm.HoldID)
	if !ok {
		return refundRequired(o, s.hold(cmd.Confirm.HoldID))
	}
	want := amountOf(h)
	if h.payment != nil {
		want = h.payment.amount
	}
	if (h.payment != nil && h.payment.intentID != p.IntentID) || p.Amount != want || p.Currency != h.zone.currency {
		o := rejected(h.zone, topics.ReasonPaymentMismatch, "payment is not the one for this hold")
		return refundRequired(o, h)
	}
	h.orderID = cmd.RequestID
	s.resolve(h, statusConfirmed)
	return decision{typ: topics.OutHoldConfirmed, zone: h.zone, hold: h}
}

// refundRequired turns a rejection of a paid confirm into payment.refund_required,
// naming the hold when it is still remembered in the rejection's zone.
func refundRequired(o decision, h *hold) decision {
	o.typ = topics.OutPaymentRefundRequired
	if h != nil && h.zone == o.zone {
		o.hold = h
	}
	return o
}

// refund gives refunded tickets back on sale: sold -> available. The processor does
// not keep orders (the read model does; the API checks the order's quantity left),
// so it bounds a refund by what the zone has sold, and the provider bounds it by
// what was paid. The tickets come off the ordering customer's count (the confirmed
// hold's customer while the hold is remembered, else the command's), so that the
// customer may buy again; tickets no customer ordered can only come from those
// sold without one, which keeps every customer's count within what is sold.
func (s *State) refund(cmd *topics.Command) decision {
	r := cmd.Refund
	z := s.zones[cmd.ZoneID]
	switch {
	case z == nil:
		return rejected(nil, topics.ReasonZoneNotFound, "zone not found")
	case r.Quantity < 1 || !validRef(r.RefundID) || len(r.CustomerID) > topics.TextBytesMax || r.Amount < 0:
		return rejected(z, topics.ReasonInvalidCommand, "refund needs quantity >= 1 and a refund id")
	case r.Quantity > z.sold:
		return rejected(z, topics.ReasonRefundOverSold, "refund of more tickets than the zone sold")
	}
	customer := r.CustomerID
	if h := s.hold(r.HoldID); h != nil && h.zone == z && h.status == statusConfirmed {
		customer = h.customer
	}
	var fromCustomer int64
	if customer != "" {
		fromCustomer = min(z.customers[customer].ordered, r.Quantity)
	}
	if r.Quantity-fromCustomer > z.sold-z.ordered {
		return rejected(z, topics.ReasonRefundOverSold, "refund of more tickets than the customer and the zone's other sales hold")
	}
	z.sold -= r.Quantity
	if fromCustomer > 0 {
		s.unorder(z, customer, fromCustomer)
	}
	s.markZone(z)
	return decision{typ: topics.OutOrderRefunded, zone: z}
}

// unorder takes n refunded tickets off a customer's ordered count.
func (s *State) unorder(z *zone, customer string, n int64) {
	ct := z.customers[customer]
	ct.ordered -= n
	z.ordered -= n
	if !ct.dirty {
		ct.dirty = true
		s.changes.customers = append(s.changes.customers, customerRef{zone: z, customer: customer})
	}
	if ct.active == 0 && ct.ordered == 0 {
		delete(z.customers, customer)
	} else {
		z.customers[customer] = ct
	}
}

// paymentView is the payment under way for a hold, for its hold.expired outcome (the
// payments worker cancels the intent), or nil.
func (h *hold) paymentView() *topics.Payment {
	if h.payment == nil {
		return nil
	}
	return &topics.Payment{IntentID: h.payment.intentID, Amount: h.payment.amount, Currency: h.zone.currency}
}

// paymentOutcome fills the payment outcomes' fields.
func (s *State) paymentOutcome(ev *topics.Outcome, cmd *topics.Command, o *decision) {
	switch o.typ {
	case topics.OutHoldPaymentStarted:
		ev.Hold = s.holdView(o.hold)
		ev.Payment = o.hold.paymentView()
	case topics.OutPaymentRefundRequired:
		ev.Rejection = &topics.Rejection{Reason: o.reason, Message: o.message}
		ev.Payment = new(*cmd.Confirm.Payment)
		if o.hold != nil {
			ev.Hold = s.holdView(o.hold)
		}
	case topics.OutOrderRefunded:
		ev.Refund = new(*cmd.Refund)
	}
}
