package topics

import "github.com/google/uuid"

// Payments (docs/adr/0008-payments.md). A priced zone sells its tickets only against
// a payment: the API creates a payment intent at the provider, tells the processor
// with hold.start_payment (which extends the hold once), and the provider's webhook
// becomes a hold.confirm carrying the Payment. Refunds give sold tickets back with
// order.refund.

const (
	// CmdStartPayment records that a payment for an active hold is under way and
	// extends the hold once (StartPayment).
	CmdStartPayment CommandType = "hold.start_payment"
	// CmdRefundOrder gives refunded tickets of an order back on sale (Refund).
	CmdRefundOrder CommandType = "order.refund"
)

const (
	// OutHoldPaymentStarted: a payment for an active hold is under way; the hold's
	// expires_at is the extended one (Hold, Payment).
	OutHoldPaymentStarted OutcomeType = "hold.payment_started"
	// OutPaymentRefundRequired: a payment succeeded for a hold that can no longer
	// become an order (expired, released, confirmed by another payment, unknown);
	// the payment must be refunded. Rejection says why, Payment what to refund;
	// Hold is present when the hold is still remembered.
	OutPaymentRefundRequired OutcomeType = "payment.refund_required"
	// OutOrderRefunded: refunded tickets of an order went back on sale (Refund).
	OutOrderRefunded OutcomeType = "order.refunded"
)

const (
	// ReasonPaymentRequired: a confirm without a payment for a hold in a priced zone.
	ReasonPaymentRequired Reason = "payment_required"
	// ReasonPaymentMismatch: a payment whose amount or currency is not the hold's
	// price, or a second payment for a hold that has one under way.
	ReasonPaymentMismatch Reason = "payment_mismatch"
	// ReasonZoneFree: a payment for a hold in a zone without a price.
	ReasonZoneFree Reason = "zone_free"
	// ReasonRefundOverSold: a refund of more tickets than the zone has sold.
	ReasonRefundOverSold Reason = "refund_over_sold"
)

// Limits of prices and payments.
const (
	// PriceMinorMax bounds a zone's price per ticket, in minor units (cents): with
	// ZoneCapacityMax tickets the amount of a hold stays far below 2^63.
	PriceMinorMax = 100_000_000
	// CurrencyLen is the length of an ISO 4217 currency code, in lower case as
	// Stripe writes it ("eur").
	CurrencyLen = 3
	// PaymentRefBytesMax bounds a provider's payment intent or refund id.
	PaymentRefBytesMax = 255
)

// Payment is a payment at the provider: its intent id, amount in minor units and
// currency.
type Payment struct {
	IntentID string `json:"intent_id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// StartPayment says a payment for the hold is under way at the provider.
type StartPayment struct {
	HoldID  uuid.UUID `json:"hold_id"`
	Payment Payment   `json:"payment"`
}

// Refund gives Quantity tickets of an order back on sale once the provider refunded
// them (RefundID); as a command and, on order.refunded, as the outcome.
type Refund struct {
	OrderID    uuid.UUID `json:"order_id"`
	HoldID     uuid.UUID `json:"hold_id"`
	Quantity   int64     `json:"quantity"`
	CustomerID string    `json:"customer_id,omitempty"`
	RefundID   string    `json:"refund_id"`
	Amount     int64     `json:"amount"`
}

// ValidCurrency reports whether c is a three-letter lower-case currency code.
func ValidCurrency(c string) bool {
	if len(c) != CurrencyLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 'a' || c[i] > 'z' {
			return false
		}
	}
	return true
}
